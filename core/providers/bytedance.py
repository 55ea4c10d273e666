"""ByteDance: the Volcano Engine visual API (AK/SK-signed) and Ark Seedream (OpenAI-compatible).

Volcano visual API, ``POST {VOLC_BASE_URL}/?Action=...&Version=2022-08-31``, every request signed with
HMAC-SHA256 (region cn-north-1, service cv) from VOLC_ACCESSKEY / VOLC_SECRETKEY, fresh per attempt:
- ``volc-general-2.1`` (req_key high_aes_general_v21_L) answers at once through ``CVProcess``;
- ``jimeng-3.0`` (req_key jimeng_t2i_v30) is a task: ``CVSync2AsyncSubmitTask`` returns a task id,
  ``CVSync2AsyncGetResult`` is polled until ``done`` (in_queue, generating, done, not_found, expired).
Answers carry ``code`` 10000 on success; 5041x/50511 are safety refusals, 50429/50430 rate limits,
5050x server errors; gateway errors come as ``ResponseMetadata.Error`` (SignatureDoesNotMatch ...).

Ark, ``POST {ARK_BASE_URL}/images/generations`` with ``Authorization: Bearer ARK_API_KEY``, through the
`openai` SDK (Ark speaks its protocol); ``watermark`` and ``guidance_scale`` go in ``extra_body``.

Edits (Seedream 4.0 only; Seedream 3.0 t2i takes no image): the same ``images/generations`` call with the
``image`` field (Ark SDK ``volcenginesdkarkruntime/resources/images/images.py``: ``image: str | list[str]``), one
string for one source and a list for multi-reference (up to 10), each a data URI
``data:image/<format>;base64,...`` with the format in lower case (Ark image API, volcengine.com/docs/82379/1541523:
jpeg or png, at most 10 MB, aspect ratio 1:3 to 3:1, at most 6000x6000 pixels, sides over 14 px). The bytes
go in the body and never into the row: its sent parameters keep each source's sha256, size and format.
An input image the content filter refuses is ``InputImageRiskDetection`` (safety); a bad one a 400
``InvalidParameter`` (bad_request). Priced per output image, like a generation.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from core.errors import RequestError
from core.providers.base import (
    FLAG,
    ApiResult,
    Call,
    ProviderError,
    api_spec,
    check_common,
    check_extra,
    decode_b64_image,
    dumps,
    fit_size,
    price,
    secret,
    seed31,
    sent,
    size_of,
    snippet,
)
from core.providers.inputs import Limits, recorded, sources
from core.providers.openai_images import images_generate

if TYPE_CHECKING:
    import requests

    from core.spec import ModelSpec
    from core.jobs import GenerationRequest
    from core.settings import Settings

PROVIDER = "bytedance"
VOLC_REGION, VOLC_SERVICE, VOLC_VERSION = "cn-north-1", "cv", "2022-08-31"
_LICENSE = "proprietary (Volcano Engine / BytePlus terms)"


@dataclass(frozen=True)
class _Model:
    api: str  # "volc-sync" | "volc-async" | "ark"
    model_id: str  # req_key (Volcano) or model (Ark)
    min_side: int
    max_side: int
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_inputs: int = 0  # source images an edit takes (0: text-to-image only)


MODELS = {
    "volc-general-2.1": _Model("volc-sync", "high_aes_general_v21_L", 256, 768),
    "jimeng-3.0": _Model("volc-async", "jimeng_t2i_v30", 512, 2048),
    "seedream-3": _Model("ark", "doubao-seedream-3-0-t2i-250415", 512, 2048),
    "seedream-4": _Model("ark", "doubao-seedream-4-0-250828", 256, 4096, 1280 * 720, 4096 * 4096, max_inputs=10),
}
ARK_INPUT_LIMITS = Limits(formats=("jpeg", "png"), max_bytes=10 * 1024 * 1024, min_side=15, max_ratio=3.0,
                          max_pixels=6000 * 6000)
EXTRAS: dict[str, dict[str, Any]] = {
    "volc-general-2.1": {"use_pre_llm": FLAG, "use_sr": FLAG, "return_url": FLAG},
    "jimeng-3.0": {"use_pre_llm": FLAG, "return_url": FLAG},
    "seedream-3": {"watermark": FLAG},
    "seedream-4": {"watermark": FLAG},
}


def specs() -> list["ModelSpec"]:
    return [
        api_spec("seedream-3", name="Seedream 3.0 (Ark)", provider=PROVIDER, width=1024, height=1024,
                 guidance=2.5, guidance_range=(1.0, 10.0), max_images_per_call=1, license=_LICENSE,
                 notes="Ark doubao-seedream-3-0-t2i-250415; sizes 512-2048 per side; guidance_scale 1-10; seed; "
                       "watermark off unless extra watermark=true"),
        api_spec("seedream-4", name="Seedream 4.0 (Ark)", provider=PROVIDER, width=2048, height=2048,
                 max_images_per_call=1, license=_LICENSE, tasks=("text-to-image", "edit"),
                 max_input_images=MODELS["seedream-4"].max_inputs,
                 notes="Ark doubao-seedream-4-0-250828; 1280x720 to 4096x4096 pixels; no seed or guidance; "
                       "watermark off unless extra watermark=true; edits: the image field, 1 to 10 jpeg/png "
                       "sources up to 10 MB"),
        api_spec("volc-general-2.1", name="Volcano General 2.1", provider=PROVIDER, width=512, height=512,
                 steps=25, guidance=3.5, guidance_range=(1.0, 10.0), min_steps=1, max_steps=50,
                 max_images_per_call=1, license=_LICENSE,
                 notes="Volcano visual API CVProcess (signed AK/SK), req_key high_aes_general_v21_L; 256-768 per "
                       "side; steps -> ddim_steps, guidance -> scale"),
        api_spec("jimeng-3.0", name="Jimeng 3.0 (Volcano)", provider=PROVIDER, width=1328, height=1328,
                 max_images_per_call=1, license=_LICENSE,
                 notes="Volcano visual API async task (submit, poll), req_key jimeng_t2i_v30; 512-2048 per side"),
    ]


def options(spec: "ModelSpec", settings: "Settings | None" = None) -> dict[str, Any]:
    return dict(EXTRAS[spec.key])


list_model_ids = None  # Ark and the visual API have no list-models call for an API key


def missing_credentials(spec: "ModelSpec", settings: "Settings") -> str | None:
    if MODELS[spec.key].api == "ark":
        if secret(settings.ark_api_key):
            return None
        return f"{spec.key} needs an Ark API key: set ARK_API_KEY (and ARK_BASE_URL for another region)"
    missing = [n for n, v in (("VOLC_ACCESSKEY", settings.volc_accesskey), ("VOLC_SECRETKEY", settings.volc_secretkey))
               if not secret(v)]
    if not missing:
        return None
    return (f"{spec.key} needs a Volcano Engine access key pair: set {' and '.join(missing)} "
            "(and VOLC_BASE_URL for another endpoint)")


# --------------------------------------------------------------------------------------------------
# The Volcano V4-style signer
# --------------------------------------------------------------------------------------------------
def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    return host


def volc_sign(*, access_key: str, secret_key: str, method: str, url: str, body: bytes,
              content_type: str = "application/json", x_date: str | None = None,
              region: str = VOLC_REGION, service: str = VOLC_SERVICE) -> dict[str, str]:
    """Headers that sign one request: Host, Content-Type, X-Date, X-Content-Sha256, Authorization."""
    x_date = x_date or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    short_date = x_date[:8]
    body_hash = hashlib.sha256(body).hexdigest()
    parts = urlsplit(url)
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                     for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True)))
    headers = {"content-type": content_type, "host": _host(url), "x-content-sha256": body_hash, "x-date": x_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method.upper(), parts.path or "/", query,
                           "".join(f"{k}:{headers[k].strip()}\n" for k in sorted(headers)), signed, body_hash])
    scope = f"{short_date}/{region}/{service}/request"
    to_sign = "\n".join(["HMAC-SHA256", x_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(secret_key.encode("utf-8"), short_date), region), service), "request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return {"Host": headers["host"], "Content-Type": content_type, "X-Date": x_date, "X-Content-Sha256": body_hash,
            "Authorization": f"HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, "
                             f"Signature={signature}"}


# 1. Check inputs ------------------------------------------------------------------------------------
def check(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings | None" = None) -> None:
    check_common(spec, req, max_n=1)
    check_extra(spec, req.extra, EXTRAS[spec.key])
    if spec.key in ("volc-general-2.1", "seedream-3"):
        lo, hi = spec.guidance_range
        if req.guidance is not None and (isinstance(req.guidance, bool) or not isinstance(req.guidance, (int, float))
                                         or not lo <= req.guidance <= hi):
            raise RequestError("guidance", req.guidance, f"a number from {lo:g} to {hi:g} for {spec.key}")
    if spec.key == "volc-general-2.1" and req.steps is not None:
        steps = req.steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not spec.min_steps <= steps <= spec.max_steps:
            raise RequestError("steps", req.steps, f"an integer from {spec.min_steps} to {spec.max_steps} "
                                                   f"(ddim_steps) for {spec.key}")
    sources(spec, req, ARK_INPUT_LIMITS)


# 2. What is sent ------------------------------------------------------------------------------------
def _size(spec: "ModelSpec", req: "GenerationRequest") -> tuple[int, int]:
    m = MODELS[spec.key]
    w, h = size_of(spec, req)
    return fit_size(w, h, min_side=m.min_side, max_side=m.max_side, multiple=8 if m.max_side <= 768 else 16,
                    min_pixels=m.min_pixels, max_pixels=m.max_pixels)


def _volc_body(spec: "ModelSpec", req: "GenerationRequest") -> dict[str, Any]:
    w, h = _size(spec, req)
    body: dict[str, Any] = {"req_key": MODELS[spec.key].model_id, "prompt": req.prompt,
                            "seed": seed31(req.seed) if req.seed is not None else -1, "width": w, "height": h}
    if spec.key == "volc-general-2.1":
        body.update(scale=float(req.guidance if req.guidance is not None else spec.guidance),
                    ddim_steps=int(req.steps if req.steps is not None else spec.steps),
                    use_sr=bool(req.extra.get("use_sr", False)),
                    return_url=bool(req.extra.get("return_url", False)))
    if "use_pre_llm" in req.extra:
        body["use_pre_llm"] = req.extra["use_pre_llm"]
    return body


def _ark_params(spec: "ModelSpec", req: "GenerationRequest") -> tuple[dict[str, Any], dict[str, Any]]:
    w, h = _size(spec, req)
    params: dict[str, Any] = {"model": MODELS[spec.key].model_id, "size": f"{w}x{h}", "response_format": "b64_json"}
    extra_body: dict[str, Any] = {"watermark": bool(req.extra.get("watermark", False))}
    if spec.key == "seedream-3":
        if req.seed is not None:
            extra_body["seed"] = seed31(req.seed)
        extra_body["guidance_scale"] = float(req.guidance if req.guidance is not None else spec.guidance)
    return params, extra_body


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    return price(spec.key).usd * req.num_images


# 3. Errors ------------------------------------------------------------------------------------------
# The visual API's business codes (its common error-code table): 5041x input risk, 5051x output risk
# (50511 and 50512 image, 50518 and 50519 the copyright / portrait checks), 50429 QPS, 50430 concurrency,
# 50500 / 50501 internal errors, 50400 and other 504xx invalid requests.
_VOLC_SAFETY = {50411, 50412, 50413, 50511, 50512, 50518, 50519}
_VOLC_RATE = {50429, 50430}
_VOLC_SERVER = {50500, 50501}
_VOLC_AUTH = {"SignatureDoesNotMatch", "InvalidAccessKey", "InvalidCredential", "MissingAuthenticationToken",
              "InvalidAuthorization", "AccessDenied", "InvalidTimestamp", "SignatureExpired"}


def _volc_error(call: Call, resp: "requests.Response", payload: Any) -> ProviderError:
    payload = payload if isinstance(payload, dict) else {}
    meta = payload.get("ResponseMetadata") or {}
    gateway = meta.get("Error") if isinstance(meta, dict) else None
    if isinstance(gateway, dict) and gateway:
        code = gateway.get("Code")
        kind = "auth" if code in _VOLC_AUTH or resp.status_code in (401, 403) else None
        if code in ("FlowLimitExceeded", "RequestLimitExceeded") or resp.status_code == 429:
            kind = "rate_limit"
        return call.status_error(resp, kind=kind, message=gateway.get("Message") or code,
                                 code=code, request_id=meta.get("RequestId"))
    code = payload.get("code")
    kind = None
    if code in _VOLC_SAFETY or "Risk Not Pass" in str(payload.get("message") or ""):
        kind = "safety"  # 50511 (output risk) is retryable per the docs, but the same seed gives the same image
    elif code in _VOLC_RATE:
        kind = "rate_limit"
    elif code in _VOLC_SERVER:
        kind = "server"
    return call.status_error(resp, kind=kind, message=payload.get("message") or None, code=code,
                             request_id=payload.get("request_id"))


# 4. Calls -------------------------------------------------------------------------------------------
def _volc_request(call: Call, settings: "Settings", action: str, body: dict[str, Any], *, what: str,
                  count: bool = True) -> tuple[dict, str | None]:
    ak, sk = secret(settings.volc_accesskey), secret(settings.volc_secretkey)
    url = f"{settings.volc_base_url.rstrip('/')}/?Action={action}&Version={VOLC_VERSION}"
    raw = dumps(body)

    def handle(resp: "requests.Response") -> tuple[dict, str | None]:
        payload = _json_or_none(resp)
        if not isinstance(payload, dict) or not ({"code", "ResponseMetadata"} & payload.keys()):
            if resp.status_code >= 400:
                raise call.status_error(resp)
            raise call.error("malformed", f"{what}: not a visual API answer: {snippet(resp.text)!r}",
                             status=resp.status_code)
        if resp.status_code >= 400 or payload.get("code") != 10000:
            raise _volc_error(call, resp, payload)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise call.error("malformed", f"{what}: no 'data' object in the answer",
                             request_id=payload.get("request_id"))
        return data, payload.get("request_id")

    return call.send("POST", url, what=what, body=raw, handle=handle, count=count,
                     sign=lambda _h: volc_sign(access_key=ak or "", secret_key=sk or "", method="POST", url=url,
                                               body=raw))


def _json_or_none(resp: "requests.Response") -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _volc_images(call: Call, data: dict, request_id: str | None) -> list:
    b64 = data.get("binary_data_base64") or []
    urls = data.get("image_urls") or []
    if b64:
        return [decode_b64_image(s, what=f"image {i}", error=call.error) for i, s in enumerate(b64)]
    if urls:
        return [call.download_image(u, what=f"image {i} download") for i, u in enumerate(urls)]
    raise call.error("malformed", "the answer has neither binary_data_base64 nor image_urls", request_id=request_id)


def _generate_volc(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    body = _volc_body(spec, req)
    task_id = None
    with Call(PROVIDER, settings, secrets=[secret(settings.volc_accesskey), secret(settings.volc_secretkey)]) as call:
        if MODELS[spec.key].api == "volc-sync":
            data, request_id = _volc_request(call, settings, "CVProcess", body, what="CVProcess")
        else:
            submitted, request_id = _volc_request(call, settings, "CVSync2AsyncSubmitTask", body,
                                                  what="CVSync2AsyncSubmitTask")
            task_id = call.task_id = submitted.get("task_id")
            if not task_id:
                raise call.error("malformed", "CVSync2AsyncSubmitTask: no task_id", request_id=request_id)
            query = {"req_key": body["req_key"], "task_id": task_id,
                     "req_json": json.dumps({"return_url": bool(req.extra.get("return_url", False))})}

            def fetch() -> tuple[bool, dict | None, str]:
                got, rid = _volc_request(call, settings, "CVSync2AsyncGetResult", query,
                                         what=f"CVSync2AsyncGetResult {task_id}", count=False)
                status = got.get("status")
                if status == "done":
                    return True, got, status
                if status in ("in_queue", "generating"):
                    return False, None, status
                raise call.error("server" if status in ("not_found", "expired") else "malformed",
                                 f"task {task_id} is '{status}'", request_id=rid, retryable=False)

            data = call.poll(fetch, what=f"jimeng task {task_id}")
        images = _volc_images(call, data, request_id)
        params = {k: v for k, v in body.items() if k != "prompt"}
        return ApiResult(images=images, request_id=request_id, cost_usd=round(price(spec.key).usd * len(images), 6),
                         sent_params=sent(action="CVProcess" if task_id is None else "CVSync2AsyncSubmitTask",
                                          **params),
                         latency_s=call.elapsed(), provider=PROVIDER, model_id=body["req_key"], task_id=task_id,
                         attempts=call.attempts)


def _ark_safety(status: int, code: Any, message: str) -> bool:
    """Ark's content-safety codes: InputTextRiskDetection, InputImageRiskDetection, OutputImageRiskDetection,
    OutputTextRiskDetection and the *SensitiveContentDetected family."""
    return isinstance(code, str) and ("RiskDetection" in code or "SensitiveContent" in code)


def _ark_kind(status: int, code: Any, message: str) -> tuple[str | None, bool | None]:
    """Ark's error codes that the HTTP status alone would file wrongly."""
    code = str(code or "")
    if code in ("AccountOverdueError", "QuotaExceeded", "SetLimitExceeded", "ServiceNotOpen", "ModelNotOpen"):
        return ("auth" if code in ("ServiceNotOpen", "ModelNotOpen") else "rate_limit"), False
    if code.startswith("RateLimitExceeded") or code == "ServerOverloaded":
        return ("rate_limit" if code.startswith("RateLimit") else "server"), True
    if code in ("AuthenticationError", "AccessDenied", "InvalidAccountStatus"):
        return "auth", False
    return None, None


def _generate_ark(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    params, extra_body = _ark_params(spec, req)
    images_in = sources(spec, req, ARK_INPUT_LIMITS)
    recorded_body = dict(extra_body)
    if images_in:  # one data URI, or a list of them for multi-reference
        uris = [s.data_uri() for s in images_in]
        extra_body["image"] = uris[0] if len(uris) == 1 else uris
        recorded_body["image"] = recorded(images_in)
    key = secret(settings.ark_api_key)
    with Call(PROVIDER, settings, secrets=[key]) as call:
        resp, images = images_generate(call, api_key=key, base_url=settings.ark_base_url, prompt=req.prompt,
                                       params=params, extra_body=extra_body, what="ark images.generate",
                                       is_safety=_ark_safety, kind_of=_ark_kind)
        request_id = getattr(resp, "_request_id", None)
        return ApiResult(images=images, request_id=request_id, cost_usd=round(price(spec.key).usd * len(images), 6),
                         sent_params=sent(**params, **recorded_body), latency_s=call.elapsed(), provider=PROVIDER,
                         model_id=params["model"], attempts=call.attempts)


def generate(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> ApiResult:
    if MODELS[spec.key].api == "ark":
        return _generate_ark(spec, req, settings)
    return _generate_volc(spec, req, settings)

