"""Google through google-genai against the loopback fake: Imagen (Vertex AI only) and the Gemini image
models (Gemini API and Vertex AI), RetryInfo waits, and what the Gemini API refuses before sending."""
from __future__ import annotations

from dataclasses import replace

import pytest

from core import providers
from core.errors import RequestError
from core.providers import ProviderError, genai_client


def test_vertex_imagen_through_the_sdk_with_token_ratio_seed_and_enhanced_prompt(google_fake, vertex_settings,
                                                                                 make_request):
    spec, req = make_request("imagen-4", width=1920, height=1080, num_images=2,
                             extra={"add_watermark": False, "enhance_prompt": True})
    result = providers.generate(spec, req, settings=vertex_settings)

    seen = google_fake.api_requests()[0]
    assert seen.path.endswith("/projects/igcs-test-project/locations/us-central1/publishers/google/models/"
                              "imagen-4.0-generate-001:predict")
    assert seen.headers["authorization"] == f"Bearer {google_fake.access_token}"
    params = seen.json["parameters"]
    assert params["aspectRatio"] == "16:9" and params["sampleCount"] == 2 and params["enhancePrompt"] is True
    assert params["addWatermark"] is False and params["seed"] == 8  # seed 7 -> Imagen's 1-based range
    assert [im.size for im in result.images] == [(1408, 768)] * 2
    assert result.revised_prompt == f"A studio photograph: {req.prompt}, soft light"  # saved like OpenAI's
    assert result.sent_params["backend"] == "vertex" and result.model_id == "imagen-4.0-generate-001"
    assert result.cost_usd == pytest.approx(0.08) and result.filtered == 0


def test_imagen_on_the_gemini_api_is_refused_before_sending(google_fake, gemini_settings, make_request):
    spec, req = make_request("imagen-4", extra={"person_generation": "allow_all", "safety_setting": "block_none"})
    with pytest.raises(RequestError) as e:
        providers.generate(spec, req, settings=gemini_settings)
    assert e.value.field == "IGCS_IMAGEN_BACKEND" and "gemini-3.1-flash-image" in e.value.allowed
    assert google_fake.requests == []


def test_gemini_image_model_on_the_gemini_api(google_fake, gemini_settings, make_request):
    spec, req = make_request("gemini-3.1-flash-image", width=2560, height=1080, extra={"image_size": "2K"})
    result = providers.generate(spec, req, settings=gemini_settings)
    seen = google_fake.api_requests()[0]
    assert seen.path.endswith("/models/gemini-3.1-flash-image:generateContent")
    assert seen.headers["x-goog-api-key"] == google_fake.api_key and "authorization" not in seen.headers
    config = seen.json["generationConfig"]
    assert config["responseModalities"] == ["IMAGE"] and config["imageConfig"] == {"aspectRatio": "21:9",
                                                                                  "imageSize": "2K"}
    assert len(result.images) == 1 and result.request_id and result.cost_usd == pytest.approx(0.067)


def test_gemini_image_model_on_vertex(google_fake, vertex_settings, make_request):
    spec, req = make_request("gemini-3-pro-image", extra={"person_generation": "allow_adult"})
    result = providers.generate(spec, req, settings=vertex_settings)
    seen = google_fake.api_requests()[0]
    assert seen.path.endswith("/publishers/google/models/gemini-3-pro-image:generateContent")
    assert seen.json["generationConfig"]["imageConfig"]["personGeneration"] == "ALLOW_ADULT"
    assert result.sent_params["backend"] == "vertex"


@pytest.mark.parametrize("name,value", [("person_generation", "allow_all"), ("output_mime_type", "image/jpeg"),
                                        ("output_compression_quality", 80)])
def test_the_gemini_api_refuses_vertex_only_fields_before_sending(google_fake, gemini_settings, make_request,
                                                                  name, value):
    spec, req = make_request("gemini-3.1-flash-image", extra={name: value})
    with pytest.raises(RequestError) as e:
        providers.generate(spec, req, settings=gemini_settings)
    assert e.value.field == f"extra.{name}" and "Vertex" in e.value.allowed
    assert google_fake.requests == []


def test_429_waits_for_retry_info_retry_delay(google_fake, gemini_settings, make_request, sleeps):
    google_fake.retry_delay = "4s"  # in the body (google.rpc.RetryInfo), no Retry-After header
    google_fake.scenarios.extend(["rate_limit", "ok"])
    spec, req = make_request("gemini-3.1-flash-image")
    result = providers.generate(spec, req, settings=gemini_settings)
    assert result.attempts == 2 and sleeps == [4.0]


def test_retry_delay_past_the_deadline_fails_at_once(google_fake, gemini_settings, make_request, sleeps):
    google_fake.retry_delay = "37s"  # the deadline is 10 s
    google_fake.scenarios.extend(["rate_limit", "ok"])
    spec, req = make_request("gemini-3.1-flash-image")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=gemini_settings)
    assert e.value.kind == "rate_limit" and e.value.retry_after_s == 37.0 and "deadline" in e.value.message
    assert sleeps == [] and e.value.attempts == 1


def test_retry_delay_parsing():
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]}}
    assert genai_client.retry_delay(body) == 1.5
    assert genai_client.retry_delay({"error": {"details": []}}) is None


def test_filtered_images_are_absent_and_counted(google_fake, vertex_settings, make_request):
    google_fake.scenarios.append("filter_one")
    spec, req = make_request("imagen-3", num_images=3)
    result = providers.generate(spec, req, settings=vertex_settings)
    assert len(result.images) == 2 and result.filtered == 1 and result.cost_usd == pytest.approx(0.06)


@pytest.mark.parametrize("model,scenario", [("imagen-4", "safety"), ("imagen-4", "safety_prompt"),
                                            ("gemini-3.1-flash-image", "safety"),
                                            ("gemini-3.1-flash-image", "safety_prompt")])
def test_safety(google_fake, vertex_settings, make_request, model, scenario, sleeps):
    google_fake.scenarios.append(scenario)
    spec, req = make_request(model)
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=vertex_settings)
    assert e.value.kind == "safety" and sleeps == []


def test_wrong_key_is_auth_although_http_400(google_fake, make_settings, make_request):
    settings = make_settings(IGCS_IMAGEN_BACKEND="gemini", GOOGLE_API_KEY="AIzaSyWRONG-0000000000000000",
                             GOOGLE_GEMINI_BASE_URL=google_fake.base_url)
    spec, req = make_request("gemini-3.1-flash-image")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert (e.value.kind, e.value.status, e.value.code) == ("auth", 400, "INVALID_ARGUMENT")
    assert "AIzaSyWRONG" not in str(e.value)


@pytest.mark.parametrize("scenario,kind", [("server_error", "server"), ("unauthorized", "auth")])
def test_errors(google_fake, make_settings, make_request, scenario, kind):
    settings = make_settings(IGCS_IMAGEN_BACKEND="gemini", GOOGLE_API_KEY=google_fake.api_key,
                             GOOGLE_GEMINI_BASE_URL=google_fake.base_url, api_max_retries=1)
    google_fake.scenarios.extend([scenario] * 2)
    spec, req = make_request("gemini-3.1-flash-image")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == kind and len(google_fake.api_requests()) == (2 if kind == "server" else 1)


def test_timeout(google_fake, make_settings, make_request):
    settings = make_settings(IGCS_IMAGEN_BACKEND="gemini", GOOGLE_API_KEY=google_fake.api_key,
                             GOOGLE_GEMINI_BASE_URL=google_fake.base_url, api_timeout_s=1.0, api_max_retries=0)
    google_fake.scenarios.append("slow")
    spec, req = make_request("gemini-3.1-flash-image")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "timeout"


def test_backend_selection(make_settings):
    backend = genai_client.backend
    assert backend(make_settings()) == "gemini"
    assert backend(make_settings(GOOGLE_API_KEY="k")) == "gemini"
    assert backend(make_settings(GOOGLE_CLOUD_PROJECT="p", GOOGLE_ACCESS_TOKEN="t")) == "vertex"
    assert backend(make_settings(GOOGLE_API_KEY="k", GOOGLE_GENAI_USE_VERTEXAI="true")) == "vertex"


def test_checks(make_request, vertex_settings):
    spec, req = make_request("imagen-4")
    for bad, field in ((replace(req, num_images=5), "num_images"), (replace(req, negative_prompt="x"),
                                                                    "negative_prompt"),
                       (replace(req, extra={"aspect_ratio": "2:1"}), "extra.aspect_ratio")):
        with pytest.raises(RequestError) as e:
            providers.check_request(spec, bad, settings=vertex_settings)
        assert e.value.field == field
    fast, freq = make_request("imagen-4-fast")
    with pytest.raises(RequestError) as e:
        providers.check_request(fast, replace(freq, extra={"image_size": "2K"}), settings=vertex_settings)
    assert e.value.field == "extra.image_size"
    old, oreq = make_request("gemini-2.5-flash-image")
    with pytest.raises(RequestError) as e:
        providers.check_request(old, replace(oreq, extra={"image_size": "2K"}), settings=vertex_settings)
    assert e.value.field == "extra.image_size"


@pytest.mark.parametrize("model,backend", [("gemini-3.1-flash-image", "gemini"), ("gemini-3.1-flash-image", "vertex"),
                                           ("imagen-4", "vertex")])
def test_a_truncated_json_body_is_malformed(google_fake, gemini_settings, vertex_settings, make_request, model, backend,
                                            sleeps):
    """Issue 21, bug 5: a 200 cut short is the answer's fault (`malformed`, as for every provider), not the request's."""
    settings = gemini_settings if backend == "gemini" else vertex_settings
    google_fake.scenarios.extend(["truncated"] * 5)
    spec, req = make_request(model)
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    assert e.value.kind == "malformed", (e.value.kind, str(e.value))
    assert google_fake.api_requests()[0].scenario == "truncated"
