"""Edit pairs a sweep reads with ``--task edit --inputs FILE``: a source image and an instruction each.

A stand-in for the edit suite's loader (core.edits.load_edit_items, same names and fields): it reads a JSONL
of {"image", "instruction"} (optional "id", "category"; image paths relative to the file's folder), a folder of
images with an ``instructions.jsonl`` or ``instructions.txt`` sidecar (``file<TAB>instruction`` per line), or a
suite name under data/edits/ (``<name>.jsonl``). Errors name the file, the line and the field.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import CaseStudyError
from core.jobs import InputImage

EDITS_DIR = Path(__file__).resolve().parent.parent / "data" / "edits"
SIDECARS = ("instructions.jsonl", "instructions.txt")


class EditItemsError(CaseStudyError, ValueError):
    """An edit file, folder or suite name that cannot be read; the message names the file, line and field."""


@dataclass(frozen=True)
class EditItem:
    id: str
    image: str  # absolute path of the source image
    instruction: str
    category: str | None = None

    def input_image(self) -> InputImage:
        """The source as a request's input (path and sha256)."""
        return InputImage.from_path(self.image)


def load_edit_items(source: str | Path) -> list[EditItem]:
    """Items of a suite name, a JSONL file or a folder with a sidecar."""
    path = Path(source)
    if not path.exists() and "/" not in str(source) and not str(source).endswith(".jsonl"):
        path = EDITS_DIR / f"{source}.jsonl"
    if path.is_dir():
        sidecar = next((path / name for name in SIDECARS if (path / name).is_file()), None)
        if sidecar is None:
            raise EditItemsError(f"inputs: folder {str(path)!r} has no {' or '.join(SIDECARS)} (one line per image: "
                                 "its file name and the instruction)")
        items = _read_jsonl(sidecar, path) if sidecar.suffix == ".jsonl" else _read_txt(sidecar, path)
    elif path.is_file():
        items = _read_jsonl(path, path.parent)
    else:
        known = ", ".join(sorted(p.stem for p in EDITS_DIR.glob("*.jsonl"))) if EDITS_DIR.is_dir() else ""
        raise EditItemsError(f"inputs: {str(source)!r} is no edit suite, file or folder; shipped suites (data/edits): "
                             f"{known or 'none'}; or a JSONL of image and instruction, or a folder of images with "
                             f"{' or '.join(SIDECARS)}")
    if not items:
        raise EditItemsError(f"inputs: {str(source)!r} holds no edit")
    return items


def _item(where: str, base: Path, index: int, image, instruction, item_id=None, category=None) -> EditItem:
    if not isinstance(image, str) or not image.strip():
        raise EditItemsError(f"inputs: {where}: 'image' must be a file path (relative to {base})")
    if not isinstance(instruction, str) or not instruction.strip():
        raise EditItemsError(f"inputs: {where}: 'instruction' must be non-empty text")
    file = (base / image).resolve()
    if not file.is_file():
        raise EditItemsError(f"inputs: {where}: image {image!r} not found (looked for {file})")
    return EditItem(id=str(item_id or f"{file.stem}-{index}"), image=str(file), instruction=instruction.strip(),
                    category=category)


def _read_jsonl(path: Path, base: Path) -> list[EditItem]:
    items = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EditItemsError(f"inputs: {path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise EditItemsError(f"inputs: {path}:{lineno}: one JSON object a line, with image and instruction")
        items.append(_item(f"{path}:{lineno}", base, lineno, obj.get("image"), obj.get("instruction"),
                           obj.get("id"), obj.get("category")))
    return items


def _read_txt(path: Path, base: Path) -> list[EditItem]:
    items = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        image, sep, instruction = line.partition("\t")
        if not sep:
            raise EditItemsError(f"inputs: {path}:{lineno}: 'file<TAB>instruction' expected")
        items.append(_item(f"{path}:{lineno}", base, lineno, image.strip(), instruction))
    return items
