"""OpenAI Images: dall-e-2, dall-e-3 and gpt-image-1 through the official `openai` SDK.

``POST {OPENAI_BASE_URL}/images/generations`` with ``Authorization: Bearer OPENAI_API_KEY``. The SDK
client is built with ``max_retries=0``: retries, backoff and the total deadline are ours (base.Call), so
every provider follows one policy and a Retry-After longer than the time left fails at once instead of
sleeping past the deadline (the SDK caps Retry-After at 60 s and knows no total deadline).
DALL-E images are asked as ``b64_json`` (URLs expire after an hour; one round trip fewer); gpt-image-1
always answers base64 and reports token usage, from which its cost is computed.
"""
from __future__ import annotations

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

if TYPE_CHECKING:
    from core.spec import ModelSpec
    from core.request import GenerationRequest
    from core.settings import Settings

PROVIDER = "openai"
_LICENSE = "proprietary (OpenAI API terms; outputs owned by the user)"

SIZES: dict[str, list[tuple[int, int]]] = {
    "dall-e-2": [(256, 256), (512, 512), (1024, 1024)],
    "dall-e-3": [(1024, 1024), (1792, 1024), (1024, 1792)],
    "gpt-image-1": [(1024, 1024), (1536, 1024), (1024, 1536)],
}
MAX_PROMPT = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image-1": 32000}
EXTRAS: dict[str, dict[str, Any]] = {
    "dall-e-2": {"response_format": OneOf(("b64_json", "url"))},
    "dall-e-3": {"quality": OneOf(("standard", "hd")), "style": OneOf(("vivid", "natural")),
                 "response_format": OneOf(("b64_json", "url"))},
    "gpt-image-1": {"quality": OneOf(("low", "medium", "high", "auto")),
                    "background": OneOf(("transparent", "opaque", "auto")),
                    "output_format": OneOf(("png", "jpeg", "webp")),
                    "output_compression": Number(0, 100, integer=True),
                    "moderation": OneOf(("low", "auto"))},
}
SAFETY_CODES = {"content_policy_violation", "moderation_blocked", "image_generation_user_error"}


def specs() -> list["ModelSpec"]:
    return [
        api_spec("dall-e-2", name="DALL-E 2", provider=PROVIDER, width=1024, height=1024, max_images_per_call=10,
                 license=_LICENSE, notes="sizes 256/512/1024 square; prompt up to 1000 characters"),
        api_spec("dall-e-3", name="DALL-E 3", provider=PROVIDER, width=1024, height=1024, max_images_per_call=1,
                 license=_LICENSE, notes="one image per call; quality standard|hd, style vivid|natural (extra); "
                                         "rewrites the prompt (revised_prompt)"),
        api_spec("gpt-image-1", name="GPT Image 1", provider=PROVIDER, width=1024, height=1024,
                 max_images_per_call=10, license=_LICENSE,
                 notes="quality low|medium|high|auto, background, output_format (extra); billed by tokens"),
    ]


def missing_credentials(spec: "ModelSpec", settings: "Settings") -> str | None:
    if secret(settings.openai_api_key):
        return None
    return (f"{spec.key} needs an OpenAI API key: set OPENAI_API_KEY (and OPENAI_BASE_URL for another "
            "OpenAI-compatible endpoint) in the environment or .env")


# 1. Check inputs ------------------------------------------------------------------------------------
def check(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings | None" = None) -> None:
    check_common(spec, req, max_prompt=MAX_PROMPT[spec.key])
    check_extra(spec, req.extra, EXTRAS[spec.key])
    if spec.key == "gpt-image-1":
        fmt = req.extra.get("output_format", "png")
        if req.extra.get("background") == "transparent" and fmt not in ("png", "webp"):
            raise RequestError("extra.background", "transparent",
                               f"a transparent background needs output_format png or webp, not {fmt!r}")
        if "output_compression" in req.extra and fmt not in ("jpeg", "webp"):
            raise RequestError("extra.output_compression", req.extra["output_compression"],
                               "only with output_format jpeg or webp")


# 2. What is sent ------------------------------------------------------------------------------------
def _params(spec: "ModelSpec", req: "GenerationRequest") -> dict[str, Any]:
    w, h = nearest_size(*size_of(spec, req), SIZES[spec.key])
    params: dict[str, Any] = {"model": spec.key, "n": req.num_images, "size": f"{w}x{h}"}
    if spec.key == "dall-e-3":
        params["quality"] = req.extra.get("quality", "standard")
        params["style"] = req.extra.get("style", "vivid")
    if spec.key in ("dall-e-2", "dall-e-3"):
        params["response_format"] = req.extra.get("response_format", "b64_json")
    if spec.key == "gpt-image-1":
        params["quality"] = req.extra.get("quality", "auto")
        for name in ("background", "output_format", "output_compression", "moderation"):
            if name in req.extra:
                params[name] = req.extra[name]
    return params


def _price_key(params: dict[str, Any]) -> str:
    model, size = params["model"], params["size"]
    if model == "dall-e-2":
        return f"dall-e-2/{size}"
    if model == "dall-e-3":
        return f"dall-e-3/{params['quality']}/{size}"
    quality = params["quality"] if params["quality"] != "auto" else "high"  # the guard assumes the worst
    return f"gpt-image-1/{quality}/{'1024x1024' if size == '1024x1024' else '1536'}"


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    params = _params(spec, req)
    return price(_price_key(params)).usd * params["n"]


# 3. Errors ------------------------------------------------------------------------------------------
def classify_sdk_error(call: Call, exc: Exception, *, what: str, is_safety) -> ProviderError:
    """An `openai` SDK exception as a ProviderError (shared with Ark, which speaks the same protocol)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        code = body.get("code") or body.get("type")
        message = body.get("message") or str(exc)
        kind, retryable = None, None
        if is_safety(status, code, str(message)):
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
                    is_safety, extra_body: dict[str, Any] | None = None) -> tuple[Any, list]:
    """`images.generate` on an OpenAI-compatible endpoint (OpenAI, ByteDance Ark) under `call`'s retry
    policy and deadline; returns the SDK response and its images (base64 decoded or downloaded)."""
    import openai

    client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=call.policy.timeout_s)

    def attempt(timeout: float) -> Any:
        try:
            return client.images.generate(prompt=prompt, **params, timeout=timeout,
                                          **({"extra_body": extra_body} if extra_body else {}))
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a classified ProviderError
            raise classify_sdk_error(call, exc, what=what, is_safety=is_safety) from None

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
        cost = _cost(params, resp, len(images))
        return ApiResult(images=images, request_id=getattr(resp, "_request_id", None), cost_usd=cost,
                         sent_params=sent(**params), latency_s=call.elapsed(),
                         revised_prompt=getattr(resp.data[0], "revised_prompt", None),
                         provider=PROVIDER, model_id=spec.key, attempts=call.attempts)


def _cost(params: dict[str, Any], resp: Any, n_images: int) -> float:
    usage = getattr(resp, "usage", None)
    if params["model"] == "gpt-image-1" and usage is not None:
        text_in = getattr(getattr(usage, "input_tokens_details", None), "text_tokens", None)
        text_in = usage.input_tokens if text_in is None else text_in
        return round(usage.output_tokens * price("gpt-image-1/per-output-token").usd
                     + text_in * price("gpt-image-1/per-input-text-token").usd, 6)
    return round(price(_price_key(params)).usd * n_images, 6)
