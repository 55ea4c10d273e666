"""Closed-source image API clients, one module per provider (no torch import here).

``api_specs()`` lists one API `ModelSpec` per model (the registry asks for them; nothing is registered
as a side effect of an import). The engine uses four functions, all keyed by the spec:

- ``check_request(spec, req)``: per-model parameter checks (RequestError) before any request is sent;
- ``estimate_cost_usd(spec, req)``: list-price estimate for the ``--max-cost`` guard (``PRICES``, dated);
- ``missing_credentials(spec)``: a message naming the variables to set, or None when keys are present;
- ``generate(spec, req)``: one call → ``ApiResult`` (images, request id, cost, what was sent, latency),
  or a ``ProviderError`` whose ``kind`` is auth, rate_limit, safety, bad_request, server, timeout or
  malformed.

Provider modules: ``openai_images`` (OpenAI SDK), ``google_images`` (google-genai: ``imagen`` on Vertex AI,
``gemini_images`` on the Gemini API or Vertex AI), ``bytedance`` (Volcano visual API with AK/SK signing, Ark
Seedream), ``kling`` (JWT, submit and poll); shared code in ``base``; an edit's source images (read, checked
against each provider's limits, encoded) in ``inputs``; status of every model, and which edit, in ``catalog``
(retired models are refused before sending); ``listing.available_models`` and ``options.parse_params`` for
the pages and the command line. Base URLs, keys, timeouts and the deadline come from ``core.settings`` (see ``.env.example``).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from types import ModuleType
from typing import TYPE_CHECKING

from core.providers import base, bytedance, catalog, google_images, kling, openai_images
from core.providers.base import PRICES, ApiResult, Price, ProviderError
from core.spec import ModelSpec
from core.settings import get_settings

if TYPE_CHECKING:
    from core.jobs import GenerationRequest
    from core.settings import Settings

__all__ = ["generate", "check_request", "estimate_cost_usd", "missing_credentials", "ApiResult", "ProviderError",
           "PRICES", "Price", "PROVIDERS", "api_specs"]

PROVIDERS: dict[str, ModuleType] = {
    openai_images.PROVIDER: openai_images,
    google_images.PROVIDER: google_images,
    bytedance.PROVIDER: bytedance,
    kling.PROVIDER: kling,
}
log = logging.getLogger("core.providers")


def api_specs() -> list[ModelSpec]:
    """Every provider's model specs, in provider order (one per key)."""
    out: dict[str, ModelSpec] = {}
    for module in PROVIDERS.values():
        for spec in module.specs():
            out.setdefault(spec.key, spec)
    return list(out.values())


def _provider(spec: ModelSpec) -> ModuleType:
    if not spec.is_api:
        raise ValueError(f"{spec.key} is an open model, not an API model")
    module = PROVIDERS.get(spec.provider or "")
    if module is None:
        raise ValueError(f"{spec.key}: unknown provider {spec.provider!r}; known: {', '.join(PROVIDERS)}")
    return module


def _settings(settings: "Settings | None") -> "Settings":
    if settings is not None:
        return settings
    return get_settings()


def _filled(spec: ModelSpec, req: "GenerationRequest") -> "GenerationRequest":
    """Unset size, steps and guidance from the spec (the seed stays as given: None is never sent)."""
    return replace(req,
                   width=req.width if req.width is not None else spec.width,
                   height=req.height if req.height is not None else spec.height,
                   steps=req.steps if req.steps is not None else spec.steps,
                   guidance=req.guidance if req.guidance is not None else spec.guidance,
                   extra=dict(req.extra or {}))


def check_request(spec: ModelSpec, req: "GenerationRequest", *, settings: "Settings | None" = None) -> None:
    """Raise core.errors.RequestError(field, value, allowed) for anything this model would refuse
    (a retired model first, naming its replacement)."""
    module = _provider(spec)
    catalog.refuse_retired(spec)
    module.check(spec, _filled(spec, req), _settings(settings))


def estimate_cost_usd(spec: ModelSpec, req: "GenerationRequest") -> float:
    """List-price estimate in USD for this request (all its images), from PRICES."""
    return round(_provider(spec).estimate_cost_usd(spec, _filled(spec, req)), 6)


def missing_credentials(spec: ModelSpec, settings: "Settings | None" = None) -> str | None:
    """None when the provider's keys are set; else a message naming the environment variables to set."""
    return _provider(spec).missing_credentials(spec, _settings(settings))


def generate(spec: ModelSpec, req: "GenerationRequest", *, settings: "Settings | None" = None) -> ApiResult:
    """Check, then call the provider: images, request id, cost, what was sent, latency. Raises
    RequestError before any request, ProviderError(kind=...) for anything the call ran into."""
    module = _provider(spec)
    settings = _settings(settings)
    req = _filled(spec, req)
    catalog.refuse_retired(spec)
    module.check(spec, req, settings)
    missing = module.missing_credentials(spec, settings)
    if missing:
        raise ProviderError("auth", missing, provider=module.PROVIDER)
    log.info("%s %s: %s, %d image(s) requested%s", module.PROVIDER, spec.key, req.task, req.num_images,
             f" from {len(req.inputs)} source image(s)" if req.inputs else "")
    result = module.generate(spec, req, settings)
    log.info("%s %s: %d image(s) in %.2f s, %d attempt(s), %.4f USD, request id %s", module.PROVIDER, spec.key,
             len(result.images), result.latency_s, result.attempts, result.cost_usd, result.request_id)
    return result

