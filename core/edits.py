"""Edit items: a source image and an instruction, from a shipped suite, a user's JSONL or a folder of images.

    load_edit_items("synthetic")                  the suite data/edits/synthetic.jsonl
    load_edit_items("my_edits.jsonl")             a user's file: one JSON object a line
    load_edit_items("photos/")                    a folder with instructions.jsonl or instructions.txt

A JSONL line: {"image": path (relative to the file's folder, or absolute), "instruction": text} and optionally
"id", "category" (recolour | remove | add | move | text | style), "region" ([x0, y0, x1, y1] in source pixels, the
part the edit should change; null for a whole-image edit), "regions" (several boxes, e.g. a move's old and new place;
"region" is then their bounding box), "source_caption", "target_caption", and for the synthetic suite the ground
truth: "scene" and "edit" (core.edit_scenes). `instructions.txt` in a folder: one `file.png: instruction` a line
(`#` comments).

`EditIndex` finds the item a stored edit came from by the source image's sha256 and the instruction (the row's
prompt): the edit metrics take the region and captions from it, so nothing about the suite goes into the request.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from core.errors import CaseStudyError
from core.jobs import InputImage, file_sha256

EDITS_DIR = Path(__file__).resolve().parent.parent / "data" / "edits"
CATEGORIES: tuple[str, ...] = ("recolour", "remove", "add", "move", "text", "style")
KEYS: tuple[str, ...] = ("id", "image", "instruction", "category", "region", "regions", "source_caption",
                         "target_caption", "scene", "edit")
SIDECARS: tuple[str, ...] = ("instructions.jsonl", "instructions.txt")
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

Box = tuple[int, int, int, int]


class EditItemsError(CaseStudyError, ValueError):
    """An edit file, folder or suite name that cannot be read; the message names the file, line and field."""


@dataclass(frozen=True)
class EditItem:
    id: str
    image: str  # absolute path of the source image
    instruction: str
    category: str | None = None
    region: Box | None = None  # the part to change; None: the whole image (style) or not known (user pairs)
    regions: tuple[Box, ...] = ()  # the boxes the edit should change (one, or a move's two); () when unknown
    source_caption: str | None = None
    target_caption: str | None = None
    scene: dict[str, Any] | None = field(default=None, compare=False, hash=False)  # ground truth (synthetic suite)
    edit: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def has_ground_truth(self) -> bool:
        return self.scene is not None and self.edit is not None

    def sha256(self) -> str:
        return _hash_of(self.image)

    def input_image(self) -> InputImage:
        """The source as a request's input (path and sha256)."""
        return InputImage(path=self.image, sha256=self.sha256())


def suites() -> list[str]:
    """Names of the shipped suites (data/edits/<name>.jsonl)."""
    return sorted(p.stem for p in EDITS_DIR.glob("*.jsonl")) if EDITS_DIR.is_dir() else []


# ---- reading ----------------------------------------------------------------------------------------------
def _box(value: Any, where: str, name: str) -> Box:
    if (not isinstance(value, (list, tuple)) or len(value) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise EditItemsError(f"{where}: '{name}' must be [x0, y0, x1, y1] (four whole pixel numbers), not {value!r}")
    x0, y0, x1, y1 = value
    if x0 < 0 or y0 < 0 or x1 <= x0 or y1 <= y0:
        raise EditItemsError(f"{where}: '{name}' {list(value)} is not a box; it needs 0 <= x0 < x1 and 0 <= y0 < y1")
    return (x0, y0, x1, y1)


def union_box(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _item(obj: Any, *, base: Path, where: str, default_id: str) -> EditItem:
    if not isinstance(obj, dict):
        raise EditItemsError(f"{where}: expected a JSON object with 'image' and 'instruction'")
    unknown = sorted(set(obj) - set(KEYS))
    if unknown:
        raise EditItemsError(f"{where}: unknown keys {unknown}; allowed: {', '.join(KEYS)}")
    image, instruction = obj.get("image"), obj.get("instruction")
    if not isinstance(image, str) or not image.strip():
        raise EditItemsError(f"{where}: 'image' must be the source image's path (relative to {base})")
    if not isinstance(instruction, str) or not instruction.strip():
        raise EditItemsError(f"{where}: 'instruction' must be non-empty text")
    path = Path(image) if Path(image).is_absolute() else base / image
    if not path.is_file():
        raise EditItemsError(f"{where}: 'image' {image!r}: no file {str(path)!r}")
    category = obj.get("category")
    if category is not None and category not in CATEGORIES:
        raise EditItemsError(f"{where}: 'category' {category!r} is not allowed; choose one of {', '.join(CATEGORIES)}")
    regions: tuple[Box, ...] = ()
    if obj.get("regions") is not None:
        if not isinstance(obj["regions"], list) or not obj["regions"]:
            raise EditItemsError(f"{where}: 'regions' must be a non-empty list of [x0, y0, x1, y1] boxes")
        regions = tuple(_box(b, where, "regions") for b in obj["regions"])
    region = _box(obj["region"], where, "region") if obj.get("region") is not None else None
    if region is not None and not regions:
        regions = (region,)
    elif regions and region is None:
        region = union_box(regions)
    for name in ("source_caption", "target_caption"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise EditItemsError(f"{where}: '{name}' must be text or null")
    for name in ("scene", "edit"):
        if obj.get(name) is not None and not isinstance(obj[name], dict):
            raise EditItemsError(f"{where}: '{name}' must be a JSON object or null")
    return EditItem(id=str(obj.get("id") or default_id), image=str(path.resolve()), instruction=instruction.strip(),
                    category=category, region=region, regions=regions, source_caption=obj.get("source_caption"),
                    target_caption=obj.get("target_caption"), scene=obj.get("scene"), edit=obj.get("edit"))


def _read_jsonl(path: Path, base: Path) -> list[EditItem]:
    items: list[EditItem] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EditItemsError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        default_id = f"{Path(str(obj.get('image', 'item'))).stem}-{lineno}" if isinstance(obj, dict) else str(lineno)
        items.append(_item(obj, base=base, where=f"{path}:{lineno}", default_id=default_id))
    return items


def _read_txt(path: Path, base: Path) -> list[EditItem]:
    items: list[EditItem] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, instruction = line.partition("\t") if "\t" in line else line.partition(":")
        if not sep or not name.strip().lower().endswith(IMAGE_SUFFIXES):
            raise EditItemsError(f"{path}:{lineno}: expected 'file.png: instruction' (an image of the folder, a "
                                 f"colon or a tab, the instruction)")
        items.append(_item({"image": name.strip(), "instruction": instruction}, base=base, where=f"{path}:{lineno}",
                           default_id=f"{Path(name.strip()).stem}-{lineno}"))
    return items


def load_edit_items(source: str | Path) -> list[EditItem]:
    """Items of a suite name, a JSONL file or a folder with a sidecar; errors name the file, line and field."""
    path = Path(source)
    if not path.exists() and isinstance(source, str) and "/" not in source and not source.endswith(".jsonl"):
        path = EDITS_DIR / f"{source}.jsonl"
    if path.is_dir():
        sidecar = next((path / name for name in SIDECARS if (path / name).is_file()), None)
        if sidecar is None:
            raise EditItemsError(f"inputs: folder {str(path)!r} has no {' or '.join(SIDECARS)} (one line per "
                                 f"image: its file name and the instruction)")
        items = _read_jsonl(sidecar, path) if sidecar.suffix == ".jsonl" else _read_txt(sidecar, path)
    elif path.is_file():
        items = _read_jsonl(path, path.parent)
    else:
        known = ", ".join(suites()) or "none"
        raise EditItemsError(f"inputs: {str(source)!r} is no edit suite, file or folder; shipped suites "
                             f"(data/edits): {known}; or a JSONL of image and instruction, or a folder of images "
                             f"with {' or '.join(SIDECARS)}")
    if not items:
        raise EditItemsError(f"inputs: {str(source)!r} holds no edit")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise EditItemsError(f"inputs: id {item.id!r} appears twice in {str(source)!r}; ids must be unique")
        seen.add(item.id)
    return items


# ---- finding the item of a stored edit ----------------------------------------------------------------------
class EditIndex:
    """(source sha256, instruction) -> item: the suite item a stored edit came from (for its region and captions)."""

    def __init__(self, items: Iterable[EditItem] = ()):
        self._items: dict[tuple[str, str], EditItem] = {}
        self.add(items)

    def add(self, items: Iterable[EditItem]) -> "EditIndex":
        for item in items:
            self._items[(_hash_of(item.image), item.instruction.strip())] = item
        return self

    def find(self, sha256: str | None, instruction: str | None) -> EditItem | None:
        if not sha256 or instruction is None:
            return None
        return self._items.get((sha256, instruction.strip()))

    def __len__(self) -> int:
        return len(self._items)

    @classmethod
    def shipped(cls, extra: Iterable[EditItem] = ()) -> "EditIndex":
        """Every shipped suite's items, plus `extra` (a user's file)."""
        index = cls()
        for name in suites():
            index.add(load_edit_items(name))
        return index.add(extra)


@lru_cache(maxsize=4096)
def _hash_cached(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(path)


def _hash_of(path: str) -> str:
    stat = Path(path).stat()
    return _hash_cached(path, stat.st_mtime_ns, stat.st_size)
