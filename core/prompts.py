"""Prompt sets: one prompt a line (`.txt`), or JSON lines with prompt, negative_prompt, category.

A prompt with `inputs` is an edit's instruction for those source images (`--task edit --inputs FILE`)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.jobs import InputImage

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "data" / "prompts"


@dataclass(frozen=True)
class Prompt:
    prompt: str
    negative_prompt: str | None = None
    category: str | None = None
    inputs: tuple[InputImage, ...] = ()  # an edit's source images (the prompt is its instruction)


def load_prompts(path: str | Path) -> list[Prompt]:
    """Read a prompt file; errors name the file, the line and what is expected."""
    path = Path(path)
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in PROMPTS_DIR.glob("*.*"))) if PROMPTS_DIR.is_dir() else ""
        raise FileNotFoundError(f"prompts: no file {str(path)!r}" + (f" (shipped sets in data/prompts: {known})" if known else ""))
    out: list[Prompt] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"prompts: {path}:{lineno}: not valid JSON ({exc.msg})") from None
            text = obj.get("prompt")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"prompts: {path}:{lineno}: 'prompt' must be non-empty text")
            unknown = set(obj) - {"prompt", "negative_prompt", "category"}
            if unknown:
                raise ValueError(f"prompts: {path}:{lineno}: unknown keys {sorted(unknown)}; "
                                 "allowed: prompt, negative_prompt, category")
            out.append(Prompt(text.strip(), obj.get("negative_prompt") or None, obj.get("category")))
        else:
            out.append(Prompt(line))
    if not out:
        raise ValueError(f"prompts: {path} holds no prompt")
    return out
