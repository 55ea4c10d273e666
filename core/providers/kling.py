"""Kling AI image generation and image-to-image: kling-v1, kling-v1-5, kling-v2, kling-v2-1 (both tasks) and
kling-v2-new (image-to-image only), submit then poll.

Every request carries a fresh JWT (HS256, ``{"iss": KLING_ACCESS_KEY, "exp": now+1800, "nbf": now-5}``
signed with KLING_SECRET_KEY) as ``Authorization: Bearer``; a token is never reused across requests.
``POST {KLING_BASE_URL}/v1/images/generations`` returns a task id; ``GET .../{task_id}`` is polled until
``task_status`` is ``succeed`` (images by URL, downloaded with a timeout) or ``failed``. Width and height
map to the nearest aspect ratio the model takes. Capabilities per model (Kling's capability map):
21:9 and ``resolution`` 2k only from kling-v2 on; kling-v1 and kling-v1-5 take the seven other ratios at
1k. The complete error-code table: 1000-1004 auth; 1100 account exception, 1101 arrears, 1102 resource
pack used up or expired (waiting will not help); 1103 no access to the resource; 1200-1203 invalid
request/parameters/method/no such resource; 1300 platform policy, 1301 content security (safety);
1302 too fast, 1303 over the pack's concurrency/QPS (retried); 1304 IP allow-list (not retried: contact
Kling support); 5000 server error, 5001 unavailable, 5002 server timeout (retried). The JWTs we make are
kept out of every message, even when a gateway echoes the Authorization header.

Image-to-image (task edit) is the same endpoint with ``image``: the source's base64 alone (Kling refuses a
``data:`` prefix), one jpg/png of at most 10 MB, sides of at least 300 px, aspect ratio 1:2.5 to 2.5:1. With it:
``image_fidelity`` 0-1 (how strongly the output follows the source); on kling-v1-5 ``image_reference`` (subject |
face) is required by Kling, so "subject" is sent unless asked otherwise, and ``human_fidelity`` 0-1 goes with
subject only. Kling takes no negative prompt with an image (refused before sending). These three options are
refused for text-to-image. Prices per image-to-image are their own rows (``kling-v1/edit`` ...).
"""
from __future__ import annotations

import time
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
    dumps,
    nearest_aspect_ratio,
    price,
    secret,
    sent,
    size_of,
    snippet,
)
from core.providers.inputs import Limits, is_edit, recorded, refuse_edit_options, sources

if TYPE_CHECKING:
    import requests

    from core.spec import ModelSpec
    from core.jobs import GenerationRequest
    from core.settings import Settings

PROVIDER = "kling"
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
V1_RATIOS = ASPECT_RATIOS[:-1]  # no 21:9 before v2
HAS_2K = {"kling-v2", "kling-v2-1", "kling-v2-new"}
MAX_PROMPT = 2500
JWT_TTL_S = 1800
_LICENSE = "proprietary (Kling AI API terms)"
_NAMES = {"kling-v1": "Kling v1", "kling-v1-5": "Kling v1.5", "kling-v2": "Kling v2", "kling-v2-1": "Kling v2.1",
          "kling-v2-new": "Kling v2 New (image-to-image)"}
EDIT_ONLY = {"kling-v2-new"}
REFERENCE = {"kling-v1-5"}  # takes image_reference (required with an image) and human_fidelity
INPUT_LIMITS = Limits(formats=("jpeg", "png"), max_bytes=10 * 1024 * 1024, min_side=300, max_ratio=2.5)
EDIT_OPTIONS = ("image_fidelity", "image_reference", "human_fidelity")


def ratios(key: str) -> tuple[str, ...]:
    return ASPECT_RATIOS if key in HAS_2K else V1_RATIOS


def options(spec: "ModelSpec", settings: "Settings | None" = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"aspect_ratio": OneOf(ratios(spec.key)),
                              "resolution": OneOf(("1k", "2k") if spec.key in HAS_2K else ("1k",)),
                              "image_fidelity": Number(0, 1)}
    if spec.key in REFERENCE:
        schema.update(image_reference=OneOf(("subject", "face")), human_fidelity=Number(0, 1))
    return schema


list_model_ids = None  # Kling has no list-models call


def specs() -> list["ModelSpec"]:
    return [
        api_spec(key, name=_NAMES[key], provider=PROVIDER, width=1024, height=1024, supports_negative=True,
                 max_images_per_call=9, license=_LICENSE,
                 tasks=("edit",) if key in EDIT_ONLY else ("text-to-image", "edit"), max_input_images=1,
                 notes=f"async task (submit, poll); aspect ratios {', '.join(ratios(key))}; resolution "
                       + ("1k|2k" if key in HAS_2K else "1k only")
                       + ("; image-to-image only" if key in EDIT_ONLY else "")
                       + "; edits: one jpg/png source (>= 300 px, <= 10 MB), image_fidelity"
                       + (", image_reference subject|face, human_fidelity" if key in REFERENCE else ""))
        for key in _NAMES
    ]


def missing_credentials(spec: "ModelSpec", settings: "Settings") -> str | None:
    missing = [n for n, v in (("KLING_ACCESS_KEY", settings.kling_access_key),
                              ("KLING_SECRET_KEY", settings.kling_secret_key)) if not secret(v)]
    if not missing:
        return None
    return f"{spec.key} needs Kling API keys: set {' and '.join(missing)} (and KLING_BASE_URL for another region)"


def kling_token(access_key: str, secret_key: str, *, now: float | None = None, ttl_s: int = JWT_TTL_S) -> str:
    """A fresh HS256 JWT: iss = access key, nbf = now - 5 s, exp = now + ttl."""
    import jwt

    now = int(time.time() if now is None else now)
    return jwt.encode({"iss": access_key, "exp": now + ttl_s, "nbf": now - 5}, secret_key, algorithm="HS256",
                      headers={"typ": "JWT"})


# 1. Check inputs ------------------------------------------------------------------------------------
def check(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings | None" = None) -> None:
    check_common(spec, req, max_prompt=MAX_PROMPT, max_negative=MAX_PROMPT, max_n=9)
    check_extra(spec, req.extra, options(spec))
    refuse_edit_options(spec, req, EDIT_OPTIONS)
    if is_edit(req):
        if req.negative_prompt:
            raise RequestError("negative_prompt", req.negative_prompt,
                               f"{spec.key} takes no negative prompt with a source image; leave it empty")
        if "human_fidelity" in req.extra and req.extra.get("image_reference", "subject") != "subject":
            raise RequestError("extra.human_fidelity", req.extra["human_fidelity"],
                               "only with image_reference subject")
    sources(spec, req, INPUT_LIMITS)


# 2. What is sent ------------------------------------------------------------------------------------
def _body(spec: "ModelSpec", req: "GenerationRequest") -> dict[str, Any]:
    body: dict[str, Any] = {"model_name": spec.key, "prompt": req.prompt}
    if req.negative_prompt:
        body["negative_prompt"] = req.negative_prompt
    body["n"] = req.num_images
    body["aspect_ratio"] = req.extra.get("aspect_ratio") or nearest_aspect_ratio(*size_of(spec, req),
                                                                                   ratios(spec.key))
    if "resolution" in req.extra:
        body["resolution"] = req.extra["resolution"]
    if is_edit(req):
        if spec.key in REFERENCE:
            body["image_reference"] = req.extra.get("image_reference", "subject")
        for name in ("image_fidelity", "human_fidelity"):
            if name in req.extra:
                body[name] = req.extra[name]
    return body


def _price_key(spec: "ModelSpec", req: "GenerationRequest") -> str:
    return f"{spec.key}/edit" if is_edit(req) or spec.key in EDIT_ONLY else spec.key


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    return price(_price_key(spec, req)).usd * req.num_images


# 3. Errors ------------------------------------------------------------------------------------------
def _kind_for_code(code: Any) -> tuple[str | None, bool | None]:
    if not isinstance(code, int):
        return None, None
    if 1000 <= code <= 1004 or code == 1103:
        return "auth", False
    if 1100 <= code <= 1102:
        return "rate_limit", False  # account or resource pack: waiting will not help
    if code in (1302, 1303):
        return "rate_limit", True
    if code == 1304:
        return "auth", False
    if code in (1300, 1301):
        return "safety", False
    if 1200 <= code <= 1299:
        return "bad_request", False
    if 5000 <= code <= 5999:
        return "server", True
    return None, None


def _error(call: Call, resp: "requests.Response", payload: Any) -> ProviderError:
    payload = payload if isinstance(payload, dict) else {}
    code = payload.get("code")
    kind, retryable = _kind_for_code(code)
    message = payload.get("message") or None
    if code == 1304:
        message = (f"{message or 'IP allow-list'}: this IP is not on the account's allow-list; waiting will not "
                   "help: contact Kling support to change it")
    err = call.status_error(resp, kind=kind, message=message, code=code, request_id=payload.get("request_id"))
    if retryable is not None:
        err.retryable = retryable
    return err


def _task_failed_kind(message: str) -> str:
    text = message.lower()
    return "safety" if any(w in text for w in ("risk", "sensitive", "policy", "security", "safety")) else "server"


# 4. Call --------------------------------------------------------------------------------------------
def generate(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    ak, sk = secret(settings.kling_access_key) or "", secret(settings.kling_secret_key) or ""
    base = settings.kling_base_url.rstrip("/")
    body = _body(spec, req)
    images_in = sources(spec, req, INPUT_LIMITS)
    if images_in:
        body["image"] = images_in[0].b64()  # bare base64: Kling refuses a data: prefix

    with Call(PROVIDER, settings, secrets=[ak, sk]) as call:
        def sign(_headers: Any) -> dict[str, str]:
            return {"Authorization": f"Bearer {call.add_secret(kling_token(ak, sk))}"}

        def handler(what: str):
            def handle(resp: "requests.Response") -> tuple[dict, str | None]:
                try:
                    payload = resp.json()
                except ValueError:
                    payload = None
                coded = isinstance(payload, dict) and "code" in payload
                if coded and (resp.status_code >= 400 or payload["code"] != 0):
                    raise _error(call, resp, payload)
                if resp.status_code >= 400:
                    raise call.status_error(resp)
                if not coded or payload.get("code") != 0 or not isinstance(payload.get("data"), dict):
                    raise call.error("malformed", f"{what}: not a Kling answer: {snippet(resp.text)!r}",
                                     status=resp.status_code)
                return payload["data"], payload.get("request_id")
            return handle

        created, request_id = call.send("POST", f"{base}/v1/images/generations", what="create task",
                                        body=dumps(body), headers={"Content-Type": "application/json"}, sign=sign,
                                        handle=handler("create task"))
        task_id = call.task_id = created.get("task_id")
        if not task_id:
            raise call.error("malformed", "create task: no task_id in the answer", request_id=request_id)

        def fetch() -> tuple[bool, dict | None, str]:
            data, rid = call.send("GET", f"{base}/v1/images/generations/{task_id}", what=f"task {task_id}",
                                  sign=sign, handle=handler(f"task {task_id}"), count=False)
            status = data.get("task_status")
            if status == "succeed":
                return True, data, status
            if status in ("submitted", "processing"):
                return False, None, status
            if status == "failed":
                message = data.get("task_status_msg") or "the task failed"
                raise call.error(_task_failed_kind(message), f"task {task_id} failed: {message}",
                                 request_id=rid or request_id, retryable=False)
            raise call.error("malformed", f"task {task_id}: unknown task_status {status!r}", request_id=rid)

        done = call.poll(fetch, what=f"task {task_id}")
        results = (done.get("task_result") or {}).get("images") or []
        urls = [img.get("url") for img in results if isinstance(img, dict) and img.get("url")]
        if not urls:
            raise call.error("malformed", f"task {task_id} succeeded without image URLs", request_id=request_id)
        images = [call.download_image(url, what=f"image {i} download") for i, url in enumerate(urls)]
        params = {k: v for k, v in body.items() if k not in ("prompt", "negative_prompt", "image")}
        if images_in:
            params["image"] = recorded(images_in)
        return ApiResult(images=images, request_id=request_id,
                         cost_usd=round(price(_price_key(spec, req)).usd * len(images), 6),
                         sent_params=sent(**params), latency_s=call.elapsed(), provider=PROVIDER, model_id=spec.key,
                         task_id=task_id, attempts=call.attempts, filtered=max(0, req.num_images - len(images)))

