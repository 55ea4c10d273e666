"""Google Imagen 3 and 4, on Vertex AI or on the Gemini API (``IGCS_IMAGEN_BACKEND``).

- Vertex AI: ``POST {base}/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{MODEL}:predict``
  with ``Authorization: Bearer <OAuth2 access token>`` (``gcloud auth print-access-token``), not an API key.
- Gemini API: ``POST {base}/v1beta/models/{MODEL}:predict`` with ``x-goog-api-key: GOOGLE_API_KEY``
  (no negativePrompt, seed, addWatermark or enhancePrompt there).
Both take ``{"instances": [{"prompt"}], "parameters": {"sampleCount", "aspectRatio", ...}}`` and answer
``{"predictions": [{"bytesBase64Encoded", "mimeType"}]}``; images the safety filter withholds are simply
absent (we ask ``includeRaiReason`` so the reason comes back), and none at all is a `safety` error.
Width and height map to the nearest of the five aspect ratios; the row records the ratio asked.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import RequestError
from core.providers.base import (
    FLAG,
    ApiResult,
    Call,
    OneOf,
    ProviderError,
    api_spec,
    check_common,
    check_extra,
    decode_b64_image,
    dumps,
    nearest_aspect_ratio,
    price,
    secret,
    sent,
    size_of,
)

if TYPE_CHECKING:
    import requests

    from core.spec import ModelSpec
    from core.request import GenerationRequest
    from core.settings import Settings

PROVIDER = "google"
ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
LONG_SIDE_1K = {"1:1": 1024, "3:4": 1280, "4:3": 1280, "9:16": 1408, "16:9": 1408}  # output's long side at 1K
_LICENSE = "proprietary (Google Cloud / Gemini API terms); SynthID watermark by default"
_SAFETY_WORDS = ("safety", "sensitive", "responsible ai", "prohibited", "policy")


@dataclass(frozen=True)
class _Model:
    model_id: str
    sizes_2k: bool  # takes sampleImageSize "2K"


MODELS = {
    "imagen-3": _Model("imagen-3.0-generate-002", sizes_2k=False),
    "imagen-4": _Model("imagen-4.0-generate-001", sizes_2k=True),
    "imagen-4-fast": _Model("imagen-4.0-fast-generate-001", sizes_2k=False),
    "imagen-4-ultra": _Model("imagen-4.0-ultra-generate-001", sizes_2k=True),
}
_NAMES = {"imagen-3": "Imagen 3", "imagen-4": "Imagen 4", "imagen-4-fast": "Imagen 4 Fast",
          "imagen-4-ultra": "Imagen 4 Ultra"}


def specs() -> list["ModelSpec"]:
    return [
        api_spec(key, name=_NAMES[key], provider=PROVIDER, width=1024, height=1024, max_images_per_call=4,
                 license=_LICENSE,
                 notes=f"{m.model_id}; aspect ratios {', '.join(ASPECT_RATIOS)}"
                       + ("; sampleImageSize 1K|2K" if m.sizes_2k else "")
                       + "; Vertex AI or Gemini API (IGCS_IMAGEN_BACKEND); Google marks Imagen deprecated "
                         "(migrate by 2026-06-30)")
        for key, m in MODELS.items()
    ]


def backend(settings: "Settings") -> str:
    """'vertex' or 'gemini' from IGCS_IMAGEN_BACKEND, GOOGLE_GENAI_USE_VERTEXAI, then the credentials set."""
    if settings.imagen_backend != "auto":
        return settings.imagen_backend
    if settings.google_genai_use_vertexai is not None:
        return "vertex" if settings.google_genai_use_vertexai else "gemini"
    if settings.google_cloud_project and secret(settings.google_access_token):
        return "vertex"
    if secret(settings.google_api_key):
        return "gemini"
    return "vertex" if settings.google_cloud_project or secret(settings.google_access_token) else "gemini"


def missing_credentials(spec: "ModelSpec", settings: "Settings") -> str | None:
    which = backend(settings)
    if which == "vertex":
        missing = [name for name, value in (("GOOGLE_CLOUD_PROJECT", settings.google_cloud_project),
                                            ("GOOGLE_ACCESS_TOKEN", secret(settings.google_access_token)))
                   if not value]
        if not missing:
            return None
        return (f"{spec.key} on Vertex AI needs {' and '.join(missing)} (an OAuth access token, e.g. from "
                "`gcloud auth print-access-token`; GOOGLE_CLOUD_LOCATION defaults to us-central1); or set "
                "IGCS_IMAGEN_BACKEND=gemini and GOOGLE_API_KEY for the Gemini API")
    if secret(settings.google_api_key):
        return None
    return (f"{spec.key} needs Google credentials: GOOGLE_API_KEY for the Gemini API, or GOOGLE_CLOUD_PROJECT "
            "and GOOGLE_ACCESS_TOKEN (OAuth access token) with IGCS_IMAGEN_BACKEND=vertex for Vertex AI")


# 1. Check inputs ------------------------------------------------------------------------------------
def _schema(spec: "ModelSpec", which: str) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "aspect_ratio": OneOf(ASPECT_RATIOS),
        "person_generation": OneOf(("dont_allow", "allow_adult", "allow_all"), case_insensitive=True),
        "safety_setting": OneOf(("block_low_and_above", "block_medium_and_above", "block_only_high", "block_none"),
                                case_insensitive=True),
        "output_mime_type": OneOf(("image/png", "image/jpeg")),
    }
    if MODELS[spec.key].sizes_2k:
        schema["image_size"] = OneOf(("1K", "2K"))
    if which == "vertex":
        schema.update(add_watermark=FLAG, enhance_prompt=FLAG)
    return schema


def check(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings | None" = None) -> None:
    from core.settings import get_settings

    which = backend(settings or get_settings())
    if req.negative_prompt:  # supports_negative is False; say why
        raise RequestError("negative_prompt", req.negative_prompt,
                           f"{spec.key} takes no negative prompt (the Gemini API has none; Vertex AI dropped it "
                           "from imagen-3.0-generate-002 on); leave it empty")
    check_common(spec, req, max_n=4)
    try:
        check_extra(spec, req.extra, _schema(spec, which))
    except RequestError as err:
        if which == "gemini" and err.field in ("extra.add_watermark", "extra.enhance_prompt"):
            raise RequestError(err.field, err.value, "only on Vertex AI (IGCS_IMAGEN_BACKEND=vertex); the Gemini "
                                                     "API has no such parameter") from None
        raise


# 2. What is sent ------------------------------------------------------------------------------------
def _body(spec: "ModelSpec", req: "GenerationRequest", which: str) -> dict[str, Any]:
    w, h = size_of(spec, req)
    ratio = req.extra.get("aspect_ratio") or nearest_aspect_ratio(w, h, ASPECT_RATIOS)
    params: dict[str, Any] = {"sampleCount": req.num_images, "aspectRatio": ratio, "includeRaiReason": True}
    if MODELS[spec.key].sizes_2k:
        # 2K when the asked long side is nearer (log scale) to 2K's long side than to 1K's
        size = req.extra.get("image_size") or ("2K" if max(w, h) > LONG_SIDE_1K[ratio] * 2**0.5 else None)
        if size:
            params["sampleImageSize"] = size
    if "person_generation" in req.extra:
        params["personGeneration"] = req.extra["person_generation"].lower()
    if "safety_setting" in req.extra:
        params["safetySetting"] = req.extra["safety_setting"].lower()
    if "output_mime_type" in req.extra:
        params["outputOptions"] = {"mimeType": req.extra["output_mime_type"]}
    if which == "vertex":
        if "enhance_prompt" in req.extra:
            params["enhancePrompt"] = req.extra["enhance_prompt"]
        if req.extra.get("add_watermark") is False:  # a seed is taken only without the SynthID watermark
            params["addWatermark"] = False
            if req.seed is not None:
                params["seed"] = int(req.seed) % 2147483647 + 1  # Imagen seeds run 1..2**31-1
    return {"instances": [{"prompt": req.prompt}], "parameters": params}


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    return price(spec.key).usd * req.num_images


def _url(spec: "ModelSpec", settings: "Settings", which: str) -> str:
    model = MODELS[spec.key].model_id
    if which == "vertex":
        loc = settings.google_cloud_location
        base = settings.google_vertex_base_url or (
            "https://aiplatform.googleapis.com" if loc == "global" else f"https://{loc}-aiplatform.googleapis.com")
        return (f"{base.rstrip('/')}/v1/projects/{settings.google_cloud_project}/locations/{loc}"
                f"/publishers/google/models/{model}:predict")
    return f"{settings.google_gemini_base_url.rstrip('/')}/v1beta/models/{model}:predict"


# 3. Errors ------------------------------------------------------------------------------------------
def _error(call: Call, resp: "requests.Response") -> ProviderError:
    try:
        err = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        err = {}
    if not isinstance(err, dict):
        err = {}
    status_name = err.get("status")
    message = err.get("message") or None
    reasons = {d.get("reason") for d in err.get("details") or [] if isinstance(d, dict)}
    kind = None
    if status_name in ("UNAUTHENTICATED", "PERMISSION_DENIED") or reasons & {"API_KEY_INVALID", "API_KEY_EXPIRED"}:
        kind = "auth"
    elif status_name == "RESOURCE_EXHAUSTED":
        kind = "rate_limit"
    elif resp.status_code == 400 and message and any(w in message.lower() for w in _SAFETY_WORDS):
        kind = "safety"
    return call.status_error(resp, kind=kind, message=message, code=status_name,
                             request_id=resp.headers.get("x-request-id"))


# 4. Call --------------------------------------------------------------------------------------------
def generate(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    which = backend(settings)
    body = _body(spec, req, which)
    if which == "vertex":
        token = secret(settings.google_access_token)
        headers, secrets = {"Authorization": f"Bearer {token}"}, [token]
    else:
        key = secret(settings.google_api_key)
        headers, secrets = {"x-goog-api-key": key or ""}, [key]
    headers["Content-Type"] = "application/json"

    with Call(PROVIDER, settings, secrets=secrets) as call:
        def handle(resp: "requests.Response") -> tuple[dict, str | None]:
            request_id = resp.headers.get("x-request-id")
            if resp.status_code >= 400:
                raise _error(call, resp)
            payload = call.json_of(resp, "predict", request_id)
            if not isinstance(payload, dict):
                raise call.error("malformed", f"predict: expected a JSON object, got {type(payload).__name__}",
                                 request_id=request_id)
            return payload, request_id

        payload, request_id = call.send("POST", _url(spec, settings, which), what=f"{which} predict",
                                        body=dumps(body), headers=headers, handle=handle)
        predictions = payload.get("predictions", [])
        if not isinstance(predictions, list):
            raise call.error("malformed", "predict: 'predictions' is not a list", request_id=request_id)
        images, reasons = [], []
        for i, pred in enumerate(predictions):
            if not isinstance(pred, dict):
                raise call.error("malformed", f"prediction {i} is not an object", request_id=request_id)
            if pred.get("bytesBase64Encoded"):
                images.append(decode_b64_image(pred["bytesBase64Encoded"], what=f"prediction {i}", error=call.error))
            elif pred.get("raiFilteredReason"):
                reasons.append(str(pred["raiFilteredReason"]))
            else:
                raise call.error("malformed", f"prediction {i} has neither image bytes nor a filter reason",
                                 request_id=request_id)
        if not images:
            why = "; ".join(reasons) or "no reason given"
            raise call.error("safety", f"all {req.num_images} image(s) were withheld by the safety filter: {why}",
                             request_id=request_id, status=200)
        params = dict(body["parameters"])
        params.pop("includeRaiReason", None)
        return ApiResult(images=images, request_id=request_id, cost_usd=round(price(spec.key).usd * len(images), 6),
                         sent_params=sent(backend=which, model=MODELS[spec.key].model_id, **params),
                         latency_s=call.elapsed(), provider=PROVIDER, model_id=MODELS[spec.key].model_id,
                         attempts=call.attempts, filtered=max(0, req.num_images - len(images)))
