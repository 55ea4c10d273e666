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

Edits: ``POST {OPENAI_BASE_URL}/images/edits`` (``images.edit``, multipart/form-data) with the source file(s) as
``image`` (one) or ``image[]`` (up to 16: png, webp or jpg under 50 MB each), an optional ``mask`` (a PNG under
4 MB with an alpha channel, the first image's size: its transparent pixels mark where to edit), and the same
``size``, ``quality``, ``n`` and output options as generation. ``input_fidelity`` (how closely the output keeps
the input's features) is taken by gpt-image-1.5 (high|low) and gpt-image-1-mini (low only); the SDK says to omit
it for gpt-image-2, and documents it for no other model, so we refuse it there. An edit is priced like a generation
(per output image, by quality and size) plus its input image tokens (``usage.input_tokens_details.image_tokens``)
at the model's image-input rate; before sending, those tokens are estimated from the sources' sizes.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from core.errors import RequestError
from core.providers.base import (
    PRICES,
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
from core.providers.inputs import Limits, is_edit, mask_source, recorded, refuse_edit_options, sources

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
MAX_EDIT_IMAGES = 16
IMAGE_LIMITS = Limits(formats=("png", "jpeg", "webp"), max_bytes=50 * 1024 * 1024)
MASK_LIMITS = Limits(formats=("png",), max_bytes=4 * 1024 * 1024, alpha=True)
INPUT_FIDELITY = {"gpt-image-1.5": ("high", "low"), "gpt-image-1-mini": ("low",)}
EDIT_OPTIONS = ("input_fidelity",)


def _options(key: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"quality": OneOf(_QUALITY_25 if key.startswith("gpt-image-2.5") else _QUALITY),
                              "background": OneOf(("transparent", "opaque", "auto")),
                              "output_format": OneOf(("png", "jpeg", "webp")),
                              "output_compression": Number(0, 100, integer=True),
                              "moderation": OneOf(("low", "auto"))}
    if key in INPUT_FIDELITY:
        schema["input_fidelity"] = OneOf(INPUT_FIDELITY[key])
    return schema


def specs() -> list["ModelSpec"]:
    out = [api_spec(key, name=name, provider=PROVIDER, width=1024, height=1024, max_images_per_call=10,
                    license=_LICENSE, tasks=("text-to-image", "edit"), max_input_images=MAX_EDIT_IMAGES,
                    takes_mask=True,
                    notes=("any WxH in multiples of 16, ratio 1:3-3:1, up to 3840x2160" if key in FREE_SIZE
                           else "1024x1024, 1536x1024, 1024x1536") + "; quality, background, output_format, "
                          "output_compression, moderation (options); always base64; edits (images.edit): up to "
                          f"{MAX_EDIT_IMAGES} source images and a mask"
                          + (f", input_fidelity {'|'.join(INPUT_FIDELITY[key])}" if key in INPUT_FIDELITY else ""))
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
    refuse_edit_options(spec, req, EDIT_OPTIONS)
    edit_sources(spec, req)


def edit_sources(spec: "ModelSpec", req: "GenerationRequest") -> tuple[list, Any]:
    """The source images and the mask of an edit, read and checked (([], None) for text-to-image)."""
    images = sources(spec, req, IMAGE_LIMITS)
    return images, mask_source(spec, req, MASK_LIMITS, images[0] if images else None)


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
    for name in ("background", "output_format", "output_compression", "moderation", *EDIT_OPTIONS):
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


def _image_token_usd(model: str) -> float:
    """USD per input image token (edits): the model's row, or gpt-image-2's for the 2.5 and 2.6 models."""
    key = f"{model}/input-image-token"
    return price(key if key in PRICES else "gpt-image-2/input-image-token").usd


def estimate_input_image_tokens(width: int, height: int) -> int:
    """Tokens of one source image, estimated before sending by the vision tile rule (scale to fit 2048x2048, then
    the short side to 768; 85 + 170 per 512 px tile). The bill uses the count the answer reports."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    refuse_retired(spec)
    params = _params(spec, req)
    cost = price(_price_key(params)).usd * params["n"]
    if is_edit(req):
        images, _ = edit_sources(spec, req)
        tokens = sum(estimate_input_image_tokens(s.width, s.height) for s in images)
        cost += tokens * _image_token_usd(spec.key)
    return cost


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
    return _images_call(call, lambda client, timeout: client.images.generate(
        prompt=prompt, **params, timeout=timeout, **({"extra_body": extra_body} if extra_body else {})),
        api_key=api_key, base_url=base_url, what=what, is_safety=is_safety, kind_of=kind_of)


def images_edit(call: Call, *, api_key: str, base_url: str, prompt: str, params: dict[str, Any], images: list,
                mask: Any, what: str, is_safety) -> tuple[Any, list]:
    """`images.edit` (multipart: ``image`` or ``image[]``, ``mask``) under `call`'s retries and deadline."""
    files = [(s.filename, s.data, s.mime) for s in images]
    extra = {"mask": (mask.filename, mask.data, mask.mime)} if mask is not None else {}
    return _images_call(call, lambda client, timeout: client.images.edit(
        image=files[0] if len(files) == 1 else files, prompt=prompt, **extra, **params, timeout=timeout),
        api_key=api_key, base_url=base_url, what=what, is_safety=is_safety, kind_of=None)


def _images_call(call: Call, send, *, api_key: str, base_url: str, what: str, is_safety, kind_of) -> tuple[Any, list]:
    import openai

    client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=call.policy.timeout_s)

    def attempt(timeout: float) -> Any:
        try:
            return send(client, timeout)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a classified ProviderError
            raise classify_sdk_error(call, exc, what=what, is_safety=is_safety, kind_of=kind_of) from None

    try:
        resp = call.retrying(attempt, what=what)
    finally:
        client.close()
    request_id = getattr(resp, "_request_id", None)
    if not getattr(resp, "data", None):
        raise call.error("malformed", f"{what}: the answer has no images (no 'data')", request_id=request_id)
    out = []
    for i, item in enumerate(resp.data):
        if item.b64_json:
            out.append(decode_b64_image(item.b64_json, what=f"image {i}", error=call.error))
        elif item.url:
            out.append(call.download_image(item.url, what=f"image {i} download"))
        else:
            raise call.error("malformed", f"image {i} has neither b64_json nor url", request_id=request_id)
    return resp, out


def _is_safety(status: int, code: Any, message: str) -> bool:
    return code in SAFETY_CODES or (status == 400 and "safety system" in message.lower())


# 4. Call --------------------------------------------------------------------------------------------
def generate(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    params = _params(spec, req)
    key = secret(settings.openai_api_key)
    edit = is_edit(req)
    images_in, mask = edit_sources(spec, req)
    with Call(PROVIDER, settings, secrets=[key]) as call:
        if edit:
            resp, images = images_edit(call, api_key=key, base_url=settings.openai_base_url, prompt=req.prompt,
                                       params=params, images=images_in, mask=mask, what="images.edit",
                                       is_safety=_is_safety)
        else:
            resp, images = images_generate(call, api_key=key, base_url=settings.openai_base_url, prompt=req.prompt,
                                           params=params, what="images.generate", is_safety=_is_safety)
        sent_params = sent(**params)
        cost = price(_price_key(params)).usd * len(images)
        usage = getattr(resp, "usage", None)
        if usage is not None:  # what OpenAI counted, for the bill
            sent_params["usage_tokens"] = {"input": usage.input_tokens, "output": usage.output_tokens}
        if edit:
            sent_params.update(endpoint="images.edit", image=recorded(images_in))
            if mask is not None:
                sent_params["mask"] = mask.record()
            details = getattr(usage, "input_tokens_details", None)
            image_tokens = getattr(details, "image_tokens", None)
            if image_tokens is None:  # no usage in the answer: the estimate stands in, and says so
                image_tokens = sum(estimate_input_image_tokens(s.width, s.height) for s in images_in)
                sent_params["input_image_tokens_estimated"] = True
            sent_params.setdefault("usage_tokens", {})["input_image"] = int(image_tokens)
            cost += int(image_tokens) * _image_token_usd(spec.key)
        return ApiResult(images=images, request_id=getattr(resp, "_request_id", None),
                         cost_usd=round(cost, 6), sent_params=sent_params,
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
