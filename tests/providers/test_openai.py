"""OpenAI Images through the real `openai` SDK against the loopback fake."""
from __future__ import annotations

import logging

import pytest

from core import providers
from core.errors import RequestError
from core.providers import ProviderError


def test_dalle3_maps_size_sends_quality_and_style(openai_fake, openai_settings, make_request):
    spec, req = make_request("dall-e-3", width=1024, height=768, extra={"quality": "hd", "style": "natural"})
    result = providers.generate(spec, req, settings=openai_settings)

    body = openai_fake.api_requests()[0].json
    assert body == {"model": "dall-e-3", "prompt": req.prompt, "n": 1, "size": "1792x1024", "quality": "hd",
                    "style": "natural", "response_format": "b64_json"}
    assert result.sent_params == {"model": "dall-e-3", "n": 1, "size": "1792x1024", "quality": "hd",
                                  "style": "natural", "response_format": "b64_json"}
    assert [im.size for im in result.images] == [(1792, 1024)]
    assert result.request_id.startswith("req_")
    assert result.revised_prompt.endswith(req.prompt)
    assert result.cost_usd == pytest.approx(0.12)  # hd, 1792 size
    assert result.provider == "openai" and result.attempts == 1 and result.latency_s > 0


def test_dalle2_several_images_by_url_are_downloaded(openai_fake, openai_settings, make_request):
    spec, req = make_request("dall-e-2", width=600, height=600, num_images=3, extra={"response_format": "url"})
    result = providers.generate(spec, req, settings=openai_settings)
    assert [im.size for im in result.images] == [(512, 512)] * 3
    assert result.sent_params["size"] == "512x512"
    downloads = [r for r in openai_fake.requests if r.path.startswith("/files/")]
    assert len(downloads) == 3 and all("authorization" not in r.headers for r in downloads)
    assert result.cost_usd == pytest.approx(3 * 0.018)


def test_gpt_image_1_transparent_webp_and_cost_from_usage(openai_fake, openai_settings, make_request):
    spec, req = make_request("gpt-image-1", width=1024, height=1536,
                             extra={"quality": "low", "background": "transparent", "output_format": "webp"})
    result = providers.generate(spec, req, settings=openai_settings)
    body = openai_fake.api_requests()[0].json
    assert "response_format" not in body and body["size"] == "1024x1536" and body["quality"] == "low"
    assert result.images[0].mode == "RGBA" and result.images[0].format == "WEBP"
    text_tokens = len(req.prompt.split())
    assert result.cost_usd == pytest.approx(272 * 40e-6 + text_tokens * 5e-6)


def test_checks_before_any_request(openai_fake, openai_settings, make_request):
    spec, req = make_request("dall-e-3")
    from dataclasses import replace

    with pytest.raises(RequestError) as e:
        providers.generate(spec, replace(req, num_images=2), settings=openai_settings)
    assert e.value.field == "num_images"
    with pytest.raises(RequestError) as e:
        providers.generate(spec, replace(req, prompt="x" * 4001), settings=openai_settings)
    assert e.value.field == "prompt" and "4000" in e.value.allowed
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, extra={"quality": "ultra"}))
    assert e.value.field == "extra.quality" and "'hd'" in e.value.allowed
    gpt, greq = make_request("gpt-image-1")
    with pytest.raises(RequestError) as e:
        providers.check_request(gpt, replace(greq, extra={"background": "transparent", "output_format": "jpeg"}))
    assert e.value.field == "extra.background"
    with pytest.raises(RequestError) as e:
        providers.check_request(gpt, replace(greq, extra={"style": "vivid"}))
    assert e.value.field == "extra.style" and "background" in e.value.allowed
    assert openai_fake.requests == []


def test_429_is_retried_after_retry_after(openai_fake, openai_settings, make_request, sleeps):
    openai_fake.retry_after = "2"
    openai_fake.scenarios.extend(["rate_limit", "ok"])
    spec, req = make_request("dall-e-3")
    result = providers.generate(spec, req, settings=openai_settings)
    assert len(result.images) == 1 and result.attempts == 2
    assert sleeps == [2.0]  # Retry-After (2 s) wins over the 0.01 s backoff


def test_retry_after_past_the_deadline_fails_at_once(openai_fake, make_settings, make_request, sleeps):
    settings = make_settings(OPENAI_API_KEY=openai_fake.api_key, OPENAI_BASE_URL=openai_fake.base_url,
                             api_deadline_s=1.5)
    openai_fake.retry_after = "30"
    openai_fake.scenarios.extend(["rate_limit", "ok"])
    spec, req = make_request("dall-e-3")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "rate_limit" and e.value.status == 429 and e.value.code == "rate_limit_exceeded"
    assert "deadline" in e.value.message and e.value.request_id.startswith("req_")
    assert sleeps == [] and len(openai_fake.api_requests()) == 1


def test_quota_exhausted_is_not_retried(openai_fake, openai_settings, make_request, sleeps):
    openai_fake.scenarios.extend(["quota", "ok"])
    spec, req = make_request("dall-e-2")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    assert e.value.kind == "rate_limit" and e.value.code == "insufficient_quota" and sleeps == []


def test_server_errors_are_retried_with_backoff_then_given_up(openai_fake, openai_settings, make_request, sleeps):
    openai_fake.scenarios.extend(["server_error"] * 10)
    spec, req = make_request("dall-e-2")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    assert e.value.kind == "server" and e.value.status == 500 and "gave up after 4 attempts" in e.value.message
    assert sleeps == [0.01, 0.02, 0.04]  # exponential, capped at 0.05
    assert len(openai_fake.api_requests()) == 4


def test_safety_refusal(openai_fake, openai_settings, make_request, sleeps):
    openai_fake.scenarios.append("safety")
    spec, req = make_request("dall-e-3")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    err = e.value
    assert (err.kind, err.status, err.code) == ("safety", 400, "content_policy_violation")
    assert "safety system" in err.message and err.request_id and sleeps == []


def test_wrong_key_is_auth_and_the_key_is_never_shown(openai_fake, make_settings, make_request, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-key-0000111122223333"
    settings = make_settings(OPENAI_API_KEY=wrong, OPENAI_BASE_URL=openai_fake.base_url)
    spec, req = make_request("dall-e-3")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "auth" and e.value.status == 401 and e.value.code == "invalid_api_key"
    assert "Incorrect API key" in e.value.message
    assert wrong not in str(e.value) and wrong not in caplog.text


def test_timeout(openai_fake, make_settings, make_request):
    settings = make_settings(OPENAI_API_KEY=openai_fake.api_key, OPENAI_BASE_URL=openai_fake.base_url,
                             api_timeout_s=0.3, api_max_retries=0)
    openai_fake.scenarios.append("slow")
    spec, req = make_request("dall-e-2")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout"


def test_slow_download_times_out_and_is_retried(openai_fake, make_settings, make_request):
    settings = make_settings(OPENAI_API_KEY=openai_fake.api_key, OPENAI_BASE_URL=openai_fake.base_url,
                             api_timeout_s=0.3, api_max_retries=1)
    spec, req = make_request("dall-e-2", extra={"response_format": "url"})
    openai_fake.download_scenarios.extend(["slow", "ok"])  # a GET is safe to retry after a timeout
    assert len(providers.generate(spec, req, settings=settings).images) == 1
    openai_fake.download_scenarios.extend(["slow", "slow"])
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout" and "download" in e.value.message
    assert len(openai_fake.api_requests()) == 2  # the POSTs were not repeated


def test_a_post_that_timed_out_is_not_repeated(openai_fake, make_settings, make_request):
    settings = make_settings(OPENAI_API_KEY=openai_fake.api_key, OPENAI_BASE_URL=openai_fake.base_url,
                             api_timeout_s=0.3, api_max_retries=3)
    openai_fake.scenarios.extend(["slow", "ok"])
    spec, req = make_request("dall-e-2")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout" and len(openai_fake.api_requests()) == 1


@pytest.mark.parametrize("scenario", ["malformed", "malformed_image", "empty"])
def test_malformed_answers(openai_fake, openai_settings, make_request, scenario, sleeps):
    openai_fake.scenarios.append(scenario)
    spec, req = make_request("dall-e-2")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    assert e.value.kind == "malformed" and sleeps == []
