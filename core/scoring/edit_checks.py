"""Pixel checks of an edit against the synthetic suite's ground truth: did the target change as asked, and did
everything else stay? No model: each item's scene and edit (core.edit_scenes) say which pixels should hold what.

An output of another size is resized to the source's (bicubic), as MagicBrush's evaluation does. Colours are read
by their nearest named colour (the six object colours, the scene's sky and ground, the sign's white and ink), so a
model's other shade of blue still counts as blue. Each check is a few parts, each a number against a limit; the edit
passes when every part does.

| category | parts (all must hold) |
|---|---|
| recolour | `target_colour`: share of the object's pixels (its shape, 3 px in from the edge) now of the asked colour >= 0.6 |
| remove | `object_left`: share of the object's pixels still of its colour <= 0.1; `background`: share now sky or ground >= 0.8 |
| add | `added_area`: pixels of the asked colour in the asked grid cell / the shape's area >= 0.4; `shape`: their fill of their own bounding box is nearest the asked shape's (circle pi/4, square 1, triangle 1/2) |
| move | `old_place_left`: share of the old place's object pixels still of its colour <= 0.2; `moved_area`: pixels of its colour in the new cell / its area >= 0.5 |
| text | `ink_changed`: overlap (IoU) of the sign's dark pixels (grey < 0.5) before and after <= 0.6; `ink_amount`: dark pixels / the new word's (as drawn in the source font) in [0.4, 2.5]; `sign_kept`: share of the sign still white or ink >= 0.8 |
| style | `changed`: mean absolute difference from the source >= 0.05; `toward_style`: distance to the exactly stylised source (32 x 32 means) <= 0.5 x the source's; `structure`: correlation of edge strength with the source's (grey, 128 x 128) >= 0.5 |
| every local edit | `preserved_l1`: mean absolute difference outside the item's regions (in [0, 1]) <= 0.04 |

These say whether an edit did the asked thing in the asked place; they do not judge looks (a flat blue blob passes a
recolour). The text check reads no letters: a changed, plausible amount of ink on the kept sign passes, whatever it
spells.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from core.edit_scenes import (COLOURS, FILL_RATIO, GROUNDS, INK, SIGN_EDGE, SIGN_FILL, SKIES, cell_of,
                              find_object, shape_mask, stylise, text_ink)
from core.edits import Box, EditItem
from core.scoring.edit_metrics import as_array, regions_mask

PRESERVE_L1_MAX = 0.04
ERODE_PX = 3
INK_GREY = 0.5


@dataclass(frozen=True)
class CheckPart:
    name: str
    value: float
    limit: float | tuple[float, float]
    kind: str  # "min": value >= limit; "max": value <= limit; "range": limit[0] <= value <= limit[1]

    @property
    def passed(self) -> bool:
        if self.kind == "min":
            return self.value >= self.limit
        if self.kind == "max":
            return self.value <= self.limit
        lo, hi = self.limit
        return lo <= self.value <= hi

    def __str__(self) -> str:
        op = {"min": ">=", "max": "<="}.get(self.kind, "in")
        return f"{self.name} {self.value:.3f} {op} {self.limit} {'ok' if self.passed else 'FAIL'}"


@dataclass(frozen=True)
class EditCheck:
    item_id: str
    category: str
    parts: tuple[CheckPart, ...]

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.parts)

    @property
    def failed_parts(self) -> list[str]:
        return [p.name for p in self.parts if not p.passed]

    def __str__(self) -> str:
        verdict = "pass" if self.passed else "fail"
        return f"{self.item_id} ({self.category}): {verdict}; " + "; ".join(map(str, self.parts))


class EditCheckError(ValueError):
    """The item cannot be checked (no ground truth) or the images do not fit it."""


# ---- pixels ---------------------------------------------------------------------------------------------------
def _erode(mask: np.ndarray, px: int = ERODE_PX) -> np.ndarray:
    """The mask less `px` pixels at its edge (a min filter over the mask's bounding box only)."""
    ys, xs = np.nonzero(mask)
    out = np.zeros_like(mask)
    if not len(ys):
        return out
    y0, y1, x0, x1 = max(ys.min() - px, 0), ys.max() + px + 1, max(xs.min() - px, 0), xs.max() + px + 1
    crop = Image.fromarray(mask[y0:y1, x0:x1].astype(np.uint8) * 255).filter(ImageFilter.MinFilter(2 * px + 1))
    out[y0:y1, x0:x1] = np.asarray(crop) > 0
    return out


def _palette(scene: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    named = {**COLOURS, "sky": SKIES[scene["sky"]], "ground": GROUNDS[scene["ground"]], "sign": SIGN_FILL,
             "ink": INK, "edge": SIGN_EDGE}
    return list(named), np.array(list(named.values()), dtype=np.float32) / 255.0


@dataclass(frozen=True)
class ColourNames:
    """The nearest named colour of each pixel, as codes into `names` (-1 where not read)."""

    codes: np.ndarray  # (H, W) int8
    names: tuple[str, ...]

    def of(self, *wanted: str) -> np.ndarray:
        """(H, W) bool: pixels whose nearest named colour is one of `wanted`."""
        return np.isin(self.codes, [self.names.index(w) for w in wanted])


def colour_names(pixels: np.ndarray, scene: dict[str, Any], where: np.ndarray | None = None) -> ColourNames:
    """The nearest named colour of each pixel ((H, W, 3) in [0, 1]); only where `where` is true when given."""
    names, rgb = _palette(scene)
    where = np.ones(pixels.shape[:2], dtype=bool) if where is None else where
    picked = pixels[where]
    dist = (picked * picked).sum(-1, keepdims=True) - 2 * picked @ rgb.T + (rgb * rgb).sum(-1)
    codes = np.full(pixels.shape[:2], -1, dtype=np.int8)
    codes[where] = dist.argmin(-1)
    return ColourNames(codes=codes, names=tuple(names))


def _share(names: ColourNames, mask: np.ndarray, *wanted: str) -> float:
    return float(names.of(*wanted)[mask].mean()) if mask.any() else 0.0


def _cell_box(size: tuple[int, int], box: list[int]) -> Box:
    """The 3 x 3 grid cell holding the box's centre."""
    w, h = size
    row, col = divmod(cell_of(size, box), 3)
    return (col * w // 3, row * h // 3, (col + 1) * w // 3, (row + 1) * h // 3)


def _cell(size: tuple[int, int], box: list[int]) -> np.ndarray:
    return regions_mask(size, [_cell_box(size, box)])


def _fill_ratio(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return 0.0
    return float(len(ys) / ((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)))


def _nearest_shape(ratio: float) -> str:
    return min(FILL_RATIO, key=lambda s: abs(FILL_RATIO[s] - ratio))


def _grey(a: np.ndarray) -> np.ndarray:
    return a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _means(a: np.ndarray, n: int) -> np.ndarray:
    """Box means over an n x n grid (the image cropped to a multiple of n)."""
    h, w = a.shape[:2]
    a = a[: h - h % n, : w - w % n]
    return a.reshape(n, a.shape[0] // n, n, a.shape[1] // n, *a.shape[2:]).mean(axis=(1, 3))


def _edges(a: np.ndarray) -> np.ndarray:
    g = _means(_grey(a), 128)
    gx, gy = np.zeros_like(g), np.zeros_like(g)
    gx[:, 1:-1] = g[:, 2:] - g[:, :-2]
    gy[1:-1, :] = g[2:, :] - g[:-2, :]
    return np.hypot(gx, gy)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def _looked_at(size: tuple[int, int], scene: dict[str, Any], edit: dict[str, Any]) -> np.ndarray:
    """Where a local edit's check reads colours: the object's place, the new place's cell, the sign."""
    boxes = []
    if "object" in edit:
        boxes.append(find_object(scene, edit["object"])["box"])
    if "box" in edit:
        boxes.append(_cell_box(size, edit["box"]))
    if edit["op"] == "text":
        boxes.append(scene["sign"]["box"])
    return regions_mask(size, boxes)


# ---- the checks -----------------------------------------------------------------------------------------------
def check_edit(item: EditItem, output: Image.Image, source: Image.Image | None = None) -> EditCheck:
    """Check `output` (the edited image) against the item's ground truth; `source` defaults to the item's image."""
    if not item.has_ground_truth:
        raise EditCheckError(f"item {item.id!r}: no ground truth ('scene' and 'edit'); only the synthetic suite's "
                             f"items can be checked in pixels")
    scene, edit = item.scene, item.edit
    size = tuple(scene["size"])
    if source is None:
        with Image.open(item.image) as im:
            source = im.convert("RGB")
    src, out = as_array(source), as_array(output, size)
    if src.shape[:2] != (size[1], size[0]):
        raise EditCheckError(f"source: {source.size} is not the scene's size {size}")
    op = edit["op"]
    names = colour_names(out, scene, _looked_at(size, scene, edit)) if op != "style" else None
    parts: list[CheckPart] = []
    if op == "recolour":
        obj = find_object(scene, edit["object"])
        inner = _erode(shape_mask(size, obj["shape"], obj["box"]))
        parts.append(CheckPart("target_colour", _share(names, inner, edit["colour"]), 0.6, "min"))
    elif op == "remove":
        obj = find_object(scene, edit["object"])
        inner = _erode(shape_mask(size, obj["shape"], obj["box"]))
        parts.append(CheckPart("object_left", _share(names, inner, obj["colour"]), 0.1, "max"))
        parts.append(CheckPart("background", _share(names, inner, "sky", "ground"), 0.8, "min"))
    elif op == "add":
        cell = _cell(size, edit["box"])
        found = cell & names.of(edit["colour"])
        area = float(shape_mask(size, edit["shape"], edit["box"]).sum())
        parts.append(CheckPart("added_area", float(found.sum()) / area, 0.4, "min"))
        ratio = _fill_ratio(found)
        parts.append(CheckPart("shape", float(_nearest_shape(ratio) == edit["shape"]), 1.0, "min"))
    elif op == "move":
        obj = find_object(scene, edit["object"])
        old = _erode(shape_mask(size, obj["shape"], obj["box"]))
        parts.append(CheckPart("old_place_left", _share(names, old, obj["colour"]), 0.2, "max"))
        area = float(shape_mask(size, obj["shape"], obj["box"]).sum())
        moved = _cell(size, edit["box"]) & names.of(obj["colour"])
        parts.append(CheckPart("moved_area", float(moved.sum()) / area, 0.5, "min"))
    elif op == "text":
        sign = scene["sign"]
        x0, y0, x1, y1 = sign["box"]
        inner = regions_mask(size, [(x0 + 5, y0 + 5, x1 - 5, y1 - 5)])
        ink_out = inner & (_grey(out) < INK_GREY)  # dark: below mid-grey between the sign's white and the ink
        ink_src = inner & (_grey(src) < INK_GREY)
        union = float((ink_out | ink_src).sum())
        parts.append(CheckPart("ink_changed", float((ink_out & ink_src).sum()) / union if union else 1.0, 0.6, "max"))
        expected = float(text_ink(size, sign, edit["text"]).sum())
        parts.append(CheckPart("ink_amount", float(ink_out.sum()) / expected if expected else 0.0, (0.4, 2.5),
                               "range"))
        parts.append(CheckPart("sign_kept", _share(names, inner, "sign", "ink", "edge"), 0.8, "min"))
    elif op == "style":
        styled = as_array(stylise(source, edit["style"]))
        parts.append(CheckPart("changed", float(np.abs(out - src).mean()), 0.05, "min"))
        d_out = float(np.abs(_means(out, 32) - _means(styled, 32)).mean())
        d_src = float(np.abs(_means(src, 32) - _means(styled, 32)).mean())
        parts.append(CheckPart("toward_style", d_out / d_src if d_src else 0.0, 0.5, "max"))
        parts.append(CheckPart("structure", _corr(_edges(out), _edges(src)), 0.5, "min"))
    else:
        raise EditCheckError(f"item {item.id!r}: edit.op {op!r} has no check")
    if op != "style":
        outside = ~regions_mask(size, item.regions)
        parts.append(CheckPart("preserved_l1", float(np.abs(out - src)[outside].mean()), PRESERVE_L1_MAX, "max"))
    return EditCheck(item_id=item.id, category=item.category or op, parts=tuple(parts))
