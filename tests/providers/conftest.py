"""Fake provider servers on 127.0.0.1, settings pointing at them, and fast retry/poll timings."""
from __future__ import annotations

import time

import pytest

from tests.fakes.bytedance_fake import ArkFake, VolcFake
from tests.fakes.google_fake import GoogleFake
from tests.fakes.kling_fake import KlingFake
from tests.fakes.openai_fake import OpenAIFake

# Every variable a provider reads: none may leak in from the developer's shell.
PROVIDER_ENV = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "GOOGLE_API_KEY", "GEMINI_API_KEY",
    "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_ACCESS_TOKEN", "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_VERTEX_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "IGCS_IMAGEN_BACKEND", "VOLC_ACCESSKEY", "VOLC_SECRETKEY",
    "VOLC_BASE_URL", "ARK_API_KEY", "ARK_BASE_URL", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_BASE_URL",
    "IGCS_API_TIMEOUT_S", "IGCS_API_DEADLINE_S", "IGCS_API_MAX_RETRIES", "IGCS_API_BACKOFF_S",
    "IGCS_API_BACKOFF_MAX_S", "IGCS_API_POLL_INTERVAL_S", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
    "http_proxy", "https_proxy", "all_proxy",
)
# Tiny timings: a normal answer takes milliseconds; `slow` fakes answer after 3 s.
FAST = dict(api_timeout_s=2.0, api_deadline_s=10.0, api_max_retries=3, api_backoff_s=0.01, api_backoff_max_s=0.05,
            api_poll_interval_s=0.01)


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch):
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch) -> list[float]:
    """Backoff and poll waits, recorded (and shortened: the fakes do not hold a retry against us)."""
    from core.providers import base

    recorded: list[float] = []

    def sleep(seconds: float) -> None:
        recorded.append(seconds)
        time.sleep(min(seconds, 0.002))

    monkeypatch.setattr(base, "_sleep", sleep)
    return recorded


@pytest.fixture
def make_settings():
    """Settings from keyword arguments (provider variables by their env names), no `.env`, fast timings."""
    from core.settings import Settings

    def make(**values):
        return Settings(_env_file=None, **{**FAST, **values})

    return make


@pytest.fixture
def openai_fake():
    with OpenAIFake() as fake:
        yield fake


@pytest.fixture
def google_fake():
    with GoogleFake() as fake:
        yield fake


@pytest.fixture
def volc_fake():
    with VolcFake() as fake:
        yield fake


@pytest.fixture
def ark_fake():
    with ArkFake() as fake:
        yield fake


@pytest.fixture
def kling_fake():
    with KlingFake() as fake:
        yield fake


@pytest.fixture
def openai_settings(openai_fake, make_settings):
    return make_settings(OPENAI_API_KEY=openai_fake.api_key, OPENAI_BASE_URL=openai_fake.base_url)


@pytest.fixture
def vertex_settings(google_fake, make_settings):
    return make_settings(IGCS_IMAGEN_BACKEND="vertex", GOOGLE_CLOUD_PROJECT=google_fake.project,
                         GOOGLE_CLOUD_LOCATION=google_fake.location, GOOGLE_ACCESS_TOKEN=google_fake.access_token,
                         GOOGLE_VERTEX_BASE_URL=google_fake.base_url)


@pytest.fixture
def gemini_settings(google_fake, make_settings):
    return make_settings(IGCS_IMAGEN_BACKEND="gemini", GOOGLE_API_KEY=google_fake.api_key,
                         GOOGLE_GEMINI_BASE_URL=google_fake.base_url)


@pytest.fixture
def volc_settings(volc_fake, make_settings):
    return make_settings(VOLC_ACCESSKEY=volc_fake.access_key, VOLC_SECRETKEY=volc_fake.secret_key,
                         VOLC_BASE_URL=volc_fake.base_url)


@pytest.fixture
def ark_settings(ark_fake, make_settings):
    return make_settings(ARK_API_KEY=ark_fake.api_key, ARK_BASE_URL=ark_fake.base_url)


@pytest.fixture
def kling_settings(kling_fake, make_settings):
    return make_settings(KLING_ACCESS_KEY=kling_fake.access_key, KLING_SECRET_KEY=kling_fake.secret_key,
                         KLING_BASE_URL=kling_fake.base_url)


@pytest.fixture
def make_request():
    """(spec, resolved request) for an API model; seed 7 and a plain prompt unless given."""
    from core.registry import get_spec
    from core.jobs import GenerationRequest

    def make(model: str, **kw):
        kw.setdefault("seed", 7)
        kw.setdefault("prompt", "a red cube on a wooden table, studio light")
        spec = get_spec(model)
        return spec, GenerationRequest(model=model, **kw).resolved(spec)

    return make
