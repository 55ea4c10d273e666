"""OpenAI Images: the GPT image models through the official `openai` SDK.

``POST {OPENAI_BASE_URL}/images/generations`` with ``Authorization: Bearer OPENAI_API_KEY``. The SDK
client is built with ``max_retries=0``: retries, backoff and the total deadline are ours (base.Call), so
every provider follows one policy and a Retry-After longer than the time left fails at once instead of
sleeping past the deadline (the SDK caps Retry-After at 60 s and knows no total deadline).

Models, per the installed SDK (openai 3.57.0, ``types/image_model.py`` and ``resources/images.py``):
gpt-image-1-mini, gpt-image-1.5, gpt-image-2, gpt-image-2.5-sunburst/-flare, gpt-image-2.6-sunburst/-flare.
dall-e-2 and dall-e-3 were retired on 2026-05-12 and gpt-image-1 shut down on 2026-10-23: their keys stay
(past rows) and `catalog.refuse_retired` stops any new request. GPT image models always answer base64;
``response_format`` and ``style`` are for the retired DALL-E models only. gpt-image-2 and 2.5-* take any
WIDTHxHEIGHT (multiples of 16, ratio 1:3 to 3:1, at most 3840x2160); the others the three standard sizes.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from core.errors import RequestError
from core.providers.base import (
    ApiResult,
    Call,
    Number,
    OneOf,
    ProviderError,
    api_spec,
    check_common,
    check_extra,
    decode_b64_image,
    kind_for_status,
    nearest_size,
    parse_retry_after,
    price,
    secret,
    sent,
    size_of,
)
from core.providers.catalog import refuse_retired

if TYPE_CHECKING:
    from core.spec import ModelSpec
    from core.jobs import GenerationRequest
    from core.settings import Settings

PROVIDER = "openai"
_LICENSE = "proprietary (OpenAI API terms; outputs owned by the user)"
STANDARD_SIZES = [(1024, 1024), (1536, 1024), (1024, 1536)]
FREE_SIZE = {"gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2.5-flare"}  # any WxH within the limits
MAX_EDGE, MAX_PIXELS, MAX_RATIO = 3840, 3840 * 2160, 3.0
NAMES = {"gpt-image-1-mini": "GPT Image 1 mini", "gpt-image-1.5": "GPT Image 1.5", "gpt-image-2": "GPT Image 2",
         "gpt-image-2.5-sunburst": "GPT Image 2.5 Sunburst", "gpt-image-2.5-flare": "GPT Image 2.5 Flare",
         "gpt-image-2.6-sunburst": "GPT Image 2.6 Sunburst", "gpt-image-2.6-flare": "GPT Image 2.6 Flare"}
RETIRED = {"dall-e-2": "DALL-E 2 (retired)", "dall-e-3": "DALL-E 3 (retired)", "gpt-image-1": "GPT Image 1 (retired)"}
SAFETY_CODES = {"content_policy_violation", "moderation_blocked", "image_generation_user_error"}
_QUALITY = ("low", "medium", "high", "auto")
_QUALITY_25 = ("low", "medium", "high", "xhigh", "max", "auto")


def _options(key: str) -> dict[str, Any]:
    return {"quality": OneOf(_QUALITY_25 if key.startswith("gpt-image-2.5") else _QUALITY),
            "background": OneOf(("transparent", "opaque", "auto")),
            "output_format": OneOf(("png", "jpeg", "webp")),
            "output_compression": Number(0, 100, integer=True),
            "moderation": OneOf(("low", "auto"))}


def specs() -> list["ModelSpec"]:
    out = [api_spec(key, name=name, provider=PROVIDER, width=1024, height=1024, max_images_per_call=10,
                    license=_LICENSE,
                    notes=("any WxH in multiples of 16, ratio 1:3-3:1, up to 3840x2160" if key in FREE_SIZE
                           else "1024x1024, 1536x1024, 1024x1536") + "; quality, background, output_format, "
                          "output_compression, moderation (options); always base64")
           for key, name in NAMES.items()]
    out += [api_spec(key, name=name, provider=PROVIDER, width=1024, height=1024, max_images_per_call=1,
                     license=_LICENSE, notes="retired: kept so past rows stay browsable; requests are refused")
            for key, name in RETIRED.items()]
    return out


def options(spec: "ModelSpec", settings: "Settings | None" = None) -> dict[str, Any]:
    return {} if spec.key in RETIRED else _options(spec.key)


def missing_credentials(spec: "ModelSpec", settings: "Settings") -> str | None:
    if secret(settings.openai_api_key):
        return None
    return (f"{spec.key} needs an OpenAI API key: set OPENAI_API_KEY (and OPENAI_BASE_URL for another "
            "OpenAI-compatible endpoint) in the environment or .env")


# 1. Check inputs ------------------------------------------------------------------------------------
def check(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings | None" = None) -> None:
    refuse_retired(spec)
    check_common(spec, req, max_prompt=32000)
    check_extra(spec, req.extra, options(spec))
    fmt = req.extra.get("output_format", "png")
    if req.extra.get("background") == "transparent" and fmt not in ("png", "webp"):
        raise RequestError("extra.background", "transparent",
                           f"a transparent background needs output_format png or webp, not {fmt!r}")
    if "output_compression" in req.extra and fmt not in ("jpeg", "webp"):
        raise RequestError("extra.output_compression", req.extra["output_compression"],
                           "only with output_format jpeg or webp")


# 2. What is sent ------------------------------------------------------------------------------------
def _free_size(width: int, height: int) -> tuple[int, int]:
    """Keep the aspect ratio (clamped to 1:3-3:1) within 3840 per edge and 3840x2160 pixels, in 16s."""
    ratio = min(MAX_RATIO, max(1 / MAX_RATIO, width / height))
    w, h = float(width), float(width) / ratio
    scale = min(1.0, MAX_EDGE / max(w, h), math.sqrt(MAX_PIXELS / (w * h)))
    w, h = (max(16, round(v * scale / 16) * 16) for v in (w, h))
    while w * h > MAX_PIXELS or max(w, h) > MAX_EDGE:  # rounding up may pass a limit: step the long side down
        w, h = (w - 16, h) if w >= h else (w, h - 16)
    while max(w, h) / min(w, h) > MAX_RATIO:  # ... or the ratio: step the short side up
        w, h = (w, h + 16) if w > h else (w + 16, h)
    return w, h


def _params(spec: "ModelSpec", req: "GenerationRequest") -> dict[str, Any]:
    w, h = size_of(spec, req)
    w, h = _free_size(w, h) if spec.key in FREE_SIZE else nearest_size(w, h, STANDARD_SIZES)
    params: dict[str, Any] = {"model": spec.key, "n": req.num_images, "size": f"{w}x{h}",
                              "quality": req.extra.get("quality", "auto")}
    for name in ("background", "output_format", "output_compression", "moderation"):
        if name in req.extra:
            params[name] = req.extra[name]
    return params


def _price_key(params: dict[str, Any]) -> str:
    model = params["model"]
    quality = params["quality"] if params["quality"] in ("low", "medium") else "high"  # the guard assumes the worst
    if model.startswith("gpt-image-2.") or (model == "gpt-image-2"):
        return "gpt-image-2.x/high/1024" if model != "gpt-image-2" else f"gpt-image-2/{quality}/1024"
    w, h = map(int, params["size"].split("x"))
    return f"{model}/{quality}/{'1024' if w == h else '1536'}"


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    refuse_retired(spec)
    params = _params(spec, req)
    return price(_price_key(params)).usd * params["n"]


# 3. Errors ------------------------------------------------------------------------------------------
def classify_sdk_error(call: Call, exc: Exception, *, what: str, is_safety, kind_of=None) -> ProviderError:
    """An `openai` SDK exception as a ProviderError (shared with Ark, which speaks the same protocol)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        code = body.get("code") or body.get("type")
        message = body.get("message") or str(exc)
        kind, retryable = kind_of(status, code, str(message)) if kind_of else (None, None)
        if kind:
            pass
        elif is_safety(status, code, str(message)):
            kind = "safety"
        elif code == "insufficient_quota":  # a 429 about billing: waiting will not help
            kind, retryable = "rate_limit", False
        return call.error(kind or kind_for_status(status), message, status=status, code=code,
                          request_id=exc.request_id, retry_after_s=parse_retry_after(exc.response.headers),
                          retryable=retryable)
    if isinstance(exc, openai.APITimeoutError):
        return call.error("timeout", f"{what}: no answer within the request timeout "
                                     f"(at most {call.policy.timeout_s:g} s)")
    if isinstance(exc, openai.APIConnectionError):
        return call.error("server", f"{what}: could not reach the server ({exc.message})", retryable=False)
    return call.error("malformed", f"{what}: unreadable answer ({type(exc).__name__}: {exc})")


def images_generate(call: Call, *, api_key: str, base_url: str, prompt: str, params: dict[str, Any], what: str,
                    is_safety, extra_body: dict[str, Any] | None = None, kind_of=None) -> tuple[Any, list]:
    """`images.generate` on an OpenAI-compatible endpoint (OpenAI, ByteDance Ark) under `call`'s retry
    policy and deadline; returns the SDK response and its images (base64 decoded or downloaded)."""
    import openai

    client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=call.policy.timeout_s)

    def attempt(timeout: float) -> Any:
        try:
            return client.images.generate(prompt=prompt, **params, timeout=timeout,
                                          **({"extra_body": extra_body} if extra_body else {}))
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a classified ProviderError
            raise classify_sdk_error(call, exc, what=what, is_safety=is_safety, kind_of=kind_of) from None

    try:
        resp = call.retrying(attempt, what=what)
    finally:
        client.close()
    request_id = getattr(resp, "_request_id", None)
    if not getattr(resp, "data", None):
        raise call.error("malformed", f"{what}: the answer has no images (no 'data')", request_id=request_id)
    images = []
    for i, item in enumerate(resp.data):
        if item.b64_json:
            images.append(decode_b64_image(item.b64_json, what=f"image {i}", error=call.error))
        elif item.url:
            images.append(call.download_image(item.url, what=f"image {i} download"))
        else:
            raise call.error("malformed", f"image {i} has neither b64_json nor url", request_id=request_id)
    return resp, images


def _is_safety(status: int, code: Any, message: str) -> bool:
    return code in SAFETY_CODES or (status == 400 and "safety system" in message.lower())


# 4. Call --------------------------------------------------------------------------------------------
def generate(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    params = _params(spec, req)
    key = secret(settings.openai_api_key)
    with Call(PROVIDER, settings, secrets=[key]) as call:
        resp, images = images_generate(call, api_key=key, base_url=settings.openai_base_url, prompt=req.prompt,
                                       params=params, what="images.generate", is_safety=_is_safety)
        sent_params = sent(**params)
        usage = getattr(resp, "usage", None)
        if usage is not None:  # what OpenAI counted, for the bill
            sent_params["usage_tokens"] = {"input": usage.input_tokens, "output": usage.output_tokens}
        return ApiResult(images=images, request_id=getattr(resp, "_request_id", None),
                         cost_usd=round(price(_price_key(params)).usd * len(images), 6), sent_params=sent_params,
                         latency_s=call.elapsed(), revised_prompt=getattr(resp.data[0], "revised_prompt", None),
                         provider=PROVIDER, model_id=spec.key, attempts=call.attempts)


# 5. Which models this key can use -------------------------------------------------------------------
def list_model_ids(settings: "Settings") -> list[str]:
    """``GET /models`` (models.list) with this key: every model id it can use."""
    import openai

    key = secret(settings.openai_api_key)
    with Call(PROVIDER, settings, secrets=[key]) as call:
        client = openai.OpenAI(api_key=key, base_url=settings.openai_base_url, max_retries=0,
                               timeout=call.policy.timeout_s)

        def attempt(timeout: float) -> list[str]:
            try:
                return [m.id for m in client.models.list(timeout=timeout)]
            except Exception as exc:  # noqa: BLE001 - classified like a generation's errors
                raise classify_sdk_error(call, exc, what="models.list", is_safety=lambda *a: False) from None

        try:
            return call.retrying(attempt, what="models.list")
        finally:
            client.close()
