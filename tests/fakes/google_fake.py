"""Google Imagen ``:predict`` on both backends, from one server.

- Vertex AI: ``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predict``,
  ``Authorization: Bearer <OAuth access token>``; 401 UNAUTHENTICATED otherwise (an API key is refused).
- Gemini API: ``POST /v1beta/models/{model}:predict``, ``x-goog-api-key``; a wrong key is a 400
  INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID (as the real service answers), none a 403.
Bodies are validated like the service (one instance with a prompt, sampleCount 1-4, aspect ratios,
enums in either casing, seed only without watermark, Gemini refusing negativePrompt/seed/addWatermark/
enhancePrompt, unknown names). Extra scenarios: ``filter_one`` (one image withheld, with its reason when
includeRaiReason), ``safety`` (every image withheld), ``safety_prompt`` (400 for the prompt itself),
``truncated`` (a 200 whose JSON body is cut in half).

generateContent edits: image parts as ``inlineData`` (``mimeType`` image/png|jpeg|webp, base64 ``data``) beside the
text part, decoded and checked (a part that is not an image of its declared type: 400 INVALID_ARGUMENT "Unable to
process input image"; more than the model's ``MAX_INPUTS``: 400; a request body over 20 MB: 400 "Request payload size
exceeds the limit"). What arrived is kept on the request's ``notes["inline_images"]`` as (mimeType, bytes).
Edit scenarios: ``bad_image`` and ``too_large`` (those answers whatever was sent), ``safety`` (IMAGE_SAFETY).
"""
from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any

from PIL import Image, UnidentifiedImageError

from tests.fakes.common import FakeServer, Reply, Seen, image_bytes, json_reply

MODELS = {"imagen-3.0-generate-002", "imagen-4.0-generate-001", "imagen-4.0-fast-generate-001",
          "imagen-4.0-ultra-generate-001"}
MODELS_2K = {"imagen-4.0-generate-001", "imagen-4.0-ultra-generate-001"}
ASPECT = {"1:1": (1024, 1024), "3:4": (896, 1280), "4:3": (1280, 896), "9:16": (768, 1408), "16:9": (1408, 768)}
PERSON = {"dont_allow", "allow_adult", "allow_all"}
SAFETY = {"block_low_and_above", "block_medium_and_above", "block_only_high", "block_none",
          # older names the service still takes
          "block_most", "block_some", "block_few", "block_fewest"}
PARAMS = {"sampleCount", "aspectRatio", "negativePrompt", "seed", "addWatermark", "personGeneration",
          "safetySetting", "guidanceScale", "enhancePrompt", "outputOptions", "sampleImageSize", "includeRaiReason",
          "language", "storageUri"}
GEMINI_UNSUPPORTED = {"negativePrompt", "seed", "addWatermark", "enhancePrompt", "storageUri"}
VERTEX_PATH = re.compile(r"^/v1(?:beta1)?/projects/([^/]+)/locations/([^/]+)/publishers/google/models/([^/:]+)"
                         r":(predict|generateContent)$")
GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/([^/:]+):(predict|generateContent)$")
GEMINI_IMAGE = {"gemini-2.5-flash-image", "gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-lite-image"}
CONTENT_RATIOS = {"1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
                  "4:3": (1184, 864), "9:16": (768, 1344), "16:9": (1344, 768), "21:9": (1536, 672)}
SIZE_SCALE = {"1K": 1, "2K": 2, "4K": 4}
MAX_INPUTS = {"gemini-2.5-flash-image": 3, "gemini-3.1-flash-image": 14, "gemini-3-pro-image": 14,
              "gemini-3.1-flash-lite-image": 3}
MAX_REQUEST_BYTES = 20 * 1024 * 1024
INLINE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
BAD_IMAGE = ("Unable to process input image. Please retry or report in "
             "https://developers.generativeai.google/guide/troubleshooting")
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
RAI_REASON = ("Unable to show generated images. All images were filtered out because they violated Vertex AI's "
              "usage guidelines. Support codes: 56562880")


def _error(status: int, name: str, message: str, details: list | None = None,
           headers: dict[str, str] | None = None) -> Reply:
    err: dict[str, Any] = {"code": status, "message": message, "status": name}
    if details:
        err["details"] = details
    return json_reply(status, {"error": err}, headers)


class _Invalid(Exception):
    pass


class GoogleFake(FakeServer):
    name = "google"

    def __init__(self, *, api_key: str = "AIzaSyTest-gemini-0b1c2d3e4f5a6b7c8d9e",
                 access_token: str = "ya29.test-vertex-token-9a8b7c6d5e4f3a2b1c",
                 project: str = "igcs-test-project", location: str = "us-central1") -> None:
        super().__init__()
        self.api_key, self.access_token, self.project, self.location = api_key, access_token, project, location
        self.retry_delay = "4s"

    @property
    def base_url(self) -> str:
        return self.origin

    def route(self, seen: Seen) -> Reply:
        reply = self._route(seen)
        if getattr(seen, "scenario", None) == "truncated" and reply.status == 200:
            # a 200 whose JSON body is cut short (a proxy or the connection gave out midway)
            return Reply(200, reply.body[: len(reply.body) // 2], reply.headers)
        return reply

    def _route(self, seen: Seen) -> Reply:
        if seen.method == "GET" and seen.path in ("/v1/models", "/v1beta/models"):
            return self._gemini_auth(seen) or json_reply(200, {"models": [
                {"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": ["generateContent"]}
                for m in sorted(GEMINI_IMAGE - {"gemini-3.1-flash-lite-image"})]})
        if seen.method != "POST":
            return _error(404, "NOT_FOUND", "The requested URL was not found on this server.")
        m_vertex, m_gemini = VERTEX_PATH.match(seen.path), GEMINI_PATH.match(seen.path)
        if m_vertex:
            backend = "vertex"
            project, location, model, method = m_vertex.groups()
            denied = self._vertex_auth(seen, project, location)
        elif m_gemini:
            backend, (model, method) = "gemini", m_gemini.groups()
            denied = self._gemini_auth(seen)
        else:
            return _error(404, "NOT_FOUND", f"The requested URL {seen.path} was not found on this server.")
        if denied:
            return denied
        seen.notes["backend"], seen.notes["method"] = backend, method
        if method == "predict" and backend == "gemini":  # Imagen left the Gemini API in 2026-08
            return _error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, or is not "
                                            "supported for predict.")
        if model not in (MODELS if method == "predict" else GEMINI_IMAGE):
            return _error(404, "NOT_FOUND", f"models/{model} is not found, or is not supported for {method}.")
        scenario = seen.scenario = self.next_scenario()
        if scenario == "slow":
            self.wait_slow()
        elif scenario == "rate_limit":  # Google's wait is in RetryInfo, not in a header
            return _error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", details=[
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model"}]},
                {"@type": RETRY_INFO, "retryDelay": self.retry_delay}])
        elif scenario == "echo_auth":
            return _error(502, "UNAVAILABLE", "gateway: upstream refused the request with headers "
                          f"authorization={seen.headers.get('authorization', '')} "
                          f"x-goog-api-key={seen.headers.get('x-goog-api-key', '')}")
        if method == "generateContent" and scenario not in ("server_error", "unauthorized", "malformed"):
            return self._content(seen, backend, scenario)
        elif scenario == "server_error":
            return _error(500, "INTERNAL", "Internal error encountered.")
        elif scenario == "unauthorized":
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 "
                          "access token, login cookie or other valid authentication credential.")
        elif scenario == "safety_prompt":
            return _error(400, "INVALID_ARGUMENT", "Image generation failed with the following error: The prompt could "
                          "not be submitted. This prompt contains sensitive words that violate Google's Responsible "
                          "AI practices. Try rephrasing the prompt.")
        elif scenario == "malformed":
            return Reply(200, b"<html><body>Upstream reset</body></html>", {"Content-Type": "text/html"})
        try:
            count, params = self._validate(seen.json, backend, model)
        except _Invalid as bad:
            return _error(400, "INVALID_ARGUMENT", str(bad))
        w, h = ASPECT[params.get("aspectRatio", "1:1")]
        if params.get("sampleImageSize") == "2K":
            w, h = w * 2, h * 2
        mime = (params.get("outputOptions") or {}).get("mimeType", "image/png")
        fmt = "JPEG" if mime == "image/jpeg" else "PNG"
        predictions = [{"bytesBase64Encoded": base64.b64encode(image_bytes(w, h, fmt=fmt)).decode(), "mimeType": mime}
                       for _ in range(count)]
        if params.get("enhancePrompt"):
            for p in predictions:
                p["prompt"] = f"A studio photograph: {seen.json['instances'][0]['prompt']}, soft light"
        rai = bool(params.get("includeRaiReason"))
        if scenario == "filter_one":
            predictions = predictions[1:] + ([{"raiFilteredReason": RAI_REASON}] if rai else [])
        elif scenario == "safety":
            predictions = [{"raiFilteredReason": RAI_REASON}] if rai else []
        return json_reply(200, {"predictions": predictions} if predictions else {})

    # -- generateContent ---------------------------------------------------------------------------
    def _content(self, seen: Seen, backend: str, scenario: str) -> Reply:
        body = seen.json if isinstance(seen.json, dict) else {}
        unknown = set(body) - {"contents", "generationConfig", "safetySettings", "systemInstruction", "labels"}
        if unknown:
            return _error(400, "INVALID_ARGUMENT", f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}"')
        contents = body.get("contents") or []
        text = " ".join(p.get("text", "") for c in contents for p in c.get("parts", []) if isinstance(p, dict))
        if not text.strip():
            return _error(400, "INVALID_ARGUMENT", "contents: a text part is required.")
        if scenario == "too_large" or len(seen.body) > MAX_REQUEST_BYTES:
            return _error(400, "INVALID_ARGUMENT", f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} "
                                                   "bytes.")
        if scenario == "bad_image":
            return _error(400, "INVALID_ARGUMENT", BAD_IMAGE)
        inline = [p["inlineData"] for c in contents for p in c.get("parts", [])
                  if isinstance(p, dict) and "inlineData" in p]
        model = seen.path.rsplit("/", 1)[-1].split(":")[0]
        if len(inline) > MAX_INPUTS[model]:
            return _error(400, "INVALID_ARGUMENT", f"{model} takes at most {MAX_INPUTS[model]} input images, got "
                                                   f"{len(inline)}.")
        seen.notes["inline_images"] = []
        for part in inline:
            mime = part.get("mimeType", part.get("mime_type"))  # proto JSON: either spelling
            if mime not in INLINE_TYPES:
                return _error(400, "INVALID_ARGUMENT", f"Unsupported MIME type: {mime}")
            try:
                # proto JSON bytes: standard or URL-safe base64 (the SDK sends URL-safe)
                data = base64.b64decode((part.get("data") or "").replace("-", "+").replace("_", "/"), validate=True)
                with Image.open(io.BytesIO(data)) as img:
                    img.load()
                    if img.format != INLINE_TYPES[mime]:
                        raise ValueError(img.format)
            except (binascii.Error, ValueError, UnidentifiedImageError, OSError, SyntaxError):
                return _error(400, "INVALID_ARGUMENT", BAD_IMAGE)
            seen.notes["inline_images"].append((mime, data))
        config = body.get("generationConfig") or {}
        if [m.upper() for m in config.get("responseModalities", [])] != ["IMAGE"]:
            return _error(400, "INVALID_ARGUMENT", "responseModalities must be [IMAGE] for this test server.")
        image_config = config.get("imageConfig") or {}
        if backend == "gemini" and set(image_config) - {"aspectRatio", "imageSize"}:
            return _error(400, "INVALID_ARGUMENT", f"imageConfig: {sorted(set(image_config) - {'aspectRatio', 'imageSize'})} "
                                                   "not supported in the Gemini API.")
        ratio = image_config.get("aspectRatio", "1:1")
        if ratio not in CONTENT_RATIOS:
            return _error(400, "INVALID_ARGUMENT", f"Unsupported aspect ratio {ratio!r}.")
        size = image_config.get("imageSize", "1K")
        if size not in SIZE_SCALE:
            return _error(400, "INVALID_ARGUMENT", f"Unsupported image size {size!r}.")
        if scenario == "safety":
            return json_reply(200, {"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0,
                                                    "content": {"role": "model", "parts": []}}],
                                    "responseId": "resp-safety"})
        if scenario == "safety_prompt":
            return json_reply(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": "resp-b"})
        w, h = CONTENT_RATIOS[ratio]
        k = SIZE_SCALE[size]
        data = base64.b64encode(image_bytes(w * k // 4, h * k // 4)).decode()
        return json_reply(200, {"candidates": [{"content": {"role": "model", "parts": [
            {"inlineData": {"mimeType": "image/png", "data": data}}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": len(text.split()) + 1290 * len(inline),
                              "candidatesTokenCount": 1290},
            "modelVersion": seen.path.rsplit("/", 1)[-1].split(":")[0], "responseId": f"resp-{len(self.requests)}"})

    # -- auth ----------------------------------------------------------------------------------------
    def _vertex_auth(self, seen: Seen, project: str, location: str) -> Reply | None:
        auth = seen.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return _error(401, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected "
                          "OAuth 2 access token, login cookie or other valid authentication credential.")
        if auth[len("Bearer "):] != self.access_token:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 "
                          "access token, login cookie or other valid authentication credential.")
        if project != self.project or location != self.location:
            return _error(403, "PERMISSION_DENIED", f"Permission denied on resource project {project} "
                          f"(or it may not exist) in location {location}.")
        return None

    def _gemini_auth(self, seen: Seen) -> Reply | None:
        key = seen.headers.get("x-goog-api-key") or seen.query.get("key")
        if not key:
            return _error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without "
                          "established identity). Please use API Key or other form of API consumer identity.")
        if key != self.api_key:
            return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}])
        return None

    # -- body ----------------------------------------------------------------------------------------
    def _validate(self, body: Any, backend: str, model: str) -> tuple[int, dict]:
        if not isinstance(body, dict):
            raise _Invalid("Invalid JSON payload received.")
        for name in body:
            if name not in ("instances", "parameters"):
                raise _Invalid(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
        instances = body.get("instances")
        if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
            raise _Invalid("instances: exactly one instance is required.")
        prompt = instances[0].get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _Invalid("The prompt is empty.")
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise _Invalid("parameters must be an object.")
        for name in params:
            if name not in PARAMS:
                raise _Invalid(f'Invalid JSON payload received. Unknown name "{name}" at \'parameters\': Cannot find '
                               "field.")
            if backend == "gemini" and name in GEMINI_UNSUPPORTED:
                raise _Invalid(f"{name} is not supported in the Gemini API.")
        count = params.get("sampleCount", 4)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 4:
            raise _Invalid(f"sampleCount must be from 1 to 4, got {count!r}.")
        if params.get("aspectRatio", "1:1") not in ASPECT:
            raise _Invalid(f"Unsupported aspect ratio: {params.get('aspectRatio')!r}.")
        if "personGeneration" in params and str(params["personGeneration"]).lower() not in PERSON:
            raise _Invalid(f"Invalid personGeneration: {params['personGeneration']!r}.")
        if "safetySetting" in params and str(params["safetySetting"]).lower() not in SAFETY:
            raise _Invalid(f"Invalid safetySetting: {params['safetySetting']!r}.")
        if "sampleImageSize" in params:
            if params["sampleImageSize"] not in ("1K", "2K"):
                raise _Invalid(f"Invalid sampleImageSize: {params['sampleImageSize']!r}.")
            if model not in MODELS_2K:
                raise _Invalid(f"sampleImageSize is not supported by {model}.")
        mime = (params.get("outputOptions") or {}).get("mimeType", "image/png")
        if mime not in ("image/png", "image/jpeg"):
            raise _Invalid(f"Unsupported mimeType: {mime!r}.")
        if "negativePrompt" in params and model != "imagen-3.0-generate-001":
            raise _Invalid(f"negativePrompt is not supported by {model}.")
        if "seed" in params:
            if params.get("addWatermark", True) is not False:
                raise _Invalid("Seed is not supported when watermark is enabled; set addWatermark to false.")
            seed = params["seed"]
            if not isinstance(seed, int) or isinstance(seed, bool) or not 1 <= seed <= 2147483647:
                raise _Invalid(f"seed must be from 1 to 2147483647, got {seed!r}.")
        for flag in ("addWatermark", "enhancePrompt", "includeRaiReason"):
            if flag in params and not isinstance(params[flag], bool):
                raise _Invalid(f"{flag} must be a boolean.")
        return count, params
