"""One clear line for the user from an exception or a stored error text; the full text kept as the detail.

Hugging Face errors end in advice meant for library authors ("pass local_files_only=False", "see the
stacktrace above"); the pages show `explain_error(exc)[0]` and put `[1]` (the trace) behind an expander.
"""
from __future__ import annotations

import re
import traceback

from core.errors import CaseStudyError

MAX_LINE = 240

# (pattern in the error text, the line a user reads). First match wins.
_KNOWN: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.I | re.S), line) for p, line in (
    (r"gated repo|GatedRepoError|access to model .* is restricted|awaiting a review",
     "The model is gated: accept its licence on huggingface.co and set HF_TOKEN."),
    (r"401 Client Error|Invalid credentials|invalid user token",
     "Hugging Face refused the token: check HF_TOKEN."),
    (r"RepositoryNotFoundError|Repository Not Found|is not a valid model identifier",
     "The weights' repository was not found on the Hugging Face Hub (check the model id or IGCS_MODELS_DIR)."),
    (r"local_files_only|LocalEntryNotFoundError|outgoing traffic has been disabled|"
     r"couldn't connect to 'https://huggingface.co'|Cannot find the requested files in the (disk )?cache|"
     r"see the stacktrace above|offline mode",
     "The pretrained weights are not on this machine and could not be downloaded: download them "
     "(`huggingface-cli download <model id>`), point IGCS_MODELS_DIR at a local copy, or use "
     "--weights tiny / random."),
    (r"CUDA out of memory|OutOfMemoryError|out of memory",
     "Out of GPU memory: try a smaller size, fewer images per call, or IGCS_MULTI_GPU=always."),
    (r"No space left on device", "The disk is full (no space left on device)."),
))


def _own_error_names() -> set[str]:
    """Names of CaseStudyError and its subclasses (stored errors read "RequestError: steps: ...")."""
    names, todo = {"CaseStudyError", "ProviderError"}, [CaseStudyError]
    while todo:
        for cls in todo.pop().__subclasses__():
            names.add(cls.__name__)
            todo.append(cls)
    return names


def _first_line(text: str) -> str:
    line = next((s.strip() for s in text.strip().splitlines() if s.strip()), "")
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…"


def explain_error(exc: BaseException | str | None) -> tuple[str, str]:
    """(one line for the user, the full detail: the traceback of an exception, or the stored text).

    Our own errors (`CaseStudyError`) already say which field is wrong and what is allowed: their message is
    the line. Known Hugging Face and CUDA failures get a plain-language line; anything else its first line.
    """
    if exc is None:
        return "", ""
    if isinstance(exc, BaseException):
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        text = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, CaseStudyError):
            return _first_line(str(exc)), detail
        chained = [e for e in (exc.__cause__, exc.__context__) if e is not None]
        haystack = "\n".join([text, *(f"{type(e).__name__}: {e}" for e in chained)])
    else:
        detail = text = haystack = str(exc)
        head = re.match(r"^(\w+): ", text)
        if head and head.group(1) in _own_error_names():
            return _first_line(text[head.end():]), detail
    for pattern, line in _KNOWN:
        if pattern.search(haystack):
            return line, detail
    return _first_line(text), detail
