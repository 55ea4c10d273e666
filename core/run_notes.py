"""A run's annotations, as MLflow and W&B keep them: a name, free notes and tags (checked here, stored on `Run`).

Tags are short words (letters, digits and `- _ . : / + =`, up to 40 characters): no spaces, quotes or commas,
so a tag reads the same in a URL, on a command line and in the store's JSON list, and the store can find the
runs carrying one on SQLite and PostgreSQL alike. Tags are kept sorted and without duplicates. A leaf: imports
nothing of ours but the errors.
"""
from __future__ import annotations

import re
from typing import Iterable

from core.errors import RequestError

TAG_PATTERN = re.compile(r"[A-Za-z0-9_.:/+=-]{1,40}")
TAG_RULE = "a tag is 1 to 40 letters, digits or - _ . : / + = (no spaces or commas)"
MAX_NAME = 120
MAX_NOTES = 10_000
MAX_TAGS = 20


def check_tag(tag: str) -> str:
    """The tag, stripped; RequestError naming the field when it breaks TAG_RULE."""
    text = str(tag).strip()
    if not TAG_PATTERN.fullmatch(text):
        raise RequestError("tag", tag, TAG_RULE)
    return text


def clean_tags(tags: Iterable[str] | str | None) -> list[str]:
    """Tags from a list (or one comma- or space-separated string), checked, sorted, without duplicates."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = re.split(r"[,\s]+", tags)
    out = sorted({check_tag(t) for t in tags if str(t).strip()})
    if len(out) > MAX_TAGS:
        raise RequestError("tag", ", ".join(out), f"at most {MAX_TAGS} tags a run")
    return out


def clean_name(name: str | None) -> str | None:
    """A run name, stripped (None when empty); at most MAX_NAME characters, one line."""
    text = (name or "").strip()
    if "\n" in text or len(text) > MAX_NAME:
        raise RequestError("name", name, f"one line of at most {MAX_NAME} characters")
    return text or None


def clean_notes(notes: str | None) -> str | None:
    """Notes, stripped (None when empty); at most MAX_NOTES characters."""
    text = (notes or "").strip()
    if len(text) > MAX_NOTES:
        raise RequestError("note", f"{text[:40]}…", f"at most {MAX_NOTES} characters")
    return text or None


def run_label(*, name: str | None, kind: str, weights: str, prompt: str | None = None) -> str:
    """What a run is called where it has no name (older Generate runs): `generate · tiny weights · "a cat"`."""
    if name:
        return name
    label = f"{kind} · {weights} weights"
    if prompt:
        label += f' · "{prompt if len(prompt) <= 30 else prompt[:29] + "…"}"'
    return label
