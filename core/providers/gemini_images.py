"""Gemini image models ("Nano Banana"): ``models.generate_content`` with image output, via `google-genai`.

Both backends: the Gemini API (``POST /v1beta/models/{MODEL}:generateContent``, ``x-goog-api-key``) and
Vertex AI (``.../publishers/google/models/{MODEL}:generateContent``, OAuth token). The request asks
``response_modalities=["IMAGE"]`` with an ``image_config`` (aspect ratio of eight, image size 1K/2K/4K on
the 3.x models); the answer's first candidate carries the image as ``inline_data``. One image per call.
google-genai 3.6.1 refuses ``person_generation``, ``output_mime_type`` and ``output_compression_quality``
on the Gemini API ("only supported in Gemini Enterprise Agent Platform mode"): we refuse them before
sending, naming the field. A blocked prompt (``prompt_feedback.block_reason``) or a candidate that ends
for safety (SAFETY, IMAGE_SAFETY, PROHIBITED_CONTENT, ...) is a `safety` error.

Edits: the same ``generateContent`` call, with the instruction as the text part followed by each source image as
an inline part (``inlineData``: ``mimeType`` and the file's bytes in base64), the pattern of Google's editing
guide (firebase.google.com/docs/ai-logic/generate-images-gemini lists all four models as editing). Inline data
counts against the request's 20 MB limit (ai.google.dev "Image understanding": larger files go through the Files
API, which we do not use), so the sources may hold at most 15 MB (their base64 is a third larger). Gemini 3 Pro
Image and 3.1 Flash Image take up to 14 reference images; 2.5 Flash Image works best with up to 3 (Google's
image-generation guide); for 3.1 Flash Lite Image no figure was found and 3 is assumed. An edit is priced like a
generation (per output image); the input image tokens (about 1290 at 1K, ``usage_metadata.prompt_token_count``)
are recorded but not priced: no primary per-token figure was read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import RequestError
import core.providers.genai_client as genai_client
from core.providers.inputs import Limits, is_edit, recorded, sources
from core.providers.base import (
    ApiResult,
    Call,
    Number,
    OneOf,
    api_spec,
    check_common,
    check_extra,
    decode_image,
    nearest_aspect_ratio,
    price,
    sent,
    size_of,
)

if TYPE_CHECKING:
    from core.spec import ModelSpec
    from core.jobs import GenerationRequest
    from core.settings import Settings

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9", "21:9")
VERTEX_ONLY = ("person_generation", "output_mime_type", "output_compression_quality")
SAFETY_FINISH = {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION",
                 "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}
_LICENSE = "proprietary (Gemini API / Google Cloud terms); SynthID watermark"


# Inline data: the request's 20 MB, less a quarter for base64 and the rest of the request
INPUT_LIMITS = Limits(formats=("png", "jpeg", "webp"), max_bytes=15 * 1024 * 1024)
MAX_INLINE_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class _Model:
    name: str
    sizes: tuple[str, ...]  # image_size values; () = the model takes none
    max_inputs: int  # source images an edit takes


MODELS = {
    "gemini-2.5-flash-image": _Model("Gemini 2.5 Flash Image", (), 3),
    "gemini-3.1-flash-image": _Model("Gemini 3.1 Flash Image", ("1K", "2K", "4K"), 14),
    "gemini-3-pro-image": _Model("Gemini 3 Pro Image", ("1K", "2K", "4K"), 14),
    "gemini-3.1-flash-lite-image": _Model("Gemini 3.1 Flash Lite Image", ("1K",), 3),
}


def specs() -> list["ModelSpec"]:
    return [api_spec(key, name=m.name, provider=genai_client.PROVIDER, width=1024, height=1024,
                     max_images_per_call=1, license=_LICENSE, tasks=("text-to-image", "edit"),
                     max_input_images=m.max_inputs,
                     notes=f"generateContent with image output; Gemini API or Vertex AI; aspect ratios "
                           f"{', '.join(ASPECT_RATIOS)}" + (f"; image_size {'|'.join(m.sizes)}" if m.sizes else "")
                           + f"; edits: up to {m.max_inputs} source images as inline parts (png/jpeg/webp)")
            for key, m in MODELS.items()]


def options(spec: "ModelSpec", settings: "Settings | None" = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"aspect_ratio": OneOf(ASPECT_RATIOS),
                              "person_generation": OneOf(("allow_all", "allow_adult", "allow_none"),
                                                         case_insensitive=True),
                              "output_mime_type": OneOf(("image/png", "image/jpeg")),
                              "output_compression_quality": Number(0, 100, integer=True)}
    if MODELS[spec.key].sizes:
        schema["image_size"] = OneOf(MODELS[spec.key].sizes)
    return schema


def missing_credentials(spec: "ModelSpec", settings: "Settings") -> str | None:
    return genai_client.missing_credentials(spec, settings, genai_client.backend(settings))


# 1. Check inputs ------------------------------------------------------------------------------------
def check(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> None:
    check_common(spec, req, max_n=1)
    check_extra(spec, req.extra, options(spec))
    if genai_client.backend(settings) == "gemini":
        for name in VERTEX_ONLY:
            if name in req.extra:
                raise RequestError(f"extra.{name}", req.extra[name],
                                   "only on Vertex AI (IGCS_IMAGEN_BACKEND=vertex); the Gemini API refuses it")
    edit_sources(spec, req)


def edit_sources(spec: "ModelSpec", req: "GenerationRequest") -> list:
    """An edit's source images, read and checked ([] for text-to-image)."""
    return sources(spec, req, INPUT_LIMITS, max_total_bytes=MAX_INLINE_BYTES,
                   total_what="inline image data (the request's 20 MB limit, base64 included)")


# 2. What is sent ------------------------------------------------------------------------------------
def _image_config(spec: "ModelSpec", req: "GenerationRequest") -> dict[str, Any]:
    config: dict[str, Any] = {"aspect_ratio": req.extra.get("aspect_ratio")
                              or nearest_aspect_ratio(*size_of(spec, req), ASPECT_RATIOS)}
    for name in ("image_size", "output_mime_type", "output_compression_quality"):
        if name in req.extra:
            config[name] = req.extra[name]
    if "person_generation" in req.extra:
        config["person_generation"] = req.extra["person_generation"].upper()
    return config


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    return price(spec.key).usd * req.num_images


# 3. Call --------------------------------------------------------------------------------------------
def generate(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    from google.genai import types

    which = genai_client.backend(settings)
    image_config = _image_config(spec, req)
    images_in = edit_sources(spec, req)
    contents: Any = req.prompt
    if images_in:  # the instruction, then each source as an inline part, in order
        contents = [types.Content(role="user", parts=[types.Part.from_text(text=req.prompt)] + [
            types.Part.from_bytes(data=s.data, mime_type=s.mime) for s in images_in])]
    with Call(genai_client.PROVIDER, settings, secrets=genai_client.secrets_of(settings, which)) as call:
        sdk = genai_client.client(settings, which)
        resp = genai_client.run(call, lambda opts: sdk.models.generate_content(
            model=spec.key, contents=contents,
            config=types.GenerateContentConfig(response_modalities=["IMAGE"], http_options=opts,
                                               image_config=types.ImageConfig(**image_config))),
            what=f"{which} generate_content")
        request_id = getattr(resp, "response_id", None)
        feedback = getattr(resp, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            raise call.error("safety", f"the prompt was blocked: {feedback.block_reason} "
                                       f"{getattr(feedback, 'block_reason_message', '') or ''}".strip(),
                             request_id=request_id, status=200)
        candidate = (resp.candidates or [None])[0]
        finish = str(getattr(getattr(candidate, "finish_reason", None), "value", "") or "")
        parts = getattr(getattr(candidate, "content", None), "parts", None) or []
        images = [decode_image(p.inline_data.data, what="image", error=call.error) for p in parts
                  if getattr(p, "inline_data", None) is not None and p.inline_data.data]
        if not images:
            text = " ".join(p.text for p in parts if getattr(p, "text", None))[:300]
            kind = "safety" if finish in SAFETY_FINISH else "malformed"
            raise call.error(kind, f"no image in the answer (finish reason {finish or 'none'})"
                                   + (f": {text}" if text else ""), request_id=request_id, status=200)
        sent_params = sent(backend=which, model=spec.key, **image_config)
        if is_edit(req):
            sent_params["image"] = recorded(images_in)
            usage = getattr(resp, "usage_metadata", None)
            if getattr(usage, "prompt_token_count", None) is not None:
                sent_params["usage_tokens"] = {"input": usage.prompt_token_count,
                                               "output": getattr(usage, "candidates_token_count", None)}
        return ApiResult(images=images[:1], request_id=request_id, cost_usd=round(price(spec.key).usd, 6),
                         sent_params=sent_params, latency_s=call.elapsed(),
                         provider=genai_client.PROVIDER, model_id=spec.key, attempts=call.attempts)
