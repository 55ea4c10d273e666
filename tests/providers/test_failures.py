"""Each failure class of issue 10, against the loopback fakes: safety codes from the complete tables,
Kling 1304, per-model capabilities, polls retried within the deadline, task ids and attempts kept."""
from __future__ import annotations

import pytest

from core import providers
from core.errors import RequestError
from core.providers import ProviderError


@pytest.mark.parametrize("code", ["InputTextRiskDetection", "OutputImageRiskDetection", "InputImageRiskDetection",
                                  "OutputTextRiskDetection", "InputTextSensitiveContentDetected"])
def test_ark_risk_codes_are_safety(ark_fake, ark_settings, make_request, code, sleeps):
    ark_fake.scenarios.append(f"code_{code}")
    spec, req = make_request("seedream-4")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=ark_settings)
    assert (e.value.kind, e.value.code) == ("safety", code) and sleeps == []


def test_ark_overdue_account_is_not_retried(ark_fake, ark_settings, make_request, sleeps):
    ark_fake.scenarios.extend(["code_AccountOverdueError", "ok"])
    spec, req = make_request("seedream-3")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=ark_settings)
    assert e.value.kind == "rate_limit" and not e.value.retryable and sleeps == []


@pytest.mark.parametrize("code", [50512, 50518, 50519, 50411, 50511])
def test_volcano_risk_codes_are_safety(volc_fake, volc_settings, make_request, code):
    volc_fake.scenarios.append(f"code_{code}")
    spec, req = make_request("volc-general-2.1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=volc_settings)
    assert (e.value.kind, e.value.code) == ("safety", code)


def test_kling_1304_is_not_retried_and_says_contact_support(kling_fake, kling_settings, make_request, sleeps):
    kling_fake.scenarios.extend(["ip_whitelist", "ok"])
    spec, req = make_request("kling-v2")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=kling_settings)
    assert (e.value.kind, e.value.code) == ("auth", 1304) and "contact Kling support" in e.value.message
    assert sleeps == [] and len(kling_fake.api_requests()) == 1


def test_kling_v1_never_gets_21_9_for_wide_sizes(kling_fake, kling_settings, make_request):
    spec, req = make_request("kling-v1", width=2560, height=1080)
    result = providers.generate(spec, req, settings=kling_settings)
    assert kling_fake.api_requests()[0].json["aspect_ratio"] == "16:9" and len(result.images) == 1
    spec2, req2 = make_request("kling-v2", width=2560, height=1080)
    providers.generate(spec2, req2, settings=kling_settings)
    assert [r for r in kling_fake.api_requests() if r.method == "POST"][-1].json["aspect_ratio"] == "21:9"


@pytest.mark.parametrize("model,extra,field", [("kling-v1", {"resolution": "2k"}, "extra.resolution"),
                                               ("kling-v1-5", {"resolution": "2k"}, "extra.resolution"),
                                               ("kling-v1", {"aspect_ratio": "21:9"}, "extra.aspect_ratio")])
def test_kling_capabilities_checked_before_sending(kling_fake, kling_settings, make_request, model, extra, field):
    spec, req = make_request(model, extra=extra)
    with pytest.raises(RequestError) as e:
        providers.generate(spec, req, settings=kling_settings)
    assert e.value.field == field and kling_fake.requests == []
    spec2, req2 = make_request("kling-v2-1", extra={"resolution": "2k", "aspect_ratio": "21:9"})
    assert providers.generate(spec2, req2, settings=kling_settings).images[0].size == (3136, 1344)


def test_a_timed_out_poll_is_polled_again(volc_fake, make_settings, make_request):
    settings = make_settings(VOLC_ACCESSKEY=volc_fake.access_key, VOLC_SECRETKEY=volc_fake.secret_key,
                             VOLC_BASE_URL=volc_fake.base_url, api_timeout_s=0.3)
    volc_fake.scenarios.extend(["ok", "slow", "server_error", "server_error", "server_error", "server_error",
                                "server_error"])  # submit, then a slow poll, then a run of 500s
    spec, req = make_request("jimeng-3.0")
    result = providers.generate(spec, req, settings=settings)
    assert len(result.images) == 1 and result.task_id and result.attempts == 1


def test_kling_polls_ride_out_server_errors(kling_fake, kling_settings, make_request):
    kling_fake.scenarios.extend(["ok"] + ["unavailable"] * 6)
    spec, req = make_request("kling-v1")
    assert len(providers.generate(spec, req, settings=kling_settings).images) == 1


def test_deadline_during_polling_keeps_the_task_id(kling_fake, make_settings, make_request):
    settings = make_settings(KLING_ACCESS_KEY=kling_fake.access_key, KLING_SECRET_KEY=kling_fake.secret_key,
                             KLING_BASE_URL=kling_fake.base_url, api_deadline_s=0.5, api_poll_interval_s=0.05)
    kling_fake.task_mode = "never"
    spec, req = make_request("kling-v1")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    err = e.value
    assert err.kind == "timeout" and err.task_id in kling_fake.tasks and err.attempts == 1
    assert "billed" in err.message and f"task id {err.task_id}" in str(err)


@pytest.mark.parametrize("fake_name,settings_name,model", [("kling_fake", "kling_settings", "kling-v1"),
                                                           ("volc_fake", "volc_settings", "jimeng-3.0")])
def test_failed_tasks_keep_task_id_and_attempts(request, fake_name, settings_name, model, make_request):
    fake, settings = request.getfixturevalue(fake_name), request.getfixturevalue(settings_name)
    fake.task_mode = "fail"
    fake.scenarios.extend(["rate_limit", "ok"])  # one retry of the submit
    spec, req = make_request(model)
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "safety" and e.value.task_id in fake.tasks and e.value.attempts == 2
