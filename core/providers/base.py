"""What every provider client shares: the result, the error, one call's deadline and retries, prices.

A provider module builds its request, and hands the wire work to a `Call`: one `generate()` with one
total deadline. Each HTTP request gets ``min(api_timeout_s, time left)`` as its timeout (downloads
too); 429 and 5xx answers are retried with exponential backoff, waiting longer when the server's
Retry-After says so, and only while the wait still fits the deadline; async tasks are polled under the
same deadline. Failures are one `ProviderError` with a `kind` the store and the dashboard can group by.
Keys never appear in messages: every message passes through `redact` with the call's secrets.
Longer than 400 lines: the deadline, retry, poll and redaction rules are one piece that every provider
must share exactly; splitting them would let two providers drift apart.
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import io
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping, TypeVar
from urllib.parse import urlsplit

from core.errors import CaseStudyError, RequestError
from core.spec import ModelSpec

if TYPE_CHECKING:  # keep imports light: registry._index imports this package
    import requests
    from PIL import Image

    from core.jobs import GenerationRequest
    from core.settings import Settings

T = TypeVar("T")
ErrorKind = Literal["auth", "rate_limit", "safety", "bad_request", "server", "timeout", "malformed"]
ERROR_KINDS: tuple[str, ...] = ("auth", "rate_limit", "safety", "bad_request", "server", "timeout", "malformed")
CONNECT_TIMEOUT_S = 10.0

log = logging.getLogger("core.providers")


# --------------------------------------------------------------------------------------------------
# Result and error
# --------------------------------------------------------------------------------------------------
@dataclass
class ApiResult:
    """What one API call gave back, and what it was actually asked (after size mapping)."""

    images: list["Image.Image"]
    request_id: str | None
    cost_usd: float
    sent_params: dict[str, Any]
    latency_s: float
    revised_prompt: str | None = None
    provider: str = ""
    model_id: str = ""  # the provider's own model name, e.g. "imagen-4.0-generate-001"
    task_id: str | None = None  # async providers (Kling, Volcano async)
    attempts: int = 1  # HTTP requests sent for the generation itself (retries included; polls and downloads not)
    filtered: int = 0  # images the provider withheld (safety filter) out of those asked for


class ProviderError(CaseStudyError):
    """An API call failed. ``kind`` is one of ERROR_KINDS; the provider's own words are in ``message``."""

    def __init__(self, kind: str, message: str, *, provider: str, request_id: str | None = None,
                 status: int | None = None, code: str | int | None = None, retry_after_s: float | None = None,
                 retryable: bool | None = None, task_id: str | None = None, attempts: int | None = None):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.kind, self.message, self.provider = kind, message, provider
        self.request_id, self.status, self.code = request_id, status, code
        self.task_id, self.attempts = task_id, attempts  # async task (still billed) and requests sent
        self.retry_after_s = retry_after_s
        self.retryable = kind in ("rate_limit", "server") if retryable is None else retryable
        super().__init__(str(self))

    @property
    def http_status(self) -> int | None:
        return self.status

    def __str__(self) -> str:
        facts = [f"HTTP {self.status}" if self.status else None,
                 f"code {self.code}" if self.code not in (None, "") else None,
                 f"request id {self.request_id}" if self.request_id else None,
                 f"task id {self.task_id}" if self.task_id else None]
        facts_s = ", ".join(f for f in facts if f)
        return f"{self.provider} {self.kind} error: {self.message}" + (f" ({facts_s})" if facts_s else "")


# Credentials in a shape we recognise, whoever echoes them: a JWT (three base64url parts, the first two
# JSON objects starting '{"'), and whatever follows "Bearer " in an echoed Authorization header.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20)[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (longest first), every JWT and every bearer token in text by '***'."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _JWT.sub("***", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def kind_for_status(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server"
    return "bad_request"


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), else None."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --------------------------------------------------------------------------------------------------
# Policy, deadline and one call
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallPolicy:
    timeout_s: float = 60.0
    deadline_s: float = 300.0
    max_retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    poll_interval_s: float = 2.0

    @classmethod
    def from_settings(cls, settings: "Settings") -> "CallPolicy":
        return cls(timeout_s=settings.api_timeout_s, deadline_s=settings.api_deadline_s,
                   max_retries=settings.api_max_retries, backoff_s=settings.api_backoff_s,
                   backoff_max_s=settings.api_backoff_max_s, poll_interval_s=settings.api_poll_interval_s)

    def backoff(self, retry: int, retry_after_s: float | None) -> float:
        """Wait before retry number ``retry`` (0-based): exponential, capped; Retry-After wins when longer."""
        delay = min(self.backoff_s * 2**retry, self.backoff_max_s)
        return max(delay, retry_after_s or 0.0)


def _sleep(seconds: float) -> None:  # one seam for tests
    time.sleep(seconds)


class Call:
    """One generation against one provider: deadline, retries, HTTP session, secrets to keep out of text."""

    def __init__(self, provider: str, settings: "Settings", *, secrets: Iterable[str | None] = ()):
        import requests

        self.provider = provider
        self.policy = CallPolicy.from_settings(settings)
        self.started = time.monotonic()
        self.end = self.started + self.policy.deadline_s
        self.secrets = [s for s in secrets if s]
        self.session = requests.Session()  # honours HTTPS_PROXY / NO_PROXY like the SDKs do
        self.attempts = 0
        self.task_id: str | None = None  # set once an async task exists: every later error carries it
        self.log = logging.getLogger(f"core.providers.{provider}")

    def add_secret(self, value: str | None) -> str | None:
        """Keep a credential we made (a JWT, an access token) out of every message from now on."""
        if value:
            self.secrets.append(value)
        return value

    # -- time ----------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def request_timeout(self, what: str) -> float:
        left = self.remaining()
        if left <= 0.001:
            raise self.error("timeout", f"{what}: the {self.policy.deadline_s:g} s deadline passed")
        return min(self.policy.timeout_s, left)

    # -- errors --------------------------------------------------------------------------------------
    def error(self, kind: str, message: str, **kw: Any) -> ProviderError:
        kw.setdefault("task_id", self.task_id)
        kw.setdefault("attempts", self.attempts)
        return ProviderError(kind, redact(str(message), self.secrets), provider=self.provider, **kw)

    def stamp(self, err: ProviderError) -> ProviderError:
        """The task id and attempt count as they are now, on an error made earlier in this call."""
        err.task_id = err.task_id or self.task_id
        err.attempts = self.attempts
        err.message = redact(err.message, self.secrets)
        return err

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Call":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- retries -------------------------------------------------------------------------------------
    def retrying(self, attempt: Callable[[float], T], *, what: str, count: bool = True) -> T:
        """Run ``attempt(timeout_s)``; retry retryable ProviderErrors while retries and the deadline allow."""
        retry = 0
        while True:
            timeout = self.request_timeout(what)
            if count:
                self.attempts += 1
            try:
                return attempt(timeout)
            except ProviderError as err:
                if not err.retryable:
                    raise self.stamp(err) from None
                if retry >= self.policy.max_retries:
                    err.message += f"; gave up after {retry + 1} attempts"
                    raise self.stamp(err) from None
                delay = self.policy.backoff(retry, err.retry_after_s)
                if delay >= self.remaining():
                    err.message += (f"; not retried: waiting {delay:g} s would pass the "
                                    f"{self.policy.deadline_s:g} s deadline")
                    raise self.stamp(err) from None
                self.log.warning("%s %s: %s error (HTTP %s); retry %d of %d in %.2f s", self.provider, what,
                                 err.kind, err.status, retry + 1, self.policy.max_retries, delay)
                _sleep(delay)
                retry += 1

    # -- HTTP ----------------------------------------------------------------------------------------
    def send(self, method: str, url: str, *, what: str, handle: Callable[["requests.Response"], T],
             body: bytes | None = None, headers: Mapping[str, str] | None = None,
             sign: Callable[[Mapping[str, str]], Mapping[str, str]] | None = None, count: bool = True,
             redirects: bool = False) -> T:
        """One HTTP exchange with retries. ``sign(headers)`` runs per attempt (fresh dates, fresh JWTs);
        ``handle(response)`` turns the answer into a value or raises ProviderError (retryable or not).
        A timeout is retried only for GET: a POST that timed out may still run, and be billed, server-side."""
        import requests

        where = _where(url)

        def attempt(timeout: float) -> T:
            hdrs = dict(headers or {})
            if sign is not None:
                hdrs.update(sign(hdrs))
            t0 = time.monotonic()
            try:
                resp = self.session.request(method, url, data=body, headers=hdrs, allow_redirects=redirects,
                                            timeout=(min(CONNECT_TIMEOUT_S, timeout), timeout))
            except requests.Timeout:
                raise self.error("timeout", f"{what}: no answer from {where} within {timeout:.3g} s",
                                 retryable=method == "GET") from None
            except requests.RequestException as exc:
                raise self.error("server", f"{what}: could not reach {where} ({type(exc).__name__})",
                                 retryable=False, code="connection") from None
            self.log.info("%s %s: %s %s -> HTTP %d in %.3f s", self.provider, what, method, where,
                          resp.status_code, time.monotonic() - t0)
            return handle(resp)

        return self.retrying(attempt, what=what, count=count)

    def json_of(self, resp: "requests.Response", what: str, request_id: str | None = None) -> Any:
        """The JSON body of an answer, or a `malformed` error quoting its start."""
        try:
            return resp.json()
        except ValueError:
            raise self.error("malformed", f"{what}: the answer is not JSON: {snippet(resp.text)!r}",
                             status=resp.status_code, request_id=request_id) from None

    def status_error(self, resp: "requests.Response", *, kind: str | None = None, message: str | None = None,
                     code: str | int | None = None, request_id: str | None = None) -> ProviderError:
        """An error from an HTTP error answer; kind from the status unless given; Retry-After kept."""
        kind = kind or kind_for_status(resp.status_code)
        return self.error(kind, message or snippet(resp.text) or resp.reason or "no message",
                          status=resp.status_code, code=code, request_id=request_id,
                          retry_after_s=parse_retry_after(resp.headers))

    def download_image(self, url: str, *, what: str = "image download") -> "Image.Image":
        """GET an image URL the provider returned (no credentials sent), with a timeout and retries."""

        def handle(resp: "requests.Response") -> "Image.Image":
            if resp.status_code >= 400:
                raise self.status_error(resp, message=f"{what}: HTTP {resp.status_code} from {_where(url)}")
            return decode_image(resp.content, what=what, error=self.error)

        return self.send("GET", url, what=what, handle=handle, count=False, redirects=True)

    def poll(self, fetch: Callable[[], tuple[bool, T | None, str]], *, what: str) -> T:
        """Call ``fetch() -> (done, value, status)`` every poll interval until done, under the deadline.

        A poll only reads the task, so a poll that times out, meets a server error or a rate limit is
        simply tried again at the next interval: giving up would abandon a task that is still running
        and billed. When the deadline passes, the error carries the task id (fetch it later)."""
        polls, status, last = 0, "unknown", ""
        while True:
            try:
                done, value, status = fetch()
                last = ""
            except ProviderError as err:
                transient = err.kind == "timeout" or err.code == "connection" or (
                    err.kind in ("server", "rate_limit") and err.retryable)
                if not transient:
                    raise self.stamp(err) from None
                done, value, last = False, None, f"; last poll: {err.kind} ({err.message})"
                self.log.warning("%s %s: poll failed (%s); polling on", self.provider, what, err.kind)
            polls += 1
            if done:
                return value  # type: ignore[return-value]
            wait = self.policy.poll_interval_s
            if self.remaining() <= wait:
                raise self.error("timeout", f"{what}: still '{status}' after {self.elapsed():.1f} s and {polls} "
                                            f"polls; the {self.policy.deadline_s:g} s deadline passed; the task "
                                            f"may still finish (and is billed): fetch it by its task id{last}")
            _sleep(wait)


def _where(url: str) -> str:
    """scheme://host/path of a URL: never its query (signed download URLs carry tokens there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def snippet(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------
def decode_image(data: bytes, *, what: str, error: Callable[..., ProviderError]) -> "Image.Image":
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise error("malformed", f"{what}: not a readable image ({len(data)} bytes; {exc})") from None
    return image


def decode_b64_image(text: Any, *, what: str, error: Callable[..., ProviderError]) -> "Image.Image":
    if not isinstance(text, str) or not text:
        raise error("malformed", f"{what}: no base64 image data")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise error("malformed", f"{what}: the image data is not valid base64") from None
    return decode_image(data, what=what, error=error)


# --------------------------------------------------------------------------------------------------
# Sizes: nearest allowed size or aspect ratio
# --------------------------------------------------------------------------------------------------
def _ratio(text: str) -> float:
    w, h = text.split(":")
    return float(w) / float(h)


def nearest_size(width: int, height: int, allowed: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """The allowed (w, h) closest in aspect ratio, then in area (both on a log scale)."""
    want_r, want_a = math.log(width / height), math.log(width * height)
    return min(allowed, key=lambda s: (round(abs(math.log(s[0] / s[1]) - want_r), 6),
                                       abs(math.log(s[0] * s[1]) - want_a)))


def nearest_aspect_ratio(width: int, height: int, allowed: Iterable[str]) -> str:
    """The allowed "W:H" closest to width/height on a log scale."""
    want = math.log(width / height)
    return min(allowed, key=lambda r: abs(math.log(_ratio(r)) - want))


def fit_size(width: int, height: int, *, min_side: int, max_side: int, multiple: int = 8,
             min_pixels: int | None = None, max_pixels: int | None = None) -> tuple[int, int]:
    """Scale (w, h) keeping its aspect ratio into the allowed sides and pixel count, in multiples."""
    w, h = float(width), float(height)
    scale = 1.0
    scale = min(scale, max_side / max(w, h))
    if max_pixels:
        scale = min(scale, math.sqrt(max_pixels / (w * h)))
    up = max(min_side / min(w, h), math.sqrt(min_pixels / (w * h)) if min_pixels else 0.0)
    if up > 1.0:
        scale = up
    w, h = w * scale, h * scale

    # Scaled up to a minimum: round up, so the multiples do not fall below it (1024x768 into 1280x720 pixels
    # gives 1120x832, not 1104x832); scaled down to a maximum: round down; otherwise to the nearest.
    to_multiple = math.ceil if up > 1.0 else math.floor if scale < 1.0 else round

    def snap(v: float) -> int:
        v = max(min_side, min(max_side, v))
        lo = math.ceil(min_side / multiple) * multiple
        hi = math.floor(max_side / multiple) * multiple
        return int(max(lo, min(hi, to_multiple(v / multiple) * multiple)))

    return snap(w), snap(h)


# --------------------------------------------------------------------------------------------------
# Request checks shared by the providers
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OneOf:
    values: tuple[Any, ...]
    case_insensitive: bool = False

    def ok(self, v: Any) -> bool:
        if self.case_insensitive and isinstance(v, str):
            return v.lower() in {str(x).lower() for x in self.values}
        return v in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Number:
    lo: float
    hi: float
    integer: bool = False

    def ok(self, v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        if self.integer and not isinstance(v, int):
            return False
        return self.lo <= v <= self.hi

    def __str__(self) -> str:
        return f"{'an integer' if self.integer else 'a number'} from {self.lo:g} to {self.hi:g}"


class Flag:
    def ok(self, v: Any) -> bool:
        return isinstance(v, bool)

    def __str__(self) -> str:
        return "true or false"


FLAG = Flag()


def check_extra(spec: "ModelSpec", extra: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Every key of ``extra`` must be in ``schema`` and its value allowed there."""
    for key, value in extra.items():
        if key not in schema:
            allowed = ", ".join(sorted(schema)) or "none"
            raise RequestError(f"extra.{key}", value, f"{spec.key} takes these extra parameters: {allowed}")
        rule = schema[key]
        if not rule.ok(value):
            raise RequestError(f"extra.{key}", value, f"{rule} for {spec.key}")


def check_common(spec: "ModelSpec", req: "GenerationRequest", *, max_prompt: int | None = None,
                 max_negative: int | None = None, max_n: int | None = None) -> None:
    """Prompt text and length, negative prompt support, image count, and width/height being pixels."""
    if not isinstance(req.prompt, str) or not req.prompt.strip():
        raise RequestError("prompt", req.prompt, "the prompt must be non-empty text")
    if max_prompt and len(req.prompt) > max_prompt:
        raise RequestError("prompt", f"<{len(req.prompt)} characters>",
                           f"{spec.key} takes at most {max_prompt} characters")
    if req.negative_prompt:
        if not spec.supports_negative:
            raise RequestError("negative_prompt", req.negative_prompt,
                               f"{spec.key} takes no negative prompt; leave it empty")
        if max_negative and len(req.negative_prompt) > max_negative:
            raise RequestError("negative_prompt", f"<{len(req.negative_prompt)} characters>",
                               f"{spec.key} takes at most {max_negative} characters")
    top = max_n or spec.max_images_per_call
    if isinstance(req.num_images, bool) or not isinstance(req.num_images, int) or not 1 <= req.num_images <= top:
        raise RequestError("num_images", req.num_images, f"from 1 to {top} for {spec.key}")
    for name in ("width", "height"):
        value = getattr(req, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16384:
            raise RequestError(name, value, "a positive integer number of pixels (mapped to the nearest size "
                                            f"{spec.key} allows)")


def size_of(spec: "ModelSpec", req: "GenerationRequest") -> tuple[int, int]:
    return (req.width or spec.width, req.height or spec.height)


def seed31(seed: int | None) -> int | None:
    """Providers that take a seed take a signed 32-bit one: fold ours (0..2**32-1) into 0..2**31-1."""
    return None if seed is None else int(seed) % 2**31


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Prices (USD per image unless the key says otherwise), dated, with their source
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Price:
    usd: float
    as_of: str  # ISO date the figure was taken
    source: str
    note: str = ""


_OLD = "2026-11-27"  # figures recorded before 2026-12 and not re-read since, kept for past rows of retired models
_REF = "openai.com/api/pricing, per image (figure recorded 2026-11, before retirement; not re-read)"
_AS_OF = "2026-12-02"
_EDIT_AS_OF = "2026-12-04"
_MINI = "developers.openai.com/api/docs/models/gpt-image-1-mini, per image (stored copy, read 2026-12-02)"
_G15 = ("estimate: reseller pages quoting OpenAI's per-image figures for gpt-image-1.5 (runware.ai, docs.apiyi.com; "
        "read 2026-12-02); no OpenAI page for it was read")
_G2 = "estimate: fal.ai/models/openai/gpt-image-2 per-image estimate as of 2026-05 (third party)"
_G25 = "estimate: no published figure found; gpt-image-2's estimate is used for the --max-cost guard"
_MINI_TOKENS = ("estimate: 2.50 USD per 1M image input tokens, OpenAI's gpt-image-1-mini rate as quoted by third "
                "parties (eesel.ai, read 2026-12-04); the model page's token table was not read here")
_G15_TOKENS = ("estimate: 8.00 USD per 1M image input tokens, OpenAI API rate for gpt-image-1.5 as listed by "
               "llmreference.com (read 2026-12-04); no OpenAI page was read")
_G2_TOKENS = "estimate: no figure found for gpt-image-2 and later; gpt-image-1.5's 8.00 USD per 1M is used"
_GOOGLE = "cloud.google.com/vertex-ai/generative-ai/pricing, Imagen per image (figure recorded 2026-11; not re-read)"
_GEMINI = ("estimate: per-image cost map of HeyPuter/puter (transcribing ai.google.dev pricing, 1K image; read "
           "2026-12-02)")
_GEMINI_LITE = "estimate: no figure found; gemini-3.1-flash-image's is used"
_ARK = "volcengine.com/docs/82379 Ark pricing, per output image (figure recorded 2026-11; not re-read)"
_VOLC = "estimate: Volcano visual API list price per image, not confirmed against the current price page"
_KLING = "reseller list (302ai apifox page: kling-v1 0.005, v1-5/v2/v2-1 0.02 per text-to-image; read 2026-12-02)"
_KLING_EDIT = ("reseller list (302ai apifox page: image-to-image kling-v1 0.005, v1-5/v2/v2-1/v2-new 0.04 per image; "
               "read 2026-12-04)")

PRICES: dict[str, Price] = {
    # retired OpenAI models: their past rows keep these figures
    "dall-e-2/256x256": Price(0.016, _OLD, _REF),
    "dall-e-2/512x512": Price(0.018, _OLD, _REF),
    "dall-e-2/1024x1024": Price(0.020, _OLD, _REF),
    "dall-e-3/standard/1024x1024": Price(0.040, _OLD, _REF),
    "dall-e-3/standard/1792x1024": Price(0.080, _OLD, _REF),
    "dall-e-3/standard/1024x1792": Price(0.080, _OLD, _REF),
    "dall-e-3/hd/1024x1024": Price(0.080, _OLD, _REF),
    "dall-e-3/hd/1792x1024": Price(0.120, _OLD, _REF),
    "dall-e-3/hd/1024x1792": Price(0.120, _OLD, _REF),
    "gpt-image-1/high/1024x1024": Price(0.167, _OLD, _REF),
    # GPT image models, per image by quality at 1024x1024 and at the 1536 sizes ("auto" is priced as high;
    # xhigh and max as high too: no figure found)
    "gpt-image-1-mini/low/1024": Price(0.005, _AS_OF, _MINI),
    "gpt-image-1-mini/medium/1024": Price(0.011, _AS_OF, _MINI),
    "gpt-image-1-mini/high/1024": Price(0.036, _AS_OF, _MINI),
    "gpt-image-1-mini/low/1536": Price(0.006, _AS_OF, _MINI),
    "gpt-image-1-mini/medium/1536": Price(0.015, _AS_OF, _MINI),
    "gpt-image-1-mini/high/1536": Price(0.052, _AS_OF, _MINI),
    "gpt-image-1.5/low/1024": Price(0.009, _AS_OF, _G15),
    "gpt-image-1.5/medium/1024": Price(0.034, _AS_OF, _G15),
    "gpt-image-1.5/high/1024": Price(0.133, _AS_OF, _G15),
    "gpt-image-1.5/low/1536": Price(0.013, _AS_OF, _G15),
    "gpt-image-1.5/medium/1536": Price(0.050, _AS_OF, _G15),
    "gpt-image-1.5/high/1536": Price(0.200, _AS_OF, _G15),
    "gpt-image-2/low/1024": Price(0.02, _AS_OF, _G2),
    "gpt-image-2/medium/1024": Price(0.07, _AS_OF, _G2),
    "gpt-image-2/high/1024": Price(0.19, _AS_OF, _G2),
    "gpt-image-2.x/high/1024": Price(0.19, _AS_OF, _G25, "gpt-image-2.5-* and 2.6-*: every quality and size"),
    # edits: the output priced as above, plus each input image token (usage.input_tokens_details.image_tokens)
    "gpt-image-1-mini/input-image-token": Price(2.5e-6, _EDIT_AS_OF, _MINI_TOKENS, "USD per token"),
    "gpt-image-1.5/input-image-token": Price(8e-6, _EDIT_AS_OF, _G15_TOKENS, "USD per token"),
    "gpt-image-2/input-image-token": Price(8e-6, _EDIT_AS_OF, _G2_TOKENS, "USD per token; 2.5-* and 2.6-* too"),
    # Google
    "imagen-3": Price(0.03, _OLD, _GOOGLE),
    "imagen-4": Price(0.04, _OLD, _GOOGLE),
    "imagen-4-fast": Price(0.02, _OLD, _GOOGLE),
    "imagen-4-ultra": Price(0.06, _OLD, _GOOGLE),
    "gemini-2.5-flash-image": Price(0.039, _AS_OF, _GEMINI),
    "gemini-3.1-flash-image": Price(0.067, _AS_OF, _GEMINI),
    "gemini-3-pro-image": Price(0.156, _AS_OF, _GEMINI),
    "gemini-3.1-flash-lite-image": Price(0.067, _AS_OF, _GEMINI_LITE),
    # ByteDance
    "seedream-3": Price(0.036, _OLD, _ARK, "0.259 CNY per image"),
    "seedream-4": Price(0.030, _OLD, _ARK),
    "volc-general-2.1": Price(0.028, _OLD, _VOLC, "about 0.2 CNY per image"),
    "jimeng-3.0": Price(0.028, _OLD, _VOLC, "about 0.2 CNY per image"),
    # Kling
    "kling-v1": Price(0.005, _AS_OF, _KLING),
    "kling-v1-5": Price(0.020, _AS_OF, _KLING),
    "kling-v2": Price(0.020, _AS_OF, _KLING),
    "kling-v2-1": Price(0.020, _AS_OF, _KLING),
    "kling-v1/edit": Price(0.005, _EDIT_AS_OF, _KLING_EDIT),
    "kling-v1-5/edit": Price(0.040, _EDIT_AS_OF, _KLING_EDIT),
    "kling-v2/edit": Price(0.040, _EDIT_AS_OF, _KLING_EDIT),
    "kling-v2-1/edit": Price(0.040, _EDIT_AS_OF, _KLING_EDIT),
    "kling-v2-new/edit": Price(0.040, _EDIT_AS_OF, _KLING_EDIT),
}


def price(key: str) -> Price:
    try:
        return PRICES[key]
    except KeyError:
        raise KeyError(f"no price for {key!r}; known: {', '.join(sorted(PRICES))}") from None


# --------------------------------------------------------------------------------------------------
# What each provider module provides (checked by core.providers at import)
# --------------------------------------------------------------------------------------------------
PROVIDER_FUNCTIONS = ("specs", "options", "check", "estimate_cost_usd", "missing_credentials", "generate")
# and ``list_model_ids(settings) -> list[str]``, or None where the provider has no list-models call


def secret(value: Any) -> str | None:
    """The plain text of a SecretStr (or str), None when unset or blank."""
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text.strip() or None


def api_spec(key: str, *, name: str, provider: str, **kw: Any) -> "ModelSpec":
    kw.setdefault("supports_negative", False)
    kw.setdefault("cfg_style", "none")
    return ModelSpec(key=key, name=name, kind="api", provider=provider, vram_gb=0, **kw)


def sent(**params: Any) -> dict[str, Any]:
    """sent_params without the unset entries."""
    return {k: v for k, v in params.items() if v is not None}


__all__ = ["ApiResult", "ProviderError", "Call", "CallPolicy", "PRICES", "Price", "price", "nearest_size",
           "nearest_aspect_ratio", "fit_size", "parse_retry_after", "redact"]
