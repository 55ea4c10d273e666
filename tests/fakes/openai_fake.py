"""OpenAI Images: ``POST /v1/images/generations`` with ``Authorization: Bearer KEY``.

Validates bodies like the service (model, prompt length, n, size, quality, style, response_format,
gpt-image-1's background/output_format/output_compression/moderation, unknown parameters), answers with
``created``/``data`` (b64_json, or url served here), ``revised_prompt`` for dall-e-3 and ``usage`` for
gpt-image-1, and an ``x-request-id`` header. Extra scenarios: ``quota`` (429 insufficient_quota),
``malformed_image`` (200, base64 that is no image), ``empty`` (200 without ``data``).
"""
from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from tests.fakes.common import FakeServer, Reply, Seen, image_bytes, json_reply

SIZES = {
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "gpt-image-1": {"1024x1024", "1536x1024", "1024x1536", "auto"},
}
QUALITY = {"dall-e-2": {"standard"}, "dall-e-3": {"standard", "hd"}, "gpt-image-1": {"low", "medium", "high", "auto"}}
MAX_PROMPT = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image-1": 32000}
MAX_N = {"dall-e-2": 10, "dall-e-3": 1, "gpt-image-1": 10}
COMMON = {"model", "prompt", "n", "size", "quality", "user"}
ONLY = {
    "dall-e-2": {"response_format"},
    "dall-e-3": {"response_format", "style"},
    "gpt-image-1": {"background", "output_format", "output_compression", "moderation"},
}
TOKENS = {"low": 272, "medium": 1056, "high": 4160, "auto": 4160}  # image output tokens at 1024x1024


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
        if (seen.method, seen.path) != ("POST", "/v1/images/generations"):
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
        elif scenario == "safety":
            return self._error(400, "Your request was rejected as a result of our safety system. Your prompt may "
                                    "contain text that is not allowed by our safety system.",
                               type_="invalid_request_error", code="content_policy_violation")
        elif scenario == "malformed":
            return Reply(200, b'{"created": 1700000000, "data": [{"b64_json": "iVBOR',
                         {"Content-Type": "application/json"})
        # 3. Validate
        body = seen.json
        try:
            answer = self._generate(body)
        except _Invalid as bad:
            return self._error(400, bad.message, type_="invalid_request_error", code=bad.code, param=bad.param)
        if scenario == "malformed_image":
            for item in answer["data"]:
                item.pop("url", None)
                item["b64_json"] = base64.b64encode(b"this is not an image").decode()
        if scenario == "empty":
            answer.pop("data")
        return json_reply(200, answer, {"x-request-id": f"req_{uuid.uuid4().hex}"})

    def _generate(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Invalid("We could not parse the JSON body of your request.", None, None)
        model = body.get("model", "dall-e-2")
        if model not in SIZES:
            raise _Invalid(f"Invalid value: '{model}'. Supported values are: 'dall-e-2', 'dall-e-3' and "
                           "'gpt-image-1'.", "model")
        unknown = set(body) - COMMON - ONLY[model]
        if unknown:
            name = sorted(unknown)[0]
            raise _Invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise _Invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        if len(prompt) > MAX_PROMPT[model]:
            raise _Invalid(f"Invalid 'prompt': string too long. Expected a string with maximum length "
                           f"{MAX_PROMPT[model]}, but got a string with length {len(prompt)} instead.", "prompt",
                           "string_above_max_length")
        n = body.get("n", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_N[model]:
            raise _Invalid(f"Invalid 'n': {n!r}; {model} supports 1 to {MAX_N[model]}.", "n")
        size = body.get("size", "1024x1024")
        if size not in SIZES[model]:
            raise _Invalid(f"Invalid value: '{size}'. Supported values are: {sorted(SIZES[model])}.", "size")
        quality = body.get("quality", "standard" if model != "gpt-image-1" else "auto")
        if quality not in QUALITY[model]:
            raise _Invalid(f"Invalid value: '{quality}'. Supported values are: {sorted(QUALITY[model])}.", "quality")
        if "style" in body and body["style"] not in ("vivid", "natural"):
            raise _Invalid(f"Invalid value: '{body['style']}'. Supported values are: 'vivid' and 'natural'.", "style")
        response_format = body.get("response_format", "url")
        if response_format not in ("url", "b64_json"):
            raise _Invalid(f"Invalid value: '{response_format}'.", "response_format")
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
        # 4. Answer
        w, h = (1024, 1024) if size == "auto" else map(int, size.split("x"))
        if model == "gpt-image-1":
            fmt = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[output_format]
            mode = "RGBA" if background == "transparent" else "RGB"
            data = [{"b64_json": base64.b64encode(image_bytes(w, h, fmt=fmt, mode=mode)).decode()} for _ in range(n)]
            text_tokens = max(1, len(prompt.split()))
            out_tokens = TOKENS[quality] * n
            return {"created": int(time.time()), "background": "transparent" if mode == "RGBA" else "opaque",
                    "data": data, "output_format": output_format, "quality": quality if quality != "auto" else "high",
                    "size": f"{w}x{h}",
                    "usage": {"input_tokens": text_tokens, "input_tokens_details": {"text_tokens": text_tokens,
                                                                                    "image_tokens": 0},
                              "output_tokens": out_tokens, "total_tokens": text_tokens + out_tokens}}
        data = []
        for _ in range(n):
            png = image_bytes(w, h)
            item: dict[str, Any] = ({"b64_json": base64.b64encode(png).decode()} if response_format == "b64_json"
                                    else {"url": self.serve_file(png)})
            if model == "dall-e-3":
                item["revised_prompt"] = f"A detailed, high-quality image of {prompt}"
            data.append(item)
        return {"created": int(time.time()), "data": data}
