"""Google Imagen 3 and 4 on Vertex AI, through `google-genai` (``models.generate_images``).

Imagen generation is Vertex-only: google-genai disabled ``generate_images`` for the Gemini API on
2026-08-21 (commit "Disable GenerateImages for Gemini API"; 3.6.1 raises "only supported in Gemini
Enterprise Agent Platform mode"), so with the Gemini API backend a request is refused before anything is
sent, naming the setting and the Gemini image models to use instead. Google marks every Imagen model
deprecated (shutdown as early as 2026-06, per the Firebase AI reference); they still answer on Vertex.
The SDK sends ``POST .../publishers/google/models/{MODEL}:predict`` with
``{"instances": [{"prompt"}], "parameters": {"sampleCount", "aspectRatio", ...}}``; images the safety
filter withholds are absent (we ask ``include_rai_reason``), none at all is a `safety` error. With
``enhance_prompt`` the answer carries the prompt Imagen actually used: it is kept as the revised prompt.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import RequestError
import core.providers.genai_client as genai_client
from core.providers.base import (
    FLAG,
    ApiResult,
    Call,
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

ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
LONG_SIDE_1K = {"1:1": 1024, "3:4": 1280, "4:3": 1280, "9:16": 1408, "16:9": 1408}  # output's long side at 1K
_LICENSE = "proprietary (Google Cloud terms); SynthID watermark by default"


@dataclass(frozen=True)
class _Model:
    model_id: str
    name: str
    sizes_2k: bool  # takes image_size "2K"


MODELS = {
    "imagen-3": _Model("imagen-3.0-generate-002", "Imagen 3", sizes_2k=False),
    "imagen-4": _Model("imagen-4.0-generate-001", "Imagen 4", sizes_2k=True),
    "imagen-4-fast": _Model("imagen-4.0-fast-generate-001", "Imagen 4 Fast", sizes_2k=False),
    "imagen-4-ultra": _Model("imagen-4.0-ultra-generate-001", "Imagen 4 Ultra", sizes_2k=True),
}


def specs() -> list["ModelSpec"]:
    return [api_spec(key, name=m.name, provider=genai_client.PROVIDER, width=1024, height=1024,
                     max_images_per_call=4, license=_LICENSE,
                     notes=f"{m.model_id}; Vertex AI only; aspect ratios {', '.join(ASPECT_RATIOS)}"
                           + ("; image_size 1K|2K" if m.sizes_2k else "") + "; deprecated by Google")
            for key, m in MODELS.items()]


def options(spec: "ModelSpec", settings: "Settings | None" = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "aspect_ratio": OneOf(ASPECT_RATIOS),
        "person_generation": OneOf(("dont_allow", "allow_adult", "allow_all"), case_insensitive=True),
        "safety_setting": OneOf(("block_low_and_above", "block_medium_and_above", "block_only_high", "block_none"),
                                case_insensitive=True),
        "output_mime_type": OneOf(("image/png", "image/jpeg")),
        "add_watermark": FLAG, "enhance_prompt": FLAG,
    }
    if MODELS[spec.key].sizes_2k:
        schema["image_size"] = OneOf(("1K", "2K"))
    return schema


def missing_credentials(spec: "ModelSpec", settings: "Settings") -> str | None:
    return genai_client.missing_credentials(spec, settings, "vertex")


# 1. Check inputs ------------------------------------------------------------------------------------
def check(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> None:
    if genai_client.backend(settings) != "vertex":
        raise RequestError("IGCS_IMAGEN_BACKEND", "gemini",
                           f"{spec.key} runs on Vertex AI only (Imagen generation left the Gemini API in 2026-08): "
                           "set IGCS_IMAGEN_BACKEND=vertex with GOOGLE_CLOUD_PROJECT and GOOGLE_ACCESS_TOKEN, or "
                           "use gemini-3.1-flash-image on the Gemini API")
    if req.negative_prompt:
        raise RequestError("negative_prompt", req.negative_prompt,
                           f"{spec.key} takes no negative prompt (dropped from imagen-3.0-generate-002 on); "
                           "leave it empty")
    check_common(spec, req, max_n=4)
    check_extra(spec, req.extra, options(spec))


# 2. What is sent ------------------------------------------------------------------------------------
def _config(spec: "ModelSpec", req: "GenerationRequest") -> dict[str, Any]:
    w, h = size_of(spec, req)
    ratio = req.extra.get("aspect_ratio") or nearest_aspect_ratio(w, h, ASPECT_RATIOS)
    config: dict[str, Any] = {"number_of_images": req.num_images, "aspect_ratio": ratio, "include_rai_reason": True}
    if MODELS[spec.key].sizes_2k:
        # 2K when the asked long side is nearer (log scale) to 2K's long side than to 1K's
        size = req.extra.get("image_size") or ("2K" if max(w, h) > LONG_SIDE_1K[ratio] * 2**0.5 else None)
        if size:
            config["image_size"] = size
    if "person_generation" in req.extra:
        config["person_generation"] = req.extra["person_generation"].upper()
    if "safety_setting" in req.extra:
        config["safety_filter_level"] = req.extra["safety_setting"].upper()
    for name in ("output_mime_type", "enhance_prompt"):
        if name in req.extra:
            config[name] = req.extra[name]
    if req.extra.get("add_watermark") is False:  # a seed is taken only without the SynthID watermark
        config["add_watermark"] = False
        if req.seed is not None:
            config["seed"] = int(req.seed) % 2147483647 + 1  # Imagen seeds run 1..2**31-1
    return config


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    return price(spec.key).usd * req.num_images


# 3. Call --------------------------------------------------------------------------------------------
def generate(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    from google.genai import types

    config = _config(spec, req)
    model_id = MODELS[spec.key].model_id
    with Call(genai_client.PROVIDER, settings, secrets=genai_client.secrets_of(settings, "vertex")) as call:
        sdk = genai_client.client(settings, "vertex")
        with warnings.catch_warnings():  # the SDK flags generate_images as deprecated: the module says so
            warnings.simplefilter("ignore")
            resp = genai_client.run(call, lambda opts: sdk.models.generate_images(
                model=model_id, prompt=req.prompt, config=types.GenerateImagesConfig(**config, http_options=opts)),
                what="vertex generate_images")
        images, reasons, enhanced = [], [], None
        for i, item in enumerate(resp.generated_images or []):
            data = getattr(item.image, "image_bytes", None) if item.image else None
            if data:
                images.append(decode_image(data, what=f"image {i}", error=call.error))
                enhanced = enhanced or item.enhanced_prompt
            elif item.rai_filtered_reason:
                reasons.append(str(item.rai_filtered_reason))
            else:
                raise call.error("malformed", f"image {i} has neither bytes nor a filter reason")
        if not images:
            why = "; ".join(reasons) or "no reason given"
            raise call.error("safety", f"all {req.num_images} image(s) were withheld by the safety filter: {why}",
                             status=200)
        params = {k: v for k, v in config.items() if k != "include_rai_reason"}
        return ApiResult(images=images, request_id=None, cost_usd=round(price(spec.key).usd * len(images), 6),
                         sent_params=sent(backend="vertex", model=model_id, **params), latency_s=call.elapsed(),
                         revised_prompt=enhanced, provider=genai_client.PROVIDER, model_id=model_id,
                         attempts=call.attempts, filtered=max(0, req.num_images - len(images)))
