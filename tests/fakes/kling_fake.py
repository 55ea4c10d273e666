"""Kling AI images: ``POST /v1/images/generations`` then ``GET /v1/images/generations/{task_id}``.

Every request must carry ``Authorization: Bearer <JWT>``: the fake decodes it with PyJWT (HS256, the
secret of the access key named in ``iss``; ``exp`` and ``nbf`` required and checked) and answers
1000-1004 like the service when it is missing, badly signed, not yet valid or expired. Bodies are
validated (model_name, prompt and negative_prompt up to 2500 characters, n 1-9, aspect_ratio,
resolution, unknown fields; 2k and 21:9 only from kling-v2 on). Tasks go submitted → processing → succeed after ``polls_to_finish`` polls,
images by URL from this server. ``task_mode``: "ok", "fail" (failed with a risk-control message),
"never" (processing forever). Extra scenarios: ``concurrency`` (429/1303), ``unavailable`` (503/5001),
``ip_whitelist`` (401/1304), ``echo_auth`` (a gateway quoting the Authorization header).

Image-to-image: ``image`` is bare base64 (a ``data:`` prefix is refused, as Kling does) or a URL, decoded and
checked (jpg/png, at most 10 MB, sides of at least 300 px, ratio 1:2.5 to 2.5:1); kling-v1-5 requires
``image_reference`` with it, kling-v2-new requires an image, no negative prompt goes with one, ``image_fidelity``
and ``human_fidelity`` are numbers in [0, 1]. What arrived is kept on the task (``tasks[id]["image"]``: the decoded
bytes) and on the request's notes. Edit scenarios: ``bad_image`` (400/1201 on image), ``too_large`` (400/1201 over
10 MB); ``task_mode`` "fail" covers a source refused by risk control.
"""
from __future__ import annotations

import base64
import binascii
import io
import time
import uuid
from typing import Any

import jwt
from PIL import Image, UnidentifiedImageError

from tests.fakes.common import FakeServer, Reply, Seen, image_bytes, json_reply

MODELS = {"kling-v1", "kling-v1-5", "kling-v2", "kling-v2-1", "kling-v2-new"}
HAS_2K = {"kling-v2", "kling-v2-1", "kling-v2-new"}  # and 21:9: the capability map has neither before v2
ASPECT = {"16:9": (1344, 768), "9:16": (768, 1344), "1:1": (1024, 1024), "4:3": (1184, 880), "3:4": (880, 1184),
          "3:2": (1248, 832), "2:3": (832, 1248), "21:9": (1568, 672)}
FIELDS = {"model_name", "prompt", "negative_prompt", "n", "aspect_ratio", "resolution", "callback_url", "image",
          "image_reference", "image_fidelity", "human_fidelity"}


class KlingFake(FakeServer):
    name = "kling"

    def __init__(self, *, access_key: str = "AKkling-test-4e6a8c0b2d",
                 secret_key: str = "SKkling-test-secret-9f1e3d5c7b8a6f4e2d0c", polls_to_finish: int = 2) -> None:
        super().__init__()
        self.keys = {access_key: secret_key}
        self.access_key, self.secret_key = access_key, secret_key
        self.polls_to_finish = polls_to_finish
        self.task_mode = "ok"
        self.tasks: dict[str, dict[str, Any]] = {}
        self.claims: list[dict[str, Any]] = []  # every decoded JWT, in order
        self.tokens: list[str] = []

    @property
    def base_url(self) -> str:
        return self.origin

    @staticmethod
    def _reply(status: int, code: int, message: str, data: Any = None, headers: dict | None = None) -> Reply:
        payload: dict[str, Any] = {"code": code, "message": message, "request_id": str(uuid.uuid4())}
        if data is not None:
            payload["data"] = data
        return json_reply(status, payload, headers)

    def route(self, seen: Seen) -> Reply:
        denied = self._auth(seen)
        if denied:
            return denied
        scenario = seen.scenario = self.next_scenario()
        if scenario == "slow":
            self.wait_slow()
        elif scenario == "rate_limit":
            return self._reply(429, 1302, "The API request is too fast, please slow down the request frequency.",
                               headers={"Retry-After": self.retry_after})
        elif scenario == "concurrency":
            return self._reply(429, 1303, "Concurrency or QPS exceeds the prepaid resource package limit.",
                               headers={"Retry-After": self.retry_after})
        elif scenario == "server_error":
            return self._reply(500, 5000, "Server internal error")
        elif scenario == "unavailable":
            return self._reply(503, 5001, "Server temporarily unavailable, usually due to maintenance")
        elif scenario == "unauthorized":
            return self._reply(401, 1002, "Authorization is invalid")
        elif scenario == "safety":
            return self._reply(400, 1301, "Trigger the content security policy of the platform")
        elif scenario == "malformed":
            return Reply(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {"Content-Type": "text/html"})
        elif scenario == "ip_whitelist":
            return self._reply(401, 1304, "The IP whitelisting policy of the account is triggered")
        elif scenario == "echo_auth":
            return self._reply(502, 5000, f"gateway error; request had Authorization: {seen.headers['authorization']}")
        elif scenario == "bad_image":
            return self._reply(400, 1201, "Invalid request parameters: image is invalid, cannot be decoded")
        elif scenario == "too_large":
            return self._reply(400, 1201, "Invalid request parameters: image file size cannot exceed 10MB")
        if seen.method == "POST" and seen.path == "/v1/images/generations":
            return self._create(seen.json, seen)
        if seen.method == "GET" and seen.path.startswith("/v1/images/generations/"):
            return self._query(seen.path.rsplit("/", 1)[1])
        return self._reply(404, 1203, f"The requested resource {seen.path} does not exist")

    # -- auth ----------------------------------------------------------------------------------------
    def _auth(self, seen: Seen) -> Reply | None:
        auth = seen.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return self._reply(401, 1000, "Authentication failed: the Authorization header is missing")
        token = auth[len("Bearer "):]
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return self._reply(401, 1002, "Authorization is invalid: not a JWT")
        if header.get("alg") != "HS256":
            return self._reply(401, 1002, "Authorization is invalid: alg must be HS256")
        secret = self.keys.get(unverified.get("iss"))
        if secret is None:
            return self._reply(401, 1002, "Authorization is invalid: unknown access key")
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["iss", "exp", "nbf"]},
                                leeway=0)
        except jwt.ImmatureSignatureError:
            return self._reply(401, 1003, "Authorization is not yet valid")
        except jwt.ExpiredSignatureError:
            return self._reply(401, 1004, "Authorization has expired")
        except jwt.PyJWTError as exc:
            return self._reply(401, 1002, f"Authorization is invalid: {type(exc).__name__}")
        self.claims.append(claims)
        self.tokens.append(token)
        seen.notes["claims"] = claims
        return None

    # -- tasks ---------------------------------------------------------------------------------------
    def _image(self, body: dict, model: str, seen: Seen | None) -> tuple[bytes | None, str | None]:
        """(decoded source image, None), (None, None) when there is none, or (None, error message)."""
        image = body.get("image")
        if image is None:
            return None, ("kling-v2-new takes image-to-image only: image is required" if model == "kling-v2-new"
                          else None)
        if not isinstance(image, str) or not image:
            return None, "image must be a base64 string or a URL"
        if image.startswith("data:"):
            return None, "Incorrect Base64 encoded parameter (includes the data: prefix)"
        try:
            data = base64.b64decode(image, validate=True)
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                fmt, (w, h) = img.format, img.size
        except (binascii.Error, ValueError, UnidentifiedImageError, OSError, SyntaxError):
            return None, "image is invalid, cannot be decoded"
        if fmt not in ("JPEG", "PNG"):
            return None, f"image format must be jpg/jpeg/png, not {fmt}"
        if len(data) > 10 * 1024 * 1024:
            return None, "image file size cannot exceed 10MB"
        if min(w, h) < 300 or not 1 / 2.5 <= w / h <= 2.5:
            return None, f"image must be at least 300px per side with aspect ratio 1:2.5-2.5:1, not {w}x{h}"
        if model == "kling-v1-5" and body.get("image_reference") not in ("subject", "face"):
            return None, "image_reference (subject or face) is required with an image on kling-v1-5"
        if body.get("negative_prompt"):
            return None, "negative_prompt is not supported with an image"
        for name in ("image_fidelity", "human_fidelity"):
            v = body.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1):
                return None, f"{name} must be in [0, 1]"
        if seen is not None:
            seen.notes["image"] = data
        return data, None

    def _create(self, body: Any, seen: Seen | None = None) -> Reply:
        if not isinstance(body, dict):
            return self._reply(400, 1200, "Invalid request: the body is not JSON")
        unknown = set(body) - FIELDS
        if unknown:
            return self._reply(400, 1201, f"Invalid request parameters: unknown field {sorted(unknown)[0]}")
        model = body.get("model_name", "kling-v1")
        if model not in MODELS:
            return self._reply(404, 1203, f"The requested model {model} does not exist")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > 2500:
            return self._reply(400, 1201, "Invalid request parameters: prompt is required, at most 2500 characters")
        negative = body.get("negative_prompt")
        if negative is not None and (not isinstance(negative, str) or len(negative) > 2500):
            return self._reply(400, 1201, "Invalid request parameters: negative_prompt at most 2500 characters")
        n = body.get("n", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 9:
            return self._reply(400, 1201, f"Invalid request parameters: n must be 1-9, got {n!r}")
        ratio = body.get("aspect_ratio", "16:9")
        if ratio not in ASPECT:
            return self._reply(400, 1201, f"Invalid request parameters: aspect_ratio {ratio!r}")
        if body.get("resolution", "1k") not in ("1k", "2k"):
            return self._reply(400, 1201, f"Invalid request parameters: resolution {body.get('resolution')!r}")
        if model not in HAS_2K and (body.get("resolution") == "2k" or ratio == "21:9"):
            return self._reply(400, 1201, f"Invalid request parameters: {model} supports neither 2k nor 21:9")
        image, bad = self._image(body, model, seen)
        if bad:
            return self._reply(400, 1201, f"Invalid request parameters: {bad}")
        task_id = str(uuid.uuid4().int)[:18]
        now = int(time.time() * 1000)
        self.tasks[task_id] = {"n": n, "ratio": ratio, "scale": 2 if body.get("resolution") == "2k" else 1,
                               "polls": 0, "created_at": now, "image": image}
        return self._reply(200, 0, "SUCCEED", {"task_id": task_id, "task_status": "submitted", "created_at": now,
                                               "updated_at": now})

    def _query(self, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return self._reply(400, 1201, f"Invalid request parameters: task {task_id} not found")
        task["polls"] += 1
        data: dict[str, Any] = {"task_id": task_id, "created_at": task["created_at"],
                                "updated_at": int(time.time() * 1000)}
        if self.task_mode == "never" or task["polls"] < self.polls_to_finish:
            data.update(task_status="submitted" if task["polls"] == 1 else "processing", task_status_msg="")
        elif self.task_mode == "fail":
            data.update(task_status="failed", task_status_msg="Failure to pass the risk control system")
        else:
            w, h = ASPECT[task["ratio"]]
            w, h = w * task["scale"], h * task["scale"]
            urls = [self.serve_file(image_bytes(w, h, color=(30, 30, 160)), ext="png") for _ in range(task["n"])]
            data.update(task_status="succeed", task_status_msg="",
                        task_result={"images": [{"index": i, "url": u} for i, u in enumerate(urls)]})
        return self._reply(200, 0, "SUCCEED", data)
