"""Which API models exist today (2026-12-04): status, dates, replacements, which edit, and where each fact comes from.

Every API model key we ever offered stays here, so rows of a retired model stay browsable (the registry
still knows its spec), but `refuse_retired` stops a request for it before anything is sent, naming the
replacement. Prices live in ``base.PRICES`` (each with its own source and date); `rows()` joins both for
``--list`` and the dashboard. ``EDITS`` names, for each model that edits (its spec's tasks include "edit"), the
primary source of that capability and of its wire format. docs/apis.md says the same in prose, with the sources.
Only primary sources (the providers' own SDKs and pages) or docs/apis.md in this repository are cited.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.errors import RequestError

if TYPE_CHECKING:
    from core.spec import ModelSpec

State = Literal["available", "deprecated", "retired"]
AS_OF = "2026-12-04"

_OPENAI_SDK = "openai 3.57.0 types/image_model.py and resources/images.py (installed, read 2026-12-02)"
_GENAI_SDK = "google-genai 3.6.1 models.py: generate_images is Vertex-only (read 2026-12-02)"
_GEMINI_DEPR = "ai.google.dev/gemini-api/docs/deprecations (stored copy, read 2026-12-02)"
_FIREBASE = ("firebase.google.com Firebase AI reference: 'All Imagen models are deprecated and will shut down as "
             "early as June 2026' (stored copy, read 2026-12-02)")
_ARK = ("Ark image API, volcengine.com/docs/82379/1541523, and the Ark SDK (github volcengine/volcengine-python-sdk "
        "volcenginesdkarkruntime/resources/images/images.py, read 2026-12-04); model list as in docs/apis.md")
_VOLC = ("Volcano visual API, volcengine.com/docs (CVProcess, CVSync2AsyncSubmitTask); model list as in docs/apis.md "
         "(2026-11)")
_KLING = "Kling image API reference, app.klingai.com/cn/dev/document-api (read through mirrors, 2026-12-02)"
_KLING_EDIT = ("Kling image API reference, app.klingai.com/cn/dev/document-api: image, image_reference, "
               "image_fidelity, human_fidelity on /v1/images/generations (read through mirrors, 2026-12-04)")
_OPENAI_EDIT = ("openai 3.63.0 resources/images.py Images.edit: image (up to 16), mask, input_fidelity (installed, "
                "read 2026-12-04)")
_GEMINI_EDIT = ("firebase.google.com/docs/ai-logic/generate-images-gemini: all four Gemini image models generate and "
                "edit (stored copy, read 2026-12-04); google-genai Part.from_bytes (inline_data)")


@dataclass(frozen=True)
class Status:
    state: State
    source: str
    date: str | None = None  # deprecated: shutdown announced for; retired: the day it went
    replacement: str | None = None  # one of our keys

    def describe(self) -> str:
        if self.state == "available":
            return "available"
        when = f" {self.date}" if self.date else ""
        instead = f"; use {self.replacement}" if self.replacement else ""
        return f"{self.state}{when}{instead}"


STATUS: dict[str, Status] = {
    # OpenAI
    "dall-e-2": Status("retired", _OPENAI_SDK, "2026-05-12", "gpt-image-2"),
    "dall-e-3": Status("retired", _OPENAI_SDK, "2026-05-12", "gpt-image-2"),
    "gpt-image-1": Status("retired", _OPENAI_SDK, "2026-10-23", "gpt-image-2.5-sunburst"),
    "gpt-image-1-mini": Status("available", _OPENAI_SDK),
    "gpt-image-1.5": Status("available", _OPENAI_SDK),
    "gpt-image-2": Status("available", _OPENAI_SDK),
    "gpt-image-2.5-sunburst": Status("available", _OPENAI_SDK),
    "gpt-image-2.5-flare": Status("available", _OPENAI_SDK),
    "gpt-image-2.6-sunburst": Status("available", _OPENAI_SDK),
    "gpt-image-2.6-flare": Status("available", _OPENAI_SDK),
    # Google: Imagen on Vertex AI only (deprecated), Gemini image models on both backends
    "imagen-3": Status("deprecated", _FIREBASE, "2026-06", "gemini-3.1-flash-image"),
    "imagen-4": Status("deprecated", _FIREBASE, "2026-06", "gemini-3.1-flash-image"),
    "imagen-4-fast": Status("deprecated", _FIREBASE, "2026-06", "gemini-3.1-flash-image"),
    "imagen-4-ultra": Status("deprecated", _FIREBASE, "2026-06", "gemini-3-pro-image"),
    "gemini-2.5-flash-image": Status("deprecated", _GEMINI_DEPR, "2026-10-02", "gemini-3.1-flash-image"),
    "gemini-3.1-flash-image": Status("available", _GEMINI_DEPR),
    "gemini-3-pro-image": Status("available", _GEMINI_DEPR),
    "gemini-3.1-flash-lite-image": Status("available", "google-genai 3.6.1 _gaos/types/interactions/model.py"),
    # ByteDance
    "seedream-3": Status("available", _ARK),
    "seedream-4": Status("available", _ARK),
    "volc-general-2.1": Status("available", _VOLC),
    "jimeng-3.0": Status("available", _VOLC),
    # Kling
    "kling-v1": Status("available", _KLING),
    "kling-v1-5": Status("available", _KLING),
    "kling-v2": Status("available", _KLING),
    "kling-v2-1": Status("available", _KLING),
    "kling-v2-new": Status("available", _KLING_EDIT),
}

# Models that edit (task "edit"), with the source of the capability and its wire format
EDITS: dict[str, str] = {
    **{key: _OPENAI_EDIT for key in ("gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "gpt-image-2.5-sunburst",
                                     "gpt-image-2.5-flare", "gpt-image-2.6-sunburst", "gpt-image-2.6-flare")},
    **{key: _GEMINI_EDIT for key in ("gemini-2.5-flash-image", "gemini-3.1-flash-image", "gemini-3-pro-image",
                                     "gemini-3.1-flash-lite-image")},
    "seedream-4": _ARK,
    **{key: _KLING_EDIT for key in ("kling-v1", "kling-v1-5", "kling-v2", "kling-v2-1", "kling-v2-new")},
}


def status(key: str) -> Status:
    try:
        return STATUS[key]
    except KeyError:
        raise KeyError(f"{key!r} is not in the API catalog; known: {', '.join(sorted(STATUS))}") from None


def edit_source(key: str) -> str | None:
    """Where the model's edit capability is documented; None when it does not edit."""
    return EDITS.get(key)


def is_available(key: str) -> bool:
    """Requests may be sent (available or deprecated, not retired)."""
    return status(key).state != "retired"


def refuse_retired(spec: "ModelSpec") -> None:
    """RequestError naming the replacement when the model is retired (before anything is sent)."""
    st = status(spec.key)
    if st.state == "retired":
        raise RequestError("model", spec.key, f"{spec.key} was retired on {st.date} ({st.source}); its past rows "
                                              f"stay browsable; use {st.replacement} instead")
