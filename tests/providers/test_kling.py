"""Kling: a fresh HS256 JWT per request, submit then poll, images by URL; against the loopback fake."""
from __future__ import annotations

import time
from dataclasses import replace

import jwt
import pytest

from core import providers
from core.errors import RequestError
from core.providers import ProviderError, kling


def test_submit_poll_download_with_a_jwt_on_every_request(kling_fake, kling_settings, make_request, sleeps):
    spec, req = make_request("kling-v1-5", width=1600, height=900, num_images=3, negative_prompt="blurry")
    before = int(time.time())
    result = providers.generate(spec, req, settings=kling_settings)

    api = kling_fake.api_requests()
    assert [(r.method, r.path.rsplit("/", 1)[0]) for r in api] == [
        ("POST", "/v1/images"), ("GET", "/v1/images/generations"), ("GET", "/v1/images/generations")]
    assert api[0].json == {"model_name": "kling-v1-5", "prompt": req.prompt, "negative_prompt": "blurry", "n": 3,
                           "aspect_ratio": "16:9"}
    assert len(kling_fake.claims) == len(api)  # every API request carried a valid JWT ...
    for claims in kling_fake.claims:
        assert claims["iss"] == kling_fake.access_key
        assert claims["exp"] - claims["nbf"] == 1805 and before - 5 <= claims["nbf"] <= int(time.time())
    downloads = [r for r in kling_fake.requests if r.path.startswith("/files/")]
    assert len(downloads) == 3 and all("authorization" not in r.headers for r in downloads)  # ... downloads none
    assert [im.size for im in result.images] == [(1344, 768)] * 3
    assert result.task_id == api[1].path.rsplit("/", 1)[1] and result.request_id
    assert result.sent_params == {"model_name": "kling-v1-5", "n": 3, "aspect_ratio": "16:9"}
    assert result.cost_usd == pytest.approx(0.06) and sleeps == [0.01]


def test_a_fresh_token_per_request(kling_fake, kling_settings, make_request, monkeypatch):
    clock = iter(range(int(time.time()) - 100, int(time.time()) + 100))
    monkeypatch.setattr(kling.time, "time", lambda: next(clock))
    spec, req = make_request("kling-v1")
    providers.generate(spec, req, settings=kling_settings)
    assert len(kling_fake.tokens) == 3 and len(set(kling_fake.tokens)) == 3
    assert [c["nbf"] for c in kling_fake.claims] == sorted(c["nbf"] for c in kling_fake.claims)


def test_token_format():
    secret = "sk-0123456789abcdef0123456789abcdef"
    token = kling.kling_token("ak", secret, now=1_700_000_000)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}) == {
        "iss": "ak", "exp": 1_700_001_800, "nbf": 1_699_999_995}


@pytest.mark.parametrize("shift,code", [(-4000, 1004), (+600, 1003)])
def test_expired_or_future_token_is_auth(kling_fake, kling_settings, make_request, monkeypatch, shift, code):
    real = time.time
    monkeypatch.setattr(kling.time, "time", lambda: real() + shift)  # a client clock off by `shift` seconds
    spec, req = make_request("kling-v1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=kling_settings)
    assert (e.value.kind, e.value.status, e.value.code) == ("auth", 401, code)


def test_wrong_secret_is_auth(kling_fake, make_settings, make_request, sleeps):
    settings = make_settings(KLING_ACCESS_KEY=kling_fake.access_key, KLING_BASE_URL=kling_fake.base_url,
                             KLING_SECRET_KEY="SKwrong-secret-0000000000000000000000")
    spec, req = make_request("kling-v2")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert (e.value.kind, e.value.code) == ("auth", 1002) and e.value.request_id and sleeps == []


def test_failed_task_is_a_safety_error(kling_fake, kling_settings, make_request):
    kling_fake.task_mode = "fail"
    spec, req = make_request("kling-v1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=kling_settings)
    assert e.value.kind == "safety" and "risk control" in e.value.message and not e.value.retryable


def test_task_that_never_finishes_hits_the_deadline(kling_fake, make_settings, make_request, monkeypatch):
    settings = make_settings(KLING_ACCESS_KEY=kling_fake.access_key, KLING_SECRET_KEY=kling_fake.secret_key,
                             KLING_BASE_URL=kling_fake.base_url, api_deadline_s=0.4, api_poll_interval_s=0.05)
    from core.providers import base

    monkeypatch.setattr(base, "_sleep", time.sleep)
    kling_fake.task_mode = "never"
    spec, req = make_request("kling-v1")
    t0 = time.monotonic()
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout" and "'processing'" in e.value.message
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("scenario", ["rate_limit", "concurrency", "server_error", "unavailable"])
def test_retryable_answers(kling_fake, kling_settings, make_request, scenario, sleeps):
    kling_fake.scenarios.extend([scenario, "ok"])
    spec, req = make_request("kling-v1")
    result = providers.generate(spec, req, settings=kling_settings)
    assert result.attempts == 2 and len(result.images) == 1
    assert sleeps[0] == (1.0 if scenario in ("rate_limit", "concurrency") else 0.01)


@pytest.mark.parametrize("scenario,kind,code", [("safety", "safety", 1301), ("unauthorized", "auth", 1002),
                                                ("malformed", "malformed", None)])
def test_errors(kling_fake, kling_settings, make_request, scenario, kind, code, sleeps):
    kling_fake.scenarios.append(scenario)
    spec, req = make_request("kling-v1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=kling_settings)
    assert e.value.kind == kind and e.value.code == code and sleeps == []


def test_timeouts_on_create_and_on_download(kling_fake, make_settings, make_request):
    settings = make_settings(KLING_ACCESS_KEY=kling_fake.access_key, KLING_SECRET_KEY=kling_fake.secret_key,
                             KLING_BASE_URL=kling_fake.base_url, api_timeout_s=0.3, api_max_retries=0)
    spec, req = make_request("kling-v1")
    kling_fake.scenarios.append("slow")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout" and "create task" in e.value.message
    kling_fake.download_scenarios.append("slow")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout" and "download" in e.value.message


def test_download_of_garbage_is_malformed(kling_fake, kling_settings, make_request):
    kling_fake.download_scenarios.append("garbage")
    spec, req = make_request("kling-v1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=kling_settings)
    assert e.value.kind == "malformed"


def test_checks(make_request):
    spec, req = make_request("kling-v2")
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, num_images=10))
    assert e.value.field == "num_images"
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, prompt="x" * 2501))
    assert e.value.field == "prompt"
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, extra={"aspect_ratio": "5:4"}))
    assert e.value.field == "extra.aspect_ratio" and "'21:9'" in e.value.allowed
    providers.check_request(spec, replace(req, extra={"aspect_ratio": "21:9", "resolution": "2k"}))
