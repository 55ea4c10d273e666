"""OpenAI Images through the real `openai` SDK against the loopback fake."""
from __future__ import annotations

import logging

import pytest

from core import providers
from core.errors import RequestError
from core.providers import ProviderError


def test_gpt_image_standard_sizes_quality_and_cost(openai_fake, openai_settings, make_request):
    spec, req = make_request("gpt-image-1.5", width=1024, height=768, num_images=2, extra={"quality": "medium"})
    result = providers.generate(spec, req, settings=openai_settings)

    body = openai_fake.api_requests()[0].json
    assert body == {"model": "gpt-image-1.5", "prompt": req.prompt, "n": 2, "size": "1536x1024", "quality": "medium"}
    assert "response_format" not in body and "style" not in body  # for the retired DALL-E models only
    assert [im.size for im in result.images] == [(1536, 1024)] * 2
    assert result.request_id.startswith("req_") and result.sent_params["usage_tokens"]["output"] == 2 * 1056
    assert result.cost_usd == pytest.approx(2 * 0.050)  # medium, 1536 size
    assert result.provider == "openai" and result.attempts == 1 and result.latency_s > 0


def test_gpt_image_2_takes_any_size_within_its_limits(openai_fake, openai_settings, make_request):
    spec, req = make_request("gpt-image-2", width=1920, height=1080)
    assert providers.generate(spec, req, settings=openai_settings).images[0].size == (1920, 1088)
    spec, req = make_request("gpt-image-2.5-flare", width=8000, height=1000, extra={"quality": "xhigh"})
    result = providers.generate(spec, req, settings=openai_settings)
    w, h = result.images[0].size  # the ratio clamps at 3:1, the edge at 3840, both multiples of 16
    assert w == 3840 and h == 1280 and result.sent_params["quality"] == "xhigh"


def test_transparent_webp(openai_fake, openai_settings, make_request):
    spec, req = make_request("gpt-image-1-mini", width=1024, height=1536,
                             extra={"quality": "low", "background": "transparent", "output_format": "webp"})
    result = providers.generate(spec, req, settings=openai_settings)
    assert openai_fake.api_requests()[0].json["size"] == "1024x1536"
    assert result.images[0].mode == "RGBA" and result.images[0].format == "WEBP"
    assert result.cost_usd == pytest.approx(0.006)


@pytest.mark.parametrize("model,replacement,date", [("dall-e-3", "gpt-image-2", "2026-05-12"),
                                                     ("dall-e-2", "gpt-image-2", "2026-05-12"),
                                                     ("gpt-image-1", "gpt-image-2.5-sunburst", "2026-10-23")])
def test_retired_models_are_refused_before_sending_naming_the_replacement(openai_fake, openai_settings,
                                                                          make_request, model, replacement, date):
    spec, req = make_request(model)
    with pytest.raises(RequestError) as e:
        providers.generate(spec, req, settings=openai_settings)
    assert e.value.field == "model" and replacement in e.value.allowed and date in e.value.allowed
    assert openai_fake.requests == []


def test_the_server_refuses_retired_models_too(openai_fake, openai_settings, make_request):
    """What a user of the old client met: 404 model_not_found (the fake speaks as the service does today)."""
    from core.providers import openai_images
    from core.providers.base import Call

    with Call("openai", openai_settings) as call, pytest.raises(ProviderError) as e:
        openai_images.images_generate(call, api_key=openai_fake.api_key, base_url=openai_fake.base_url,
                                      prompt="a cat", params={"model": "dall-e-3", "n": 1}, what="t",
                                      is_safety=lambda *a: False)
    assert e.value.status == 404 and e.value.code == "model_not_found"


def test_checks_before_any_request(openai_fake, openai_settings, make_request):
    spec, req = make_request("gpt-image-1.5")
    from dataclasses import replace

    with pytest.raises(RequestError) as e:
        providers.generate(spec, replace(req, num_images=11), settings=openai_settings)
    assert e.value.field == "num_images"
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, extra={"quality": "ultra"}))
    assert e.value.field == "extra.quality" and "'high'" in e.value.allowed
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, extra={"background": "transparent", "output_format": "jpeg"}))
    assert e.value.field == "extra.background"
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, extra={"style": "vivid"}))
    assert e.value.field == "extra.style" and "background" in e.value.allowed
    assert openai_fake.requests == []


def test_429_is_retried_after_retry_after(openai_fake, openai_settings, make_request, sleeps):
    openai_fake.retry_after = "2"
    openai_fake.scenarios.extend(["rate_limit", "ok"])
    spec, req = make_request("gpt-image-1.5")
    result = providers.generate(spec, req, settings=openai_settings)
    assert len(result.images) == 1 and result.attempts == 2
    assert sleeps == [2.0]  # Retry-After (2 s) wins over the 0.01 s backoff


def test_retry_after_past_the_deadline_fails_at_once(openai_fake, make_settings, make_request, sleeps):
    settings = make_settings(OPENAI_API_KEY=openai_fake.api_key, OPENAI_BASE_URL=openai_fake.base_url,
                             api_deadline_s=1.5)
    openai_fake.retry_after = "30"
    openai_fake.scenarios.extend(["rate_limit", "ok"])
    spec, req = make_request("gpt-image-1.5")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "rate_limit" and e.value.status == 429 and e.value.code == "rate_limit_exceeded"
    assert "deadline" in e.value.message and e.value.request_id.startswith("req_")
    assert sleeps == [] and len(openai_fake.api_requests()) == 1


def test_quota_exhausted_is_not_retried(openai_fake, openai_settings, make_request, sleeps):
    openai_fake.scenarios.extend(["quota", "ok"])
    spec, req = make_request("gpt-image-1-mini")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    assert e.value.kind == "rate_limit" and e.value.code == "insufficient_quota" and sleeps == []


def test_server_errors_are_retried_with_backoff_then_given_up(openai_fake, openai_settings, make_request, sleeps):
    openai_fake.scenarios.extend(["server_error"] * 10)
    spec, req = make_request("gpt-image-1-mini")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    assert e.value.kind == "server" and e.value.status == 500 and "gave up after 4 attempts" in e.value.message
    assert sleeps == [0.01, 0.02, 0.04]  # exponential, capped at 0.05
    assert len(openai_fake.api_requests()) == 4


def test_safety_refusal(openai_fake, openai_settings, make_request, sleeps):
    openai_fake.scenarios.append("safety")
    spec, req = make_request("gpt-image-1.5")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    err = e.value
    assert (err.kind, err.status, err.code) == ("safety", 400, "content_policy_violation")
    assert "safety system" in err.message and err.request_id and sleeps == []


def test_wrong_key_is_auth_and_the_key_is_never_shown(openai_fake, make_settings, make_request, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-key-0000111122223333"
    settings = make_settings(OPENAI_API_KEY=wrong, OPENAI_BASE_URL=openai_fake.base_url)
    spec, req = make_request("gpt-image-1.5")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "auth" and e.value.status == 401 and e.value.code == "invalid_api_key"
    assert "Incorrect API key" in e.value.message
    assert wrong not in str(e.value) and wrong not in caplog.text


def test_timeout(openai_fake, make_settings, make_request):
    settings = make_settings(OPENAI_API_KEY=openai_fake.api_key, OPENAI_BASE_URL=openai_fake.base_url,
                             api_timeout_s=0.3, api_max_retries=0)
    openai_fake.scenarios.append("slow")
    spec, req = make_request("gpt-image-1-mini")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout"


def test_a_post_that_timed_out_is_not_repeated(openai_fake, make_settings, make_request):
    settings = make_settings(OPENAI_API_KEY=openai_fake.api_key, OPENAI_BASE_URL=openai_fake.base_url,
                             api_timeout_s=0.3, api_max_retries=3)
    openai_fake.scenarios.extend(["slow", "ok"])
    spec, req = make_request("gpt-image-1-mini")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout" and len(openai_fake.api_requests()) == 1


@pytest.mark.parametrize("scenario", ["malformed", "malformed_image", "empty"])
def test_malformed_answers(openai_fake, openai_settings, make_request, scenario, sleeps):
    openai_fake.scenarios.append(scenario)
    spec, req = make_request("gpt-image-1-mini")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    assert e.value.kind == "malformed" and sleeps == []
