"""What Imagen and the Gemini image models share: backend choice, credentials, the `google-genai` client,
and its errors as ProviderErrors (with the wait from ``RetryInfo.retryDelay``).

- Vertex AI (``vertexai=True``): project, location and an OAuth access token (``GOOGLE_ACCESS_TOKEN``,
  e.g. ``gcloud auth print-access-token``), sent by the SDK as ``Authorization: Bearer``.
- Gemini API: ``GOOGLE_API_KEY`` as ``x-goog-api-key``.
The SDK retries nothing unless asked (``HttpOptions.retry_options`` unset): retries, backoff and the
deadline are ours (base.Call), and each attempt gets the time left as its timeout. Google's 429 carries
its wait in the body (``details[].retryDelay`` of a ``google.rpc.RetryInfo``, e.g. "37s"), not in a
Retry-After header; that wait is honoured while it fits the deadline.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from core.providers.base import Call, ProviderError, kind_for_status, parse_retry_after, secret

if TYPE_CHECKING:
    from google import genai

    from core.spec import ModelSpec
    from core.settings import Settings

PROVIDER = "google"
_SAFETY_WORDS = ("safety", "sensitive", "responsible ai", "prohibited", "policy")
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


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


def missing_credentials(spec: "ModelSpec", settings: "Settings", which: str) -> str | None:
    if which == "vertex":
        missing = [name for name, value in (("GOOGLE_CLOUD_PROJECT", settings.google_cloud_project),
                                            ("GOOGLE_ACCESS_TOKEN", secret(settings.google_access_token)))
                   if not value]
        if not missing:
            return None
        return (f"{spec.key} on Vertex AI needs {' and '.join(missing)} (an OAuth access token, e.g. from "
                "`gcloud auth print-access-token`; GOOGLE_CLOUD_LOCATION defaults to us-central1)")
    if secret(settings.google_api_key):
        return None
    return (f"{spec.key} needs Google credentials: GOOGLE_API_KEY for the Gemini API, or GOOGLE_CLOUD_PROJECT "
            "and GOOGLE_ACCESS_TOKEN (OAuth access token) with IGCS_IMAGEN_BACKEND=vertex for Vertex AI")


def secrets_of(settings: "Settings", which: str) -> list[str | None]:
    return [secret(settings.google_access_token)] if which == "vertex" else [secret(settings.google_api_key)]


def client(settings: "Settings", which: str) -> "genai.Client":
    """A google-genai client for the backend, pointed at the configured base URL, with no SDK retries."""
    from google import genai  # heavy optional dependency, imported on use
    from google.genai import types

    if which == "vertex":
        from google.oauth2.credentials import Credentials

        options = types.HttpOptions(base_url=settings.google_vertex_base_url) if settings.google_vertex_base_url \
            else None
        return genai.Client(vertexai=True, project=settings.google_cloud_project,
                            location=settings.google_cloud_location,
                            credentials=Credentials(token=secret(settings.google_access_token)),
                            http_options=options)
    return genai.Client(api_key=secret(settings.google_api_key),
                        http_options=types.HttpOptions(base_url=settings.google_gemini_base_url))


def http_options(timeout_s: float) -> Any:
    """Per-attempt options: the time left as the timeout (the SDK counts milliseconds)."""
    from google.genai import types

    return types.HttpOptions(timeout=max(1, int(timeout_s * 1000)))


def retry_delay(details: Any) -> float | None:
    """Seconds from ``error.details[]`` RetryInfo ``retryDelay`` ("37s", "1.5s"), else None."""
    body = details.get("error", details) if isinstance(details, dict) else {}
    for item in (body.get("details") or []) if isinstance(body, dict) else []:
        if isinstance(item, dict) and item.get("@type") == _RETRY_INFO:
            m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(item.get("retryDelay", "")))
            if m:
                return float(m.group(1))
    return None


def classify(call: Call, exc: Exception, *, what: str) -> ProviderError:
    """A google-genai (or transport) exception as a ProviderError."""
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        details = exc.details if isinstance(exc.details, dict) else {}
        body = details.get("error", details) if isinstance(details.get("error", details), dict) else {}
        reasons = {d.get("reason") for d in body.get("details") or [] if isinstance(d, dict)}
        status, message = int(exc.code or 0), exc.message or str(exc)
        kind = None
        if exc.status in ("UNAUTHENTICATED", "PERMISSION_DENIED") or reasons & {"API_KEY_INVALID", "API_KEY_EXPIRED"}:
            kind = "auth"
        elif exc.status == "RESOURCE_EXHAUSTED" or status == 429:
            kind = "rate_limit"
        elif status == 400 and any(w in message.lower() for w in _SAFETY_WORDS):
            kind = "safety"
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        wait = retry_delay(details)
        return call.error(kind or kind_for_status(status), f"{what}: {message}", status=status, code=exc.status,
                          request_id=headers.get("x-request-id") if hasattr(headers, "get") else None,
                          retry_after_s=wait if wait is not None else parse_retry_after(headers))
    name = type(exc).__name__
    if "Timeout" in name:
        return call.error("timeout", f"{what}: no answer within the request timeout (at most "
                                     f"{call.policy.timeout_s:g} s)")
    if "Connect" in name or "Network" in name or "Transport" in name:
        return call.error("server", f"{what}: could not reach the server ({name})", retryable=False)
    if isinstance(exc, json.JSONDecodeError):  # a 200 whose body is cut short or not JSON: the answer's fault
        return call.error("malformed", f"{what}: the answer is not complete JSON ({exc})")
    if isinstance(exc, ValueError):  # the SDK refusing a parameter for this backend
        return call.error("bad_request", f"{what}: {exc}", retryable=False)
    return call.error("malformed", f"{what}: unreadable answer ({name}: {exc})")


def run(call: Call, fn, *, what: str) -> Any:
    """``fn(http_options)`` under the call's retries and deadline, SDK errors classified."""
    def attempt(timeout: float) -> Any:
        try:
            return fn(http_options(timeout))
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a classified ProviderError
            raise classify(call, exc, what=what) from None

    return call.retrying(attempt, what=what)


def list_model_ids(settings: "Settings") -> list[str]:
    """``models.list`` on the configured backend: the model ids (without "models/" or publisher paths)."""
    which = backend(settings)
    with Call(PROVIDER, settings, secrets=secrets_of(settings, which)) as call:
        sdk = client(settings, which)
        models = run(call, lambda opts: list(sdk.models.list(config={"http_options": opts})), what="models.list")
        return [str(m.name).rsplit("/", 1)[-1] for m in models if getattr(m, "name", None)]
