"""Google Imagen on Vertex AI (OAuth token) and on the Gemini API (API key), against the loopback fake."""
from __future__ import annotations

from dataclasses import replace

import pytest

from core import providers
from core.errors import RequestError
from core.providers import ProviderError, imagen


def test_vertex_predict_with_token_aspect_ratio_and_seed(google_fake, vertex_settings, make_request):
    spec, req = make_request("imagen-4", width=1920, height=1080, num_images=2, extra={"add_watermark": False})
    result = providers.generate(spec, req, settings=vertex_settings)

    seen = google_fake.api_requests()[0]
    assert seen.path == ("/v1/projects/igcs-test-project/locations/us-central1/publishers/google/models/"
                         "imagen-4.0-generate-001:predict")
    assert seen.headers["authorization"] == f"Bearer {google_fake.access_token}"
    assert "x-goog-api-key" not in seen.headers
    params = seen.json["parameters"]
    assert params["aspectRatio"] == "16:9" and params["sampleCount"] == 2
    assert params["addWatermark"] is False and params["seed"] == 8  # seed 7 -> Imagen's 1-based range
    assert "sampleImageSize" not in params  # 1920 px is nearer 1K's 1408 than 2K
    assert [im.size for im in result.images] == [(1408, 768)] * 2
    assert result.sent_params["aspectRatio"] == "16:9" and result.sent_params["backend"] == "vertex"
    assert result.model_id == "imagen-4.0-generate-001"
    assert result.cost_usd == pytest.approx(0.08) and result.filtered == 0


def test_gemini_predict_with_api_key_sends_no_seed(google_fake, gemini_settings, make_request):
    spec, req = make_request("imagen-4-fast", width=768, height=1024)
    result = providers.generate(spec, req, settings=gemini_settings)
    seen = google_fake.api_requests()[0]
    assert seen.path == "/v1beta/models/imagen-4.0-fast-generate-001:predict"
    assert seen.headers["x-goog-api-key"] == google_fake.api_key and "authorization" not in seen.headers
    assert "key=" not in seen.raw_query  # the key travels in a header, never in the URL
    assert "seed" not in seen.json["parameters"] and seen.json["parameters"]["aspectRatio"] == "3:4"
    assert result.images[0].size == (896, 1280) and result.cost_usd == pytest.approx(0.02)


def test_2k_for_large_requests_on_models_that_have_it(google_fake, gemini_settings, make_request):
    spec, req = make_request("imagen-4-ultra", width=2048, height=2048)
    result = providers.generate(spec, req, settings=gemini_settings)
    assert result.sent_params["sampleImageSize"] == "2K" and result.images[0].size == (2048, 2048)
    spec3, req3 = make_request("imagen-3", width=2048, height=2048)
    result3 = providers.generate(spec3, req3, settings=gemini_settings)
    assert "sampleImageSize" not in result3.sent_params


def test_filtered_images_are_absent_and_counted(google_fake, vertex_settings, make_request):
    google_fake.scenarios.append("filter_one")
    spec, req = make_request("imagen-3", num_images=3)
    result = providers.generate(spec, req, settings=vertex_settings)
    assert len(result.images) == 2 and result.filtered == 1
    assert result.cost_usd == pytest.approx(0.06)  # filtered images are not billed


@pytest.mark.parametrize("scenario", ["safety", "safety_prompt"])
def test_safety(google_fake, vertex_settings, make_request, scenario, sleeps):
    google_fake.scenarios.append(scenario)
    spec, req = make_request("imagen-4")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=vertex_settings)
    assert e.value.kind == "safety" and sleeps == []
    assert ("usage guidelines" if scenario == "safety" else "Responsible AI") in e.value.message


def test_gemini_wrong_key_is_auth_although_http_400(google_fake, make_settings, make_request):
    settings = make_settings(IGCS_IMAGEN_BACKEND="gemini", GOOGLE_API_KEY="AIzaSyWRONG-0000000000000000",
                             GOOGLE_GEMINI_BASE_URL=google_fake.base_url)
    spec, req = make_request("imagen-4")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert (e.value.kind, e.value.status, e.value.code) == ("auth", 400, "INVALID_ARGUMENT")
    assert "API key not valid" in e.value.message and "AIzaSyWRONG" not in str(e.value)


def test_vertex_rejects_an_api_key_as_bearer(google_fake, make_settings, make_request):
    settings = make_settings(IGCS_IMAGEN_BACKEND="vertex", GOOGLE_CLOUD_PROJECT=google_fake.project,
                             GOOGLE_ACCESS_TOKEN=google_fake.api_key, GOOGLE_VERTEX_BASE_URL=google_fake.base_url)
    spec, req = make_request("imagen-4")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert (e.value.kind, e.value.status, e.value.code) == ("auth", 401, "UNAUTHENTICATED")


def test_rate_limit_then_success(google_fake, vertex_settings, make_request, sleeps):
    google_fake.scenarios.extend(["rate_limit", "rate_limit", "ok"])
    spec, req = make_request("imagen-4")
    result = providers.generate(spec, req, settings=vertex_settings)
    assert len(result.images) == 1 and result.attempts == 3 and sleeps == [1.0, 1.0]


@pytest.mark.parametrize("scenario,kind", [("server_error", "server"), ("malformed", "malformed"),
                                           ("unauthorized", "auth")])
def test_errors(google_fake, make_settings, make_request, scenario, kind):
    settings = make_settings(IGCS_IMAGEN_BACKEND="gemini", GOOGLE_API_KEY=google_fake.api_key,
                             GOOGLE_GEMINI_BASE_URL=google_fake.base_url, api_max_retries=1)
    google_fake.scenarios.extend([scenario] * 2)
    spec, req = make_request("imagen-4")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == kind
    assert len(google_fake.api_requests()) == (2 if kind == "server" else 1)


def test_timeout(google_fake, make_settings, make_request):
    settings = make_settings(IGCS_IMAGEN_BACKEND="gemini", GOOGLE_API_KEY=google_fake.api_key,
                             GOOGLE_GEMINI_BASE_URL=google_fake.base_url, api_timeout_s=0.3, api_max_retries=0)
    google_fake.scenarios.append("slow")
    spec, req = make_request("imagen-4")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout"


def test_backend_selection(make_settings):
    assert imagen.backend(make_settings()) == "gemini"
    assert imagen.backend(make_settings(GOOGLE_API_KEY="k")) == "gemini"
    assert imagen.backend(make_settings(GOOGLE_CLOUD_PROJECT="p", GOOGLE_ACCESS_TOKEN="t")) == "vertex"
    assert imagen.backend(make_settings(GOOGLE_API_KEY="k", GOOGLE_GENAI_USE_VERTEXAI="true")) == "vertex"
    assert imagen.backend(make_settings(GOOGLE_CLOUD_PROJECT="p", GOOGLE_ACCESS_TOKEN="t",
                                        IGCS_IMAGEN_BACKEND="gemini")) == "gemini"


def test_checks(make_request, gemini_settings, vertex_settings):
    spec, req = make_request("imagen-4")
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, num_images=5))
    assert e.value.field == "num_images"
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, negative_prompt="blurry"))
    assert e.value.field == "negative_prompt"
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, replace(req, extra={"add_watermark": False}), settings=gemini_settings)
    assert e.value.field == "extra.add_watermark" and "Vertex" in e.value.allowed
    providers.check_request(spec, replace(req, extra={"add_watermark": False}), settings=vertex_settings)
    providers.check_request(spec, replace(req, extra={"person_generation": "ALLOW_ADULT"}), settings=vertex_settings)
    with pytest.raises(RequestError):
        providers.check_request(spec, replace(req, extra={"aspect_ratio": "2:1"}))
    fast, freq = make_request("imagen-4-fast")
    with pytest.raises(RequestError) as e:
        providers.check_request(fast, replace(freq, extra={"image_size": "2K"}))
    assert e.value.field == "extra.image_size"
