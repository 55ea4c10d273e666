"""OpenAI Images: ``POST /v1/images/generations``, ``POST /v1/images/edits`` and ``GET /v1/models`` with
``Authorization: Bearer KEY``.

Written from openai 3.57.0's ``resources/images.py``: the GPT image models only (retired dall-e-2,
dall-e-3 and gpt-image-1 answer 404 ``model_not_found``), free WIDTHxHEIGHT for gpt-image-2 and 2.5-*
(multiples of 16, 1:3 to 3:1, at most 3840x2160), standard sizes otherwise, xhigh/max quality on 2.5-*,
no response_format or style. Answers base64 with ``usage`` and an ``x-request-id`` header (images are
of the asked size). Extra scenarios: ``quota`` (429 insufficient_quota),
``malformed_image``, ``empty`` (200 without ``data``), ``echo_auth`` (a gateway quoting Authorization).

Edits (openai 3.63.0 ``Images.edit``): a multipart/form-data body, parsed byte-exact; the source file(s) as ``image``
or ``image[]`` (1 to 16, png/jpeg/webp, under 50 MB each), an optional ``mask`` (a PNG with alpha, the first
image's size), ``input_fidelity`` (gpt-image-1.5 high|low, gpt-image-1-mini low, refused elsewhere) and the
generation fields. Unreadable images, a bad mask and unknown fields are 400 invalid_request_error answers naming
the ``param``. The answer's ``usage.input_tokens_details.image_tokens`` counts ``IMAGE_TOKENS`` per source. What
arrived is kept on the request's ``notes``: ``fields`` (name -> text) and ``files`` (FormPart list). Edit scenarios:
``bad_image`` (400 invalid_image_file for image 1), ``too_large`` (400 image_too_large), ``safety`` (400
moderation_blocked, the answer to a refused source image).
"""
from __future__ import annotations

import base64
import io
import time
import uuid
from typing import Any

from PIL import Image, UnidentifiedImageError

from tests.fakes.common import FakeServer, Reply, Seen, image_bytes, json_reply, parse_multipart

GPT = {"gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-sunburst",
       "gpt-image-2.5-flare", "gpt-image-2.6-sunburst", "gpt-image-2.6-flare", "chatgpt-image-latest"}
FREE_SIZE = {"gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-sunburst", "gpt-image-2.5-flare"}
RETIRED = {"dall-e-2": "This model was retired on May 12, 2026.", "dall-e-3": "This model was retired on May 12, 2026.",
           "gpt-image-1": "GPT Image 1 was shut down on October 23, 2026."}
STANDARD = {"1024x1024", "1536x1024", "1024x1536", "auto"}
QUALITY = {"low", "medium", "high", "auto"}
QUALITY_25 = QUALITY | {"xhigh", "max"}
KEYS = {"model", "prompt", "n", "size", "quality", "user", "background", "output_format", "output_compression",
        "moderation", "safety_identifier"}
EDIT_KEYS = KEYS | {"input_fidelity"}
INPUT_FIDELITY = {"gpt-image-1.5": {"high", "low"}, "gpt-image-1-mini": {"low"}}
IMAGE_TOKENS = 323  # per source image, in the answer's usage (the fake's own count)
MAX_IMAGE_BYTES, MAX_MASK_BYTES, MAX_IMAGES = 50 * 1024 * 1024, 4 * 1024 * 1024, 16
TOKENS = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 6240, "max": 8320, "auto": 4160}


class _Invalid(Exception):
    def __init__(self, message: str, param: str | None, code: str | None = "invalid_value"):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


class OpenAIFake(FakeServer):
    name = "openai"

    def __init__(self, api_key: str = "sk-test-openai-5f3c0a9e1d7b42c8a6e0") -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def _error(self, status: int, message: str, *, type_: str, code: str | None = None, param: str | None = None,
               headers: dict[str, str] | None = None) -> Reply:
        rid = f"req_{uuid.uuid4().hex}"
        return json_reply(status, {"error": {"message": message, "type": type_, "param": param, "code": code}},
                          {"x-request-id": rid, **(headers or {})})

    def route(self, seen: Seen) -> Reply:
        if (seen.method, seen.path) == ("GET", "/v1/models"):
            return self._models(seen)
        edit = (seen.method, seen.path) == ("POST", "/v1/images/edits")
        if (seen.method, seen.path) != ("POST", "/v1/images/generations") and not edit:
            return self._error(404, f"Invalid URL ({seen.method} {seen.path})", type_="invalid_request_error")
        # 1. Auth
        auth = seen.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return self._error(401, "You didn't provide an API key. You need to provide your API key in an "
                                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                               type_="invalid_request_error")
        given = auth[len("Bearer "):]
        if given != self.api_key:
            masked = given[:3] + "*" * max(0, len(given) - 7) + given[-4:]
            return self._error(401, f"Incorrect API key provided: {masked}. You can find your API key at "
                                    "https://platform.openai.com/account/api-keys.",
                               type_="invalid_request_error", code="invalid_api_key")
        # 2. Scenario
        scenario = seen.scenario = self.next_scenario()
        if scenario == "slow":
            self.wait_slow()
        elif scenario == "rate_limit":
            return self._error(429, "Rate limit reached for images per minute. Limit: 5/1min. Current: 6/1min.",
                               type_="requests", code="rate_limit_exceeded", headers={"Retry-After": self.retry_after})
        elif scenario == "quota":
            return self._error(429, "You exceeded your current quota, please check your plan and billing details.",
                               type_="insufficient_quota", code="insufficient_quota")
        elif scenario == "server_error":
            return self._error(500, "The server had an error while processing your request. Sorry about that!",
                               type_="server_error")
        elif scenario == "unauthorized":
            return self._error(401, "Incorrect API key provided: sk-te****revoked.", type_="invalid_request_error",
                               code="invalid_api_key")
        elif scenario == "safety" and edit:
            return self._error(400, "Your request was rejected by the safety system. If you believe this is an "
                                    "error, contact us. safety_violations=[sexual].",
                               type_="image_generation_user_error", code="moderation_blocked")
        elif scenario == "safety":
            return self._error(400, "Your request was rejected as a result of our safety system. Your prompt may "
                                    "contain text that is not allowed by our safety system.",
                               type_="invalid_request_error", code="content_policy_violation")
        elif scenario == "bad_image":
            return self._error(400, "Invalid image file or mode for image 1, please check your image file.",
                               type_="invalid_request_error", code="invalid_image_file", param="image")
        elif scenario == "too_large":
            return self._error(400, "Image file too large: 52428801 bytes. Maximum size is 50MB.",
                               type_="invalid_request_error", code="image_too_large", param="image")
        elif scenario == "malformed":
            return Reply(200, b'{"created": 1700000000, "data": [{"b64_json": "iVBOR',
                         {"Content-Type": "application/json"})
        elif scenario == "echo_auth":  # a misconfigured gateway quoting the request's headers
            return self._error(502, f"upstream refused; request headers: Authorization: {auth}",
                               type_="server_error")
        # 3. Validate
        try:
            body = self._edit_body(seen) if edit else seen.json
            answer = self._generate(body, edit=edit)
        except _Invalid as bad:
            return self._error(400, bad.message, type_="invalid_request_error", code=bad.code, param=bad.param)
        except _Gone as gone:
            return self._error(404, str(gone), type_="invalid_request_error", code="model_not_found", param="model")
        if scenario == "malformed_image":
            for item in answer["data"]:
                item.pop("url", None)
                item["b64_json"] = base64.b64encode(b"this is not an image").decode()
        if scenario == "empty":
            answer.pop("data")
        return json_reply(200, answer, {"x-request-id": f"req_{uuid.uuid4().hex}"})

    def _models(self, seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", type_="invalid_request_error",
                               code="invalid_api_key")
        return json_reply(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 1700000000,
                                                            "owned_by": "system"}
                                                           for m in sorted(GPT - {"gpt-image-2.6-flare"})]})

    def _edit_body(self, seen: Seen) -> dict[str, Any]:
        """The multipart form as a body dict (fields as sent; files checked and kept in ``seen.notes``)."""
        try:
            parts = parse_multipart(seen.headers.get("content-type", ""), seen.body)
        except ValueError as exc:
            raise _Invalid(f"Invalid multipart body: {exc}", None, None) from None
        fields = {p.name: p.text for p in parts if p.filename is None}
        files = [p for p in parts if p.filename is not None]
        seen.notes.update(fields=fields, files=files)
        body: dict[str, Any] = dict(fields)
        for name in ("n", "output_compression"):
            if name in body:
                try:
                    body[name] = int(body[name])
                except ValueError:
                    raise _Invalid(f"Invalid '{name}': {body[name]!r} is not an integer.", name) from None
        images = [p for p in files if p.name in ("image", "image[]")]
        masks = [p for p in files if p.name == "mask"]
        others = [p.name for p in files if p.name not in ("image", "image[]", "mask")]
        if others:
            raise _Invalid(f"Unknown parameter: '{others[0]}'.", others[0], "unknown_parameter")
        if not images:
            raise _Invalid("Missing required parameter: 'image'.", "image", "missing_required_parameter")
        if len(images) > MAX_IMAGES:
            raise _Invalid(f"Too many images: {len(images)}; at most {MAX_IMAGES}.", "image")
        sizes = []
        for i, part in enumerate(images, 1):
            fmt, size, _ = _read(part.data)
            if fmt not in ("PNG", "JPEG", "WEBP"):
                raise _Invalid(f"Invalid image file or mode for image {i}, please check your image file.", "image",
                               "invalid_image_file")
            if len(part.data) > MAX_IMAGE_BYTES:
                raise _Invalid(f"Image {i} too large: {len(part.data)} bytes. Maximum size is 50MB.", "image",
                               "image_too_large")
            sizes.append(size)
        if masks:
            fmt, size, alpha = _read(masks[0].data)
            if fmt != "PNG" or not alpha or len(masks[0].data) > MAX_MASK_BYTES:
                raise _Invalid("Invalid mask image format - mask must be a PNG with an alpha channel, under 4MB.",
                               "mask", "invalid_image_format")
            if size != sizes[0]:
                raise _Invalid("Invalid mask image format - mask size does not match image size.", "mask")
        body["_images"] = sizes
        return body

    def _generate(self, body: Any, *, edit: bool = False) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Invalid("We could not parse the JSON body of your request.", None, None)
        sources = body.pop("_images", [])
        model = body.get("model")
        if model in RETIRED:
            raise _Gone(f"The model `{model}` does not exist or you do not have access to it. {RETIRED[model]}")
        if model not in GPT:
            raise _Invalid(f"Invalid value: '{model}'. Supported values are: {sorted(GPT)}.", "model")
        unknown = set(body) - (EDIT_KEYS if edit else KEYS)
        if unknown:
            name = sorted(unknown)[0]
            raise _Invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise _Invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        if len(prompt) > 32000:
            raise _Invalid("Invalid 'prompt': string too long.", "prompt", "string_above_max_length")
        n = body.get("n", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
            raise _Invalid(f"Invalid 'n': {n!r}; supports 1 to 10.", "n")
        size = body.get("size", "auto")
        w, h = (1024, 1024) if size == "auto" else _size(size)
        if model in FREE_SIZE:
            if not (w % 16 == 0 and h % 16 == 0 and 1 / 3 <= w / h <= 3 and max(w, h) <= 3840
                    and w * h <= 3840 * 2160):
                raise _Invalid(f"Invalid size '{size}': multiples of 16, ratio 1:3 to 3:1, at most 3840x2160.", "size")
        elif size not in STANDARD:
            raise _Invalid(f"Invalid value: '{size}'. Supported values are: {sorted(STANDARD)}.", "size")
        quality = body.get("quality", "auto")
        if quality not in (QUALITY_25 if model.startswith("gpt-image-2.5") else QUALITY):
            raise _Invalid(f"Invalid value: '{quality}'.", "quality")
        background = body.get("background", "auto")
        output_format = body.get("output_format", "png")
        if background not in ("transparent", "opaque", "auto"):
            raise _Invalid(f"Invalid value: '{background}'.", "background")
        if output_format not in ("png", "jpeg", "webp"):
            raise _Invalid(f"Invalid value: '{output_format}'.", "output_format")
        if background == "transparent" and output_format == "jpeg":
            raise _Invalid("Transparent background requires output_format png or webp.", "background")
        if "output_compression" in body:
            oc = body["output_compression"]
            if output_format == "png" or not isinstance(oc, int) or not 0 <= oc <= 100:
                raise _Invalid("output_compression takes 0-100, with jpeg or webp only.", "output_compression")
        if body.get("moderation", "auto") not in ("low", "auto"):
            raise _Invalid(f"Invalid value: '{body['moderation']}'.", "moderation")
        if "input_fidelity" in body and body["input_fidelity"] not in INPUT_FIDELITY.get(model, set()):
            raise _Invalid(f"input_fidelity {body['input_fidelity']!r} is not supported for {model}.",
                           "input_fidelity", "unsupported_parameter")
        fmt = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[output_format]
        mode = "RGBA" if background == "transparent" else "RGB"
        data = [{"b64_json": base64.b64encode(image_bytes(w, h, fmt=fmt, mode=mode)).decode()}
                for _ in range(n)]
        text_tokens = max(1, len(prompt.split()))
        image_tokens = IMAGE_TOKENS * len(sources)
        out_tokens = TOKENS[quality] * n
        return {"created": int(time.time()), "background": "transparent" if mode == "RGBA" else "opaque",
                "data": data, "output_format": output_format, "quality": quality if quality != "auto" else "high",
                "size": f"{w}x{h}",
                "usage": {"input_tokens": text_tokens + image_tokens,
                          "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
                          "output_tokens": out_tokens, "total_tokens": text_tokens + image_tokens + out_tokens}}


def _read(data: bytes) -> tuple[str | None, tuple[int, int] | None, bool]:
    """(format, size, has alpha) of an uploaded image; (None, None, False) when it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.format, img.size, "A" in img.getbands()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None, None, False


def _size(size: Any) -> tuple[int, int]:
    try:
        w, h = str(size).split("x")
        return int(w), int(h)
    except ValueError:
        raise _Invalid(f"Invalid size '{size}': WIDTHxHEIGHT.", "size") from None


class _Gone(Exception):
    pass
