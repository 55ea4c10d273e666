"""The shared pieces: registration, the four-function interface, retries, sizes, prices, credentials."""
from __future__ import annotations

import email.utils
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from core import providers
from core.errors import RequestError
from core.providers import PRICES, ProviderError, base
from core.registry import get_spec, resolve_models
from core.jobs import GenerationRequest

API_KEYS = ["gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2.5-flare",
            "gpt-image-2.6-sunburst", "gpt-image-2.6-flare", "dall-e-2", "dall-e-3", "gpt-image-1",
            "gemini-2.5-flash-image", "gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-lite-image",
            "imagen-3", "imagen-4", "imagen-4-fast", "imagen-4-ultra",
            "seedream-3", "seedream-4", "volc-general-2.1", "jimeng-3.0", "kling-v1", "kling-v1-5", "kling-v2",
            "kling-v2-1", "kling-v2-new"]
RETIRED = ["dall-e-2", "dall-e-3", "gpt-image-1"]
REPO = Path(__file__).resolve().parents[2]


def test_api_models_are_registry_entries():
    # the "api" group leaves out retired models; each key is still a registry entry (past rows stay browsable)
    assert [s.key for s in resolve_models("api")] == [k for k in API_KEYS if providers.catalog.is_available(k)]
    specs = providers.api_specs()
    assert len(specs) == len({s.key for s in specs}) == len(API_KEYS)
    for module in providers.PROVIDERS.values():  # each provider module offers the whole interface
        assert all(callable(getattr(module, name, None)) for name in base.PROVIDER_FUNCTIONS), module.__name__
    for key in API_KEYS:
        spec = get_spec(key)
        assert spec.kind == "api" and spec.is_api and spec.provider in providers.PROVIDERS
        assert spec.name and spec.license and spec.max_images_per_call >= 1
    assert get_spec("gemini-3-pro-image").max_images_per_call == 1 and get_spec("kling-v1").max_images_per_call == 9
    assert get_spec("kling-v1").supports_negative and not get_spec("imagen-4").supports_negative


def test_importing_providers_needs_no_torch_and_no_sdk():
    code = ("import sys, core.providers, core.registry; core.registry.all_specs(); "
            "print('torch' in sys.modules, 'openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_open_models_are_not_for_providers():
    spec = get_spec("sd21")
    with pytest.raises(ValueError, match="open model"):
        providers.check_request(spec, GenerationRequest(model="sd21", prompt="x"))


def test_unset_fields_take_the_model_defaults():
    spec = get_spec("gpt-image-1.5")
    req = GenerationRequest(model="gpt-image-1.5", prompt="a cat")  # not resolved: no size, no seed
    providers.check_request(spec, req)
    assert providers.estimate_cost_usd(spec, req) == pytest.approx(0.133)


@pytest.mark.parametrize("model,kw,field", [
    ("gemini-3-pro-image", {"num_images": 2}, "num_images"),
    ("gpt-image-1.5", {"prompt": "y" * 32001}, "prompt"),
    ("gpt-image-1.5", {"prompt": "   "}, "prompt"),
    ("gpt-image-2", {"extra": {"style": "vivid"}}, "extra.style"),
    ("gpt-image-2", {"extra": {"quality": "hd"}}, "extra.quality"),
    ("gpt-image-1.5", {"extra": {"quality": "xhigh"}}, "extra.quality"),
    ("gpt-image-1-mini", {"extra": {"output_compression": 50}}, "extra.output_compression"),
    ("dall-e-3", {}, "model"),
    ("gpt-image-1", {}, "model"),
    ("kling-v1", {"extra": {"aspect_ratio": "21:9"}}, "extra.aspect_ratio"),
    ("kling-v1-5", {"extra": {"resolution": "2k"}}, "extra.resolution"),
    ("imagen-3", {"num_images": 5}, "IGCS_IMAGEN_BACKEND"),  # Imagen is Vertex-only: refused on the Gemini API
    ("kling-v1", {"num_images": 10}, "num_images"),
    ("kling-v1", {"negative_prompt": "n" * 2501}, "negative_prompt"),
    ("seedream-3", {"extra": {"size": "1K"}}, "extra.size"),
    ("gpt-image-2", {"negative_prompt": "blurry"}, "negative_prompt"),
    ("gpt-image-2", {"width": 0}, "width"),
])
def test_check_request_names_the_field(model, kw, field):
    from dataclasses import replace

    spec = get_spec(model)
    req = replace(GenerationRequest(model=model, prompt="a cat", seed=1), **kw)
    with pytest.raises(RequestError) as e:
        providers.check_request(spec, req)
    assert e.value.field == field and e.value.allowed


@pytest.mark.parametrize("model,kw,usd", [
    ("gpt-image-1-mini", {"width": 1536, "height": 1024, "num_images": 4, "extra": {"quality": "low"}}, 4 * 0.006),
    ("gpt-image-1.5", {}, 0.133),  # quality auto is estimated as high
    ("gpt-image-2", {"extra": {"quality": "medium"}}, 0.07),
    ("gpt-image-2.5-flare", {"extra": {"quality": "max"}}, 0.19),
    ("gemini-3.1-flash-image", {}, 0.067),
    ("imagen-4", {"num_images": 4}, 0.16),
    ("imagen-4-fast", {}, 0.02),
    ("seedream-3", {}, 0.036),
    ("jimeng-3.0", {}, 0.028),
    ("kling-v1", {"num_images": 9}, 0.045),
])
def test_estimates(model, kw, usd):
    spec = get_spec(model)
    assert providers.estimate_cost_usd(spec, GenerationRequest(model=model, prompt="a cat", **kw)) == pytest.approx(usd)


def test_prices_are_dated_and_sourced():
    assert PRICES
    for key, p in PRICES.items():
        assert p.usd > 0 and p.source, key
        assert date.fromisoformat(p.as_of) <= date.today()
    for key in API_KEYS:
        if key in RETIRED:
            with pytest.raises(RequestError, match="retired"):
                providers.estimate_cost_usd(get_spec(key), GenerationRequest(model=key, prompt="a"))
        else:
            assert providers.estimate_cost_usd(get_spec(key), GenerationRequest(model=key, prompt="a")) > 0


def test_missing_credentials_name_the_variables(make_settings):
    empty = make_settings()
    expect = {"gpt-image-2": ["OPENAI_API_KEY"], "imagen-4": ["GOOGLE_CLOUD_PROJECT", "GOOGLE_ACCESS_TOKEN"],
              "gemini-3.1-flash-image": ["GOOGLE_API_KEY"],
              "seedream-3": ["ARK_API_KEY"], "jimeng-3.0": ["VOLC_ACCESSKEY", "VOLC_SECRETKEY"],
              "kling-v2": ["KLING_ACCESS_KEY", "KLING_SECRET_KEY"]}
    for key, names in expect.items():
        message = providers.missing_credentials(get_spec(key), empty)
        assert message and all(n in message for n in names), message
    vertex = make_settings(IGCS_IMAGEN_BACKEND="vertex", GOOGLE_CLOUD_PROJECT="p")
    assert "GOOGLE_ACCESS_TOKEN" in providers.missing_credentials(get_spec("imagen-4"), vertex)
    full = make_settings(OPENAI_API_KEY="k", GOOGLE_CLOUD_PROJECT="p", GOOGLE_ACCESS_TOKEN="t", ARK_API_KEY="k", VOLC_ACCESSKEY="a",
                         VOLC_SECRETKEY="s", KLING_ACCESS_KEY="a", KLING_SECRET_KEY="s")
    assert all(providers.missing_credentials(get_spec(k), full) is None for k in API_KEYS)
    half = make_settings(VOLC_ACCESSKEY="a")
    assert providers.missing_credentials(get_spec("volc-general-2.1"), half).count("VOLC_") == 2  # names SECRETKEY


def test_missing_credentials_reads_the_environment(monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("KLING_ACCESS_KEY", "a")
    monkeypatch.setenv("KLING_SECRET_KEY", "s")
    get_settings.cache_clear()
    assert providers.missing_credentials(get_spec("kling-v1")) is None
    assert "OPENAI_API_KEY" in providers.missing_credentials(get_spec("gpt-image-2"))


def test_generate_without_keys_is_an_auth_error_before_any_request(make_settings):
    spec = get_spec("gpt-image-2")
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, GenerationRequest(model="gpt-image-2", prompt="a cat", seed=1),
                           settings=make_settings())
    assert e.value.kind == "auth" and "OPENAI_API_KEY" in str(e.value)


# ---- retries, deadline ---------------------------------------------------------------------------------
def test_parse_retry_after():
    assert base.parse_retry_after({"retry-after": "2"}) == 2.0
    assert base.parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert base.parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < base.parse_retry_after({"retry-after": when}) <= 30
    assert base.parse_retry_after({"retry-after": "soon"}) is None
    assert base.parse_retry_after({}) is None


def test_backoff_is_exponential_capped_and_yields_to_retry_after():
    policy = base.CallPolicy(backoff_s=1.0, backoff_max_s=8.0)
    assert [policy.backoff(i, None) for i in range(6)] == [1, 2, 4, 8, 8, 8]
    assert policy.backoff(0, 20.0) == 20.0 and policy.backoff(3, 2.0) == 8.0


def test_retrying_stops_at_the_deadline(make_settings, sleeps):
    call = base.Call("test", make_settings(api_deadline_s=0.2, api_max_retries=100, api_backoff_s=0.05,
                                           api_backoff_max_s=0.05))
    attempts = []

    def attempt(timeout):
        attempts.append(timeout)
        assert timeout <= 0.2
        time.sleep(0.03)
        raise call.error("server", "boom", status=503)

    with pytest.raises(ProviderError) as e:
        call.retrying(attempt, what="op")
    assert e.value.kind == "server" and "deadline" in e.value.message
    assert 1 <= len(attempts) <= 8


def test_request_timeout_never_exceeds_the_time_left(make_settings):
    call = base.Call("test", make_settings(api_timeout_s=60, api_deadline_s=0.5))
    assert call.request_timeout("op") <= 0.5
    call.end = time.monotonic() - 1
    with pytest.raises(ProviderError) as e:
        call.request_timeout("op")
    assert e.value.kind == "timeout"


def test_unreachable_server_is_a_server_error_not_retried(make_settings, sleeps):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(KLING_ACCESS_KEY="a", KLING_SECRET_KEY="s" * 32, KLING_BASE_URL=f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderError) as e:
        providers.generate(get_spec("kling-v1"), GenerationRequest(model="kling-v1", prompt="a", seed=1),
                           settings=settings)
    assert e.value.kind == "server" and "could not reach" in e.value.message and sleeps == []


def test_error_text_and_redaction():
    err = ProviderError("safety", "no", provider="openai", request_id="req_1", status=400, code="content_policy")
    assert str(err) == "openai safety error: no (HTTP 400, code content_policy, request id req_1)"
    assert err.http_status == 400 and not err.retryable
    assert ProviderError("rate_limit", "x", provider="p").retryable
    with pytest.raises(ValueError):
        ProviderError("oops", "x", provider="p")
    assert base.redact("key sk-abc123456 and sk-abc123456789", ["sk-abc123456", "sk-abc123456789"]) == "key *** and ***"


# ---- sizes ---------------------------------------------------------------------------------------------
def test_nearest_size_and_ratio():
    dalle3 = [(1024, 1024), (1792, 1024), (1024, 1792)]
    assert base.nearest_size(1024, 768, dalle3) == (1792, 1024)
    assert base.nearest_size(1000, 1100, dalle3) == (1024, 1024)
    assert base.nearest_size(600, 1200, dalle3) == (1024, 1792)
    assert base.nearest_size(768, 768, [(256, 256), (512, 512), (1024, 1024)]) == (1024, 1024)
    assert base.nearest_size(300, 300, [(256, 256), (512, 512), (1024, 1024)]) == (256, 256)
    ratios = ("1:1", "3:4", "4:3", "9:16", "16:9")
    assert base.nearest_aspect_ratio(1920, 1080, ratios) == "16:9"
    assert base.nearest_aspect_ratio(1000, 1300, ratios) == "3:4"
    assert base.nearest_aspect_ratio(2100, 900, ("16:9", "21:9", "1:1")) == "21:9"


def test_fit_size():
    assert base.fit_size(1024, 1024, min_side=256, max_side=768) == (768, 768)
    assert base.fit_size(1600, 900, min_side=256, max_side=768) == (768, 432)
    assert base.fit_size(200, 200, min_side=512, max_side=2048, multiple=16) == (512, 512)
    assert base.fit_size(512, 512, min_side=256, max_side=4096, multiple=16, min_pixels=1280 * 720) == (960, 960)
    w, h = base.fit_size(4096, 4096, min_side=256, max_side=4096, multiple=16, max_pixels=2048 * 2048)
    assert (w, h) == (2048, 2048)
