"""ByteDance: the Volcano Engine visual API (AK/SK-signed) and Ark Seedream (OpenAI-compatible).

`VolcFake` serves ``POST /?Action=...&Version=2022-08-31`` and verifies every request's signature with its
own implementation of the HMAC-SHA256 V4 scheme (recomputed from what it received: method, path, query,
the signed headers, the body hash), then the actions CVProcess (high_aes_general_v21_L) and the
CVSync2AsyncSubmitTask / CVSync2AsyncGetResult pair (jimeng_t2i_v30). ``task_mode``: "ok" (done after
``polls_to_finish`` polls), "never" (generating forever), "fail" (50511 output risk when it would be done),
"expired". Extra scenarios: ``concurrency`` (429, code 50430), ``code_N`` (business code N).

`ArkFake` serves ``POST /api/v3/images/generations`` with ``Authorization: Bearer ARK_API_KEY``; extra
scenarios ``code_X`` (error code X, e.g. code_OutputImageRiskDetection) and ``echo_auth``. Seedream 4.0 takes
``image``: one string or a list of 1-10, each a URL or a ``data:image/<format>;base64,...`` URI (lower-case
format, jpeg or png, at most 10 MB, ratio 1:3 to 3:1); each is decoded and checked, and kept on the request's
``notes["images"]`` as (format, bytes). Seedream 3.0 t2i refuses ``image``. Edit scenarios: ``bad_image`` (400
InvalidParameter on ``image``), ``too_large`` (400 InvalidParameter, over 10 MB), ``safety_image`` (400
InputImageRiskDetection).
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import io
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import quote

from PIL import Image, UnidentifiedImageError

from tests.fakes.common import FakeServer, Reply, Seen, image_bytes, json_reply

REGION, SERVICE = "cn-north-1", "cv"
AUTH_RE = re.compile(r"^HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/request, "
                     r"SignedHeaders=([a-z0-9;\-]+), Signature=([0-9a-f]{64})$")
REQ_KEYS = {"CVProcess": {"high_aes_general_v21_L": (256, 768)},
            "CVSync2AsyncSubmitTask": {"jimeng_t2i_v30": (512, 2048)}}


# ---------------------------------------------------------------------------------------------------
# The server side of the signature: written apart from the client's signer on purpose
# ---------------------------------------------------------------------------------------------------
def expected_signature(*, secret_key: str, method: str, path: str, raw_query: str, headers: dict[str, str],
                       signed_headers: list[str], x_date: str, body: bytes) -> str:
    pairs = []
    for part in filter(None, raw_query.split("&")):
        k, _, v = part.partition("=")
        pairs.append((_unquote(k), _unquote(v)))
    canonical_query = "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in sorted(pairs))
    canonical_headers = "".join(name + ":" + " ".join(headers.get(name, "").split()) + "\n" for name in signed_headers)
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical_request = "\n".join((method, path or "/", canonical_query, canonical_headers, ";".join(signed_headers),
                                   payload_hash))
    date = x_date[:8]
    scope = "/".join((date, REGION, SERVICE, "request"))
    string_to_sign = "\n".join(("HMAC-SHA256", x_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()))
    signing_key = functools.reduce(lambda key, part: hmac.new(key, part.encode(), hashlib.sha256).digest(),
                                   (date, REGION, SERVICE, "request"), secret_key.encode())
    return hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text.replace("+", " "))


def _gateway_error(status: int, code: str, code_n: int, message: str, action: str = "") -> Reply:
    return json_reply(status, {"ResponseMetadata": {"RequestId": f"2025{uuid.uuid4().hex[:24].upper()}",
                                                    "Action": action, "Version": "2022-08-31", "Service": SERVICE,
                                                    "Region": REGION,
                                                    "Error": {"CodeN": code_n, "Code": code, "Message": message}}})


class _Business(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class VolcFake(FakeServer):
    name = "volcengine"

    def __init__(self, *, access_key: str = "AKLTtestvolc7f2a9c3e5b1d4",
                 secret_key: str = "TVRSM0test-volc-secret-2b8e6d4f0a1c3e5a7b9d", polls_to_finish: int = 2) -> None:
        super().__init__()
        self.access_key, self.secret_key = access_key, secret_key
        self.polls_to_finish = polls_to_finish
        self.task_mode = "ok"
        self.tasks: dict[str, dict[str, Any]] = {}

    @property
    def base_url(self) -> str:
        return self.origin

    def _reply(self, status: int, code: int, message: str, data: Any = None, headers: dict | None = None) -> Reply:
        return json_reply(status, {"code": code, "data": data, "message": message,
                                   "request_id": f"{time.strftime('%Y%m%d%H%M%S')}{uuid.uuid4().hex[:16]}",
                                   "status": code, "time_elapsed": "12.3ms"}, headers)

    def route(self, seen: Seen) -> Reply:
        action = seen.query.get("Action", "")
        if seen.method != "POST" or seen.path != "/" or seen.query.get("Version") != "2022-08-31" \
                or action not in ("CVProcess", "CVSync2AsyncSubmitTask", "CVSync2AsyncGetResult"):
            return _gateway_error(404, "InvalidActionOrVersion", 100008, f"Could not find operation {action}", action)
        denied = self._verify(seen, action)
        if denied:
            return denied
        scenario = seen.scenario = self.next_scenario()
        if scenario == "slow":
            self.wait_slow()
        elif scenario == "rate_limit":
            return self._reply(429, 50429, "Request Has Reached API Limit, Please Try Later",
                               headers={"Retry-After": self.retry_after})
        elif scenario == "concurrency":
            return self._reply(429, 50430, "Request Has Reached API Concurrent Limit, Please Try Later",
                               headers={"Retry-After": self.retry_after})
        elif scenario == "server_error":
            return self._reply(500, 50500, "Internal Error")
        elif scenario == "unauthorized":
            return _gateway_error(401, "InvalidAccessKey", 100009, "The access key is disabled.", action)
        elif scenario == "safety":
            return self._reply(400, 50412, "Pre Text Risk Not Pass")
        elif scenario.startswith("code_"):  # any business code of the table, e.g. code_50518
            return self._reply(400, int(scenario[5:]), "Post Img Risk Not Pass")
        elif scenario == "malformed":
            return Reply(200, b"upstream connect error or disconnect/reset before headers",
                         {"Content-Type": "text/plain"})
        body = seen.json
        try:
            if not isinstance(body, dict):
                raise _Business(400, 50400, "Invalid Request: body is not JSON")
            if action == "CVSync2AsyncGetResult":
                return self._get_result(body)
            return self._create(action, body)
        except _Business as bad:
            return self._reply(bad.status, bad.code, bad.message)

    # -- signature -----------------------------------------------------------------------------------
    def _verify(self, seen: Seen, action: str) -> Reply | None:
        m = AUTH_RE.match(seen.headers.get("authorization", ""))
        if not m:
            return _gateway_error(401, "InvalidAuthorization", 100001, "The Authorization header is missing or "
                                  "malformed.", action)
        ak, date, region, service, signed, signature = m.groups()
        seen.notes["access_key"] = ak
        if ak != self.access_key:
            return _gateway_error(401, "InvalidAccessKey", 100009, "The access key is invalid.", action)
        x_date = seen.headers.get("x-date", "")
        signed_headers = signed.split(";")
        if region != REGION or service != SERVICE or date != x_date[:8] \
                or not {"host", "x-date", "x-content-sha256"} <= set(signed_headers) \
                or signed_headers != sorted(signed_headers):
            return _gateway_error(401, "InvalidCredential", 100002, "The credential scope or signed headers are "
                                  "invalid.", action)
        if seen.headers.get("x-content-sha256") != hashlib.sha256(seen.body).hexdigest():
            return _gateway_error(401, "SignatureDoesNotMatch", 100010, "The body hash does not match "
                                  "X-Content-Sha256.", action)
        want = expected_signature(secret_key=self.secret_key, method=seen.method, path=seen.path,
                                  raw_query=seen.raw_query, headers=seen.headers, signed_headers=signed_headers,
                                  x_date=x_date, body=seen.body)
        if not hmac.compare_digest(want, signature):
            return _gateway_error(401, "SignatureDoesNotMatch", 100010, "The request signature we calculated does "
                                  "not match the signature you provided.", action)
        seen.notes["signature_ok"] = True
        return None

    # -- actions -------------------------------------------------------------------------------------
    def _create(self, action: str, body: dict) -> Reply:
        req_key = body.get("req_key")
        if req_key not in REQ_KEYS[action]:
            raise _Business(400, 50400, f"Invalid Request: req_key {req_key!r} is not served by {action}")
        lo, hi = REQ_KEYS[action][req_key]
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _Business(400, 50400, "Invalid Request: prompt is required")
        w, h = body.get("width", 512), body.get("height", 512)
        for name, v in (("width", w), ("height", h)):
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise _Business(400, 50400, f"Invalid Request: {name} must be in [{lo}, {hi}], got {v!r}")
        seed = body.get("seed", -1)
        if not isinstance(seed, int) or not -1 <= seed <= 2**31 - 1:
            raise _Business(400, 50400, f"Invalid Request: seed {seed!r}")
        if "scale" in body and not (isinstance(body["scale"], (int, float)) and 1 <= body["scale"] <= 10):
            raise _Business(400, 50400, "Invalid Request: scale must be in [1, 10]")
        if "ddim_steps" in body and not (isinstance(body["ddim_steps"], int) and 1 <= body["ddim_steps"] <= 50):
            raise _Business(400, 50400, "Invalid Request: ddim_steps must be in [1, 50]")
        for flag in ("use_pre_llm", "use_sr", "return_url"):
            if flag in body and not isinstance(body[flag], bool):
                raise _Business(400, 50400, f"Invalid Request: {flag} must be a boolean")
        if action == "CVProcess":
            return self._reply(200, 10000, "Success", self._images(w, h, bool(body.get("return_url"))))
        task_id = str(int(time.time() * 1e6)) + uuid.uuid4().hex[:6]
        self.tasks[task_id] = {"req_key": req_key, "width": w, "height": h, "polls": 0}
        return self._reply(200, 10000, "Success", {"task_id": task_id})

    def _get_result(self, body: dict) -> Reply:
        task = self.tasks.get(body.get("task_id"))
        if body.get("req_key") not in REQ_KEYS["CVSync2AsyncSubmitTask"]:
            raise _Business(400, 50400, f"Invalid Request: req_key {body.get('req_key')!r}")
        req_json = body.get("req_json", "{}")
        try:
            options = json.loads(req_json) if isinstance(req_json, str) else None
        except ValueError:
            options = None
        if not isinstance(options, dict):
            raise _Business(400, 50400, "Invalid Request: req_json must be a JSON object encoded as a string")
        if task is None:
            return self._reply(200, 10000, "Success", {"status": "not_found", "binary_data_base64": [],
                                                       "image_urls": None})
        task["polls"] += 1
        if self.task_mode == "expired":
            return self._reply(200, 10000, "Success", {"status": "expired", "binary_data_base64": []})
        if self.task_mode == "never" or task["polls"] < self.polls_to_finish:
            status = "in_queue" if task["polls"] == 1 else "generating"
            return self._reply(200, 10000, "Success", {"status": status, "binary_data_base64": [], "image_urls": None})
        if self.task_mode == "fail":
            raise _Business(400, 50511, "Post Img Risk Not Pass")
        data = self._images(task["width"], task["height"], bool(options.get("return_url")))
        return self._reply(200, 10000, "Success", {"status": "done", **data})

    def _images(self, w: int, h: int, return_url: bool) -> dict[str, Any]:
        png = image_bytes(w, h, color=(220, 90, 30))
        if return_url:
            return {"binary_data_base64": [], "image_urls": [self.serve_file(png)]}
        return {"binary_data_base64": [base64.b64encode(png).decode()], "image_urls": None}


# ---------------------------------------------------------------------------------------------------
# Ark
# ---------------------------------------------------------------------------------------------------
ARK_MODELS = {"doubao-seedream-3-0-t2i-250415": "3", "doubao-seedream-4-0-250828": "4"}
ARK_KEYS = {"model", "prompt", "response_format", "size", "seed", "guidance_scale", "watermark",
            "sequential_image_generation", "stream", "image"}


class ArkFake(FakeServer):
    name = "ark"

    def __init__(self, api_key: str = "ark-test-3c5e7a9b-1d2f-4a6c-8e0b-2d4f6a8c0e1a") -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v3"

    def _error(self, status: int, code: str, message: str, type_: str, param: str = "",
               headers: dict | None = None) -> Reply:
        rid = f"0217{int(time.time() * 1000)}{uuid.uuid4().hex[:16]}"
        return json_reply(status, {"error": {"code": code, "message": f"{message} Request id: {rid}", "param": param,
                                             "type": type_}}, {"x-request-id": rid, **(headers or {})})

    def route(self, seen: Seen) -> Reply:
        if (seen.method, seen.path) != ("POST", "/api/v3/images/generations"):
            return self._error(404, "NotFound", f"The requested path {seen.path} was not found.", "NotFound")
        auth = seen.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return self._error(401, "AuthenticationError", "The API key or AK/SK in the request is missing or "
                                                           "invalid.", "Unauthorized")
        scenario = seen.scenario = self.next_scenario()
        if scenario == "slow":
            self.wait_slow()
        elif scenario == "rate_limit":
            return self._error(429, "RateLimitExceeded.EndpointIPMExceeded", "The request has exceeded the images "
                               "per minute (IPM) limit.", "TooManyRequests", headers={"Retry-After": self.retry_after})
        elif scenario == "server_error":
            return self._error(500, "InternalServiceError", "The service encountered an unexpected internal error.",
                               "InternalServerError")
        elif scenario == "unauthorized":
            return self._error(401, "AuthenticationError", "The API key in the request is invalid.", "Unauthorized")
        elif scenario == "safety":
            return self._error(400, "InputTextSensitiveContentDetected", "The request failed because the input text "
                               "may contain sensitive information.", "BadRequest")
        elif scenario == "safety_image":
            return self._error(400, "InputImageRiskDetection", "The request failed because the input image may "
                               "contain sensitive information.", "BadRequest")
        elif scenario == "bad_image":
            return self._error(400, "InvalidParameter", "The parameter `image` specified in the request is not valid: "
                               "the image cannot be decoded.", "BadRequest", "image")
        elif scenario == "too_large":
            return self._error(400, "InvalidParameter", "The parameter `image` specified in the request is not valid: "
                               "image size exceeds the limit of 10 MB.", "BadRequest", "image")
        elif scenario.startswith("code_"):  # any Ark error code, e.g. code_OutputImageRiskDetection
            return self._error(400, scenario[5:], "The request failed the provider's check.", "BadRequest")
        elif scenario == "echo_auth":
            return self._error(502, "BadGateway", f"upstream said no to Authorization: {auth}", "BadGateway")
        elif scenario == "malformed":
            return Reply(200, b'{"model": "doubao", "data": [', {"Content-Type": "application/json"})
        body = seen.json
        if not isinstance(body, dict):
            return self._error(400, "InvalidParameter", "The request body is not valid JSON.", "BadRequest")
        bad = self._validate(body) or self._images(body, seen)
        if bad:
            return self._error(400, "InvalidParameter", f"The parameter `{bad[0]}` specified in the request is not "
                                                        f"valid: {bad[1]}.", "BadRequest", bad[0])
        w, h = self._size(body)
        png = image_bytes(w, h, color=(90, 200, 90))
        item = ({"b64_json": base64.b64encode(png).decode()} if body.get("response_format", "url") == "b64_json"
                else {"url": self.serve_file(png, ext="png")})
        item["size"] = f"{w}x{h}"
        return json_reply(200, {"model": body["model"], "created": int(time.time()), "data": [item],
                                "usage": {"generated_images": 1, "output_tokens": w * h // 256,
                                          "total_tokens": w * h // 256}},
                          {"x-request-id": f"0217{uuid.uuid4().hex}"})

    def _validate(self, body: dict) -> tuple[str, str] | None:
        for key in body:
            if key not in ARK_KEYS:
                return key, "unknown parameter"
        version = ARK_MODELS.get(body.get("model"))
        if version is None:
            return "model", f"the model {body.get('model')!r} does not exist or you do not have access to it"
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            return "prompt", "a prompt is required"
        if body.get("response_format", "url") not in ("url", "b64_json"):
            return "response_format", "one of url, b64_json"
        size = body.get("size", "1024x1024" if version == "3" else "2048x2048")
        if version == "4" and size in ("1K", "2K", "4K"):
            pass
        else:
            m = re.fullmatch(r"(\d+)x(\d+)", str(size))
            if not m:
                return "size", "WIDTHxHEIGHT"
            w, h = int(m.group(1)), int(m.group(2))
            if version == "3" and not (512 <= w <= 2048 and 512 <= h <= 2048):
                return "size", "each side in [512, 2048]"
            if version == "4" and not (1280 * 720 <= w * h <= 4096 * 4096 and 1 / 16 <= w / h <= 16):
                return "size", "total pixels in [1280x720, 4096x4096], aspect ratio in [1/16, 16]"
        if "seed" in body and not (isinstance(body["seed"], int) and -1 <= body["seed"] <= 2**31 - 1):
            return "seed", "an integer in [-1, 2147483647]"
        if "guidance_scale" in body:
            g = body["guidance_scale"]
            if version != "3":
                return "guidance_scale", "not supported by this model"
            if not isinstance(g, (int, float)) or isinstance(g, bool) or not 1 <= g <= 10:
                return "guidance_scale", "a number in [1, 10]"
        if "watermark" in body and not isinstance(body["watermark"], bool):
            return "watermark", "a boolean"
        return None

    @staticmethod
    def _images(body: dict, seen: Seen) -> tuple[str, str] | None:
        if "image" not in body:
            return None
        if ARK_MODELS[body["model"]] != "4":
            return "image", "this model takes no input image"
        items = body["image"] if isinstance(body["image"], list) else [body["image"]]
        if not 1 <= len(items) <= 10 or not all(isinstance(i, str) for i in items):
            return "image", "a URL or data URI, or a list of 1 to 10 of them"
        seen.notes["images"] = []
        for item in items:
            m = re.fullmatch(r"data:image/([a-z]+);base64,([A-Za-z0-9+/=]+)", item, flags=re.S)
            if not m:
                return "image", "a URL or data:image/<format>;base64,<data> with the format in lower case"
            try:
                data = base64.b64decode(m.group(2), validate=True)
                with Image.open(io.BytesIO(data)) as img:
                    img.load()
                    fmt, (w, h) = (img.format or "").lower(), img.size
            except (binascii.Error, ValueError, UnidentifiedImageError, OSError, SyntaxError):
                return "image", "the image cannot be decoded"
            if fmt not in ("jpeg", "png") or m.group(1) != fmt:
                return "image", f"jpeg or png declared as such, not {fmt} declared as {m.group(1)}"
            if len(data) > 10 * 1024 * 1024:
                return "image", "image size exceeds the limit of 10 MB"
            if not 1 / 3 <= w / h <= 3 or min(w, h) <= 14:
                return "image", "aspect ratio in [1/3, 3], sides over 14 px"
            seen.notes["images"].append((fmt, data))
        return None

    @staticmethod
    def _size(body: dict) -> tuple[int, int]:
        size = body.get("size", "1024x1024")
        if size in ("1K", "2K", "4K"):
            side = {"1K": 1024, "2K": 2048, "4K": 4096}[size]
            return side, side
        w, h = size.split("x")
        return int(w), int(h)
