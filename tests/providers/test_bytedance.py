"""ByteDance: the Volcano visual API (signed; sync and submit/poll) and Ark Seedream, against the fakes."""
from __future__ import annotations

from dataclasses import replace

import pytest

from core import providers
from core.errors import RequestError
from core.providers import ProviderError
from core.providers.bytedance import volc_sign
from tests.fakes.bytedance_fake import expected_signature


# ---- the signer --------------------------------------------------------------------------------------
def test_signer_reference_vector():
    """shared/reference/image-apis.md: checked against the SDK's signer."""
    headers = volc_sign(access_key="AKTESTEXAMPLE", secret_key="SKTESTEXAMPLE", method="POST",
                        url="http://127.0.0.1:8080/?Action=CVProcess&Version=2022-08-31",
                        body=b'{"req_key": "high_aes_general_v21_L", "prompt": "a cat"}', x_date="20250101T000000Z")
    assert headers["Authorization"] == (
        "HMAC-SHA256 Credential=AKTESTEXAMPLE/20250101/cn-north-1/cv/request, "
        "SignedHeaders=content-type;host;x-content-sha256;x-date, "
        "Signature=6964a463caed68bd125e1b2ce408db9396e8b3912f8bbb7f1dcb1185fe5bf23f")
    assert headers["Host"] == "127.0.0.1:8080" and headers["X-Date"] == "20250101T000000Z"


def test_fake_verifier_agrees_on_the_vector():
    body = b'{"req_key": "high_aes_general_v21_L", "prompt": "a cat"}'
    import hashlib

    sig = expected_signature(secret_key="SKTESTEXAMPLE", method="POST", path="/",
                             raw_query="Action=CVProcess&Version=2022-08-31",
                             headers={"content-type": "application/json", "host": "127.0.0.1:8080",
                                      "x-content-sha256": hashlib.sha256(body).hexdigest(),
                                      "x-date": "20250101T000000Z"},
                             signed_headers=["content-type", "host", "x-content-sha256", "x-date"],
                             x_date="20250101T000000Z", body=body)
    assert sig == "6964a463caed68bd125e1b2ce408db9396e8b3912f8bbb7f1dcb1185fe5bf23f"


def test_default_ports_are_dropped_from_host():
    for url, host in (("https://visual.volcengineapi.com:443/?Action=A", "visual.volcengineapi.com"),
                      ("http://h.example:80/?Action=A", "h.example"), ("http://h.example:8080/", "h.example:8080")):
        assert volc_sign(access_key="a", secret_key="s", method="POST", url=url, body=b"{}")["Host"] == host


# ---- Volcano visual API --------------------------------------------------------------------------------
def test_general_21_sync_signed_and_sized(volc_fake, volc_settings, make_request):
    spec, req = make_request("volc-general-2.1", width=1024, height=1024, steps=30, guidance=4.0)
    result = providers.generate(spec, req, settings=volc_settings)
    seen = volc_fake.api_requests()[0]
    assert seen.query == {"Action": "CVProcess", "Version": "2022-08-31"}
    assert seen.notes["signature_ok"] and seen.notes["access_key"] == volc_fake.access_key
    body = seen.json
    assert (body["req_key"], body["width"], body["height"]) == ("high_aes_general_v21_L", 768, 768)
    assert (body["ddim_steps"], body["scale"], body["seed"]) == (30, 4.0, 7)
    assert result.images[0].size == (768, 768) and result.sent_params["width"] == 768
    assert "prompt" not in result.sent_params
    assert result.request_id and result.cost_usd == pytest.approx(0.028)


def test_wrong_secret_fails_the_signature_check(volc_fake, make_settings, make_request):
    settings = make_settings(VOLC_ACCESSKEY=volc_fake.access_key, VOLC_SECRETKEY="not-the-secret-key-123",
                             VOLC_BASE_URL=volc_fake.base_url)
    spec, req = make_request("volc-general-2.1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert (e.value.kind, e.value.status, e.value.code) == ("auth", 401, "SignatureDoesNotMatch")
    assert e.value.request_id  # ResponseMetadata.RequestId
    assert "not-the-secret-key-123" not in str(e.value)


def test_jimeng_async_submit_then_poll(volc_fake, volc_settings, make_request, sleeps):
    volc_fake.polls_to_finish = 3
    spec, req = make_request("jimeng-3.0", width=2500, height=1250)
    result = providers.generate(spec, req, settings=volc_settings)
    actions = [r.query["Action"] for r in volc_fake.api_requests()]
    assert actions == ["CVSync2AsyncSubmitTask"] + ["CVSync2AsyncGetResult"] * 3
    assert all(r.notes.get("signature_ok") for r in volc_fake.api_requests())  # each request signed afresh
    poll = volc_fake.api_requests()[1].json
    assert poll["task_id"] == result.task_id and poll["req_key"] == "jimeng_t2i_v30"
    assert isinstance(poll["req_json"], str)
    assert result.images[0].size == (2048, 1024)  # 2:1 kept inside 512-2048
    assert sleeps == [0.01, 0.01] and result.attempts == 1


def test_jimeng_images_by_url(volc_fake, volc_settings, make_request):
    spec, req = make_request("jimeng-3.0", extra={"return_url": True})
    result = providers.generate(spec, req, settings=volc_settings)
    assert result.images[0].size == (1328, 1328)
    assert any(r.path.startswith("/files/") for r in volc_fake.requests)


def test_task_that_never_finishes_hits_the_deadline(volc_fake, make_settings, make_request, monkeypatch):
    settings = make_settings(VOLC_ACCESSKEY=volc_fake.access_key, VOLC_SECRETKEY=volc_fake.secret_key,
                             VOLC_BASE_URL=volc_fake.base_url, api_deadline_s=0.5, api_poll_interval_s=0.05)
    volc_fake.task_mode = "never"
    spec, req = make_request("jimeng-3.0")
    import time

    from core.providers import base

    monkeypatch.setattr(base, "_sleep", time.sleep)  # real waits: the deadline must pass
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout" and "generating" in e.value.message and "deadline" in e.value.message


@pytest.mark.parametrize("mode,kind", [("fail", "safety"), ("expired", "server")])
def test_task_that_fails(volc_fake, volc_settings, make_request, mode, kind):
    volc_fake.task_mode = mode
    spec, req = make_request("jimeng-3.0")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=volc_settings)
    assert e.value.kind == kind
    if mode == "fail":
        assert e.value.code == 50511 and "Risk" in e.value.message


@pytest.mark.parametrize("scenario", ["rate_limit", "concurrency"])
def test_rate_limits_are_retried(volc_fake, volc_settings, make_request, scenario, sleeps):
    volc_fake.scenarios.extend([scenario, "ok"])
    spec, req = make_request("volc-general-2.1")
    result = providers.generate(spec, req, settings=volc_settings)
    assert result.attempts == 2 and sleeps == [1.0]
    assert all(r.notes.get("signature_ok") for r in volc_fake.api_requests())


def test_poll_429_is_retried_too(volc_fake, volc_settings, make_request):
    volc_fake.scenarios.extend(["ok", "rate_limit", "ok", "ok"])
    spec, req = make_request("jimeng-3.0")
    result = providers.generate(spec, req, settings=volc_settings)
    assert len(result.images) == 1


@pytest.mark.parametrize("scenario,kind,code", [("safety", "safety", 50412), ("server_error", "server", 50500),
                                                ("unauthorized", "auth", "InvalidAccessKey"),
                                                ("malformed", "malformed", None)])
def test_errors(volc_fake, make_settings, make_request, scenario, kind, code):
    settings = make_settings(VOLC_ACCESSKEY=volc_fake.access_key, VOLC_SECRETKEY=volc_fake.secret_key,
                             VOLC_BASE_URL=volc_fake.base_url, api_max_retries=1)
    volc_fake.scenarios.extend([scenario] * 2)
    spec, req = make_request("volc-general-2.1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == kind and e.value.code == code


def test_timeout(volc_fake, make_settings, make_request):
    settings = make_settings(VOLC_ACCESSKEY=volc_fake.access_key, VOLC_SECRETKEY=volc_fake.secret_key,
                             VOLC_BASE_URL=volc_fake.base_url, api_timeout_s=0.3, api_max_retries=0)
    volc_fake.scenarios.append("slow")
    spec, req = make_request("volc-general-2.1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout"


def test_volc_checks(make_request):
    spec, req = make_request("volc-general-2.1")
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, steps=80))
    assert e.value.field == "steps"
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, guidance=12.0))
    assert e.value.field == "guidance"
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, extra={"use_sr": "yes"}))
    assert e.value.field == "extra.use_sr"


# ---- Ark Seedream --------------------------------------------------------------------------------------
def test_seedream_3_extra_body(ark_fake, ark_settings, make_request):
    spec, req = make_request("seedream-3", width=3000, height=1500, guidance=3.0)
    result = providers.generate(spec, req, settings=ark_settings)
    seen = ark_fake.api_requests()[0]
    assert seen.headers["authorization"] == f"Bearer {ark_fake.api_key}"
    assert seen.json == {"model": "doubao-seedream-3-0-t2i-250415", "prompt": req.prompt, "size": "2048x1024",
                         "response_format": "b64_json", "watermark": False, "seed": 7, "guidance_scale": 3.0}
    assert result.images[0].size == (2048, 1024) and result.request_id
    assert result.sent_params["watermark"] is False and result.cost_usd == pytest.approx(0.036)


def test_seedream_4_pixels_and_no_seed(ark_fake, ark_settings, make_request):
    spec, req = make_request("seedream-4", width=512, height=512, extra={"watermark": True})
    result = providers.generate(spec, req, settings=ark_settings)
    body = ark_fake.api_requests()[0].json
    assert body["size"] == "960x960" and "seed" not in body and "guidance_scale" not in body
    assert body["watermark"] is True and result.images[0].size == (960, 960)


@pytest.mark.parametrize("scenario,kind", [("safety", "safety"), ("unauthorized", "auth"),
                                           ("malformed", "malformed")])
def test_ark_errors(ark_fake, ark_settings, make_request, scenario, kind, sleeps):
    ark_fake.scenarios.append(scenario)
    spec, req = make_request("seedream-3")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=ark_settings)
    assert e.value.kind == kind and sleeps == []
    if kind == "safety":
        assert e.value.code == "InputTextSensitiveContentDetected" and e.value.status == 400


def test_ark_rate_limit_then_success(ark_fake, ark_settings, make_request, sleeps):
    ark_fake.scenarios.extend(["rate_limit", "server_error", "ok"])
    spec, req = make_request("seedream-3")
    result = providers.generate(spec, req, settings=ark_settings)
    assert result.attempts == 3 and sleeps == [1.0, 0.02]


def test_ark_wrong_key(ark_fake, make_settings, make_request):
    settings = make_settings(ARK_API_KEY="ark-wrong-0000-1111-2222", ARK_BASE_URL=ark_fake.base_url)
    spec, req = make_request("seedream-4")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert (e.value.kind, e.value.code) == ("auth", "AuthenticationError")


def test_seedream_4_sizes_never_fall_below_its_pixel_minimum(make_request):
    """Scaled up to 1280x720 pixels, the multiples of 16 round up (1024x768 was once sent as 1104x832, refused)."""
    from core.providers.bytedance import _size

    for w, h in ((1024, 768), (1024, 1024), (768, 1024), (1000, 700), (512, 512)):
        spec, req = make_request("seedream-4", width=w, height=h)
        sw, sh = _size(spec, req)
        assert sw * sh >= 1280 * 720 and sw % 16 == 0 and sh % 16 == 0, (w, h, sw, sh)
