"""The X/Y/Z grid (the A1111 and ComfyUI plot), as plain functions tested without Streamlit.

Generations become a grid: two axes (prompt, model, seed, steps, guidance, recipe, weights, size) are its columns
and rows, a third is its pages, and every other axis that varies is held at one value. Where several rows
fall in one cell (timed repeats, several images a call, a job measured again) the cell shows one: an ok row
before a failure, image 0, a steady-state call before a first call (the first call after a load includes the
warm-up, and is marked wherever it shows), the oldest. "configuration" (every axis of core.stats' configuration,
dtype and batch size included) is an axis too, so two configurations of a model are held apart, never pooled.
`sheet_png` composes a page into one PNG with its axis labels (Pillow), what History → Grid downloads.
"""
from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import pandas as pd
from PIL import Image, ImageDraw, ImageFont, ImageOps

# axis name -> generation column
AXES = {"prompt": "prompt", "model": "model_key", "seed": "seed", "steps": "steps", "guidance": "guidance",
        "recipe": "recipe", "weights": "weights", "size": "size",  # size: `WxH` (with_size adds the column)
        "configuration": "config"}  # core.stats' label of every configuration axis (dtype, batch size, options ...)
NONE = "–"  # how a missing value (a seed an API did not take) shows
FIRST_CALL = "first call"


def _value(v: Any) -> Any:
    """A cell value as a plain, hashable Python value (NaN and None alike: None; 4.0 steps: 4)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def value_label(axis: str, value: Any) -> str:
    """How an axis value reads in headers: `seed 0`, `8 steps`, `cfg 4.5`, `tiny weights`; prompts as they are."""
    if value is None:
        return f"{axis} {NONE}" if axis not in ("prompt", "model") else NONE
    if axis == "seed":
        return f"seed {value}"
    if axis == "steps":
        return f"{int(value)} steps"
    if axis == "guidance":
        return f"cfg {value:g}"
    if axis == "weights":
        return f"{value} weights"
    return str(value)


def check_axes(x: str, y: str, z: str | None) -> None:
    """ValueError naming the field when an axis is unknown or used twice."""
    for name, axis in (("x", x), ("y", y), ("z", z)):
        if axis is not None and axis not in AXES:
            raise ValueError(f"{name}: unknown axis {axis!r}; allowed: {', '.join(AXES)}")
    chosen = [a for a in (x, y, z) if a is not None]
    if len(set(chosen)) < len(chosen):
        raise ValueError(f"axes: {', '.join(chosen)} uses an axis twice; x, y and z must differ")


def axis_values(rows: pd.DataFrame, axis: str) -> list[Any]:
    """The distinct values of an axis: prompts and models in the order the store first has them (lowest id),
    numbers ascending, missing values last."""
    column = AXES[axis]
    if rows.empty or column not in rows.columns:
        return []
    if axis == "size":  # fewest pixels first
        return sorted({_value(v) for v in rows[column]}, key=lambda v: (v is None, _pixels(v)))
    if axis in ("prompt", "model", "recipe", "weights", "configuration"):
        ordered = rows.sort_values("id", kind="stable") if "id" in rows.columns else rows
        values = list(dict.fromkeys(_value(v) for v in ordered[column]))
    else:
        values = sorted({_value(v) for v in rows[column]}, key=lambda v: (v is None, v if v is not None else 0))
    return values


def _pixels(size: str | None) -> int:
    try:
        width, height = str(size).split("×")
        return int(width) * int(height)
    except ValueError:
        return 0


def with_size(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with a `size` column (`1024×1024`) from width and height: the size axis."""
    if rows.empty:
        return rows.assign(size=pd.Series(dtype=object))
    return rows.assign(size=[f"{int(w)}×{int(h)}" if pd.notna(w) and pd.notna(h) else None
                             for w, h in zip(rows["width"], rows["height"])])


def varying_axes(rows: pd.DataFrame) -> list[str]:
    """Axes with more than one value in these rows (the ones worth putting on the grid)."""
    return [a for a in AXES if len(axis_values(rows, a)) > 1]


def default_axes(rows: pd.DataFrame) -> tuple[str, str, str | None]:
    """x, y, z to open on: model across and prompt down when they vary (the familiar matrix), the next varying
    axis as pages."""
    varying = varying_axes(rows)
    axes = ("model", "prompt", "seed", "steps", "guidance", "recipe", "weights", "size", "configuration")
    preferred = [a for a in axes if a in varying]
    rest = [a for a in axes if a not in preferred]
    order = preferred + rest
    return order[0], order[1], preferred[2] if len(preferred) > 2 else None


def axes_to_hold(rows: pd.DataFrame, x: str, y: str, z: str | None) -> list[str]:
    """The other axes that must be held at one value: those with more than one value within some cell. An axis
    that follows from x, y and z (each model's own default guidance and steps, with model an axis) needs none."""
    chosen = [AXES[a] for a in (x, y, z) if a is not None]
    out = []
    for axis in varying_axes(rows):
        if axis in (x, y, z):
            continue
        keyed = rows[chosen].map(_value).astype(str) if chosen else pd.DataFrame(index=rows.index)
        values = rows[AXES[axis]].map(_value).astype(str)
        spread = values.groupby([keyed[c] for c in keyed.columns] or [0] * len(rows)).nunique()
        if (spread > 1).any():
            out.append(axis)
    return out


def hold(rows: pd.DataFrame, x: str, y: str, z: str | None,
         pick: Callable[[str, list[Any]], Any]) -> dict[str, Any]:
    """Hold the other axes one at a time: `pick(axis, values)` chooses a value among those left after the axes
    held before it (a model held makes its own guidance no longer vary). Returns {axis: value}."""
    fixed: dict[str, Any] = {}
    while True:
        left = [a for a in axes_to_hold(rows, x, y, z) if a not in fixed]
        if not left:
            return fixed
        axis = left[0]
        values = axis_values(rows, axis)
        value = pick(axis, values)
        fixed[axis] = value if value in values else values[0]
        rows = rows[_matches(rows, axis, fixed[axis])]


def _matches(rows: pd.DataFrame, axis: str, value: Any) -> pd.Series:
    column = rows[AXES[axis]]
    if value is None:
        return column.isna()
    return column.map(_value) == value


def _preference(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted best first for a cell: ok, image 0, steady state, oldest."""
    order = pd.DataFrame({
        "failed": (rows["status"] != "ok").astype(int) if "status" in rows else 0,
        "index": rows["image_index"].fillna(0) if "image_index" in rows else 0,
        "first": rows["first_call"].fillna(False).astype(bool).astype(int) if "first_call" in rows else 0,
        "id": rows["id"] if "id" in rows else range(len(rows)),
    }, index=rows.index)
    return rows.loc[order.sort_values(["failed", "index", "first", "id"], kind="stable").index]


@dataclass
class Grid:
    """One page of the grid: the values across (x) and down (y), the page's z value, the axes held fixed, and
    per cell (column index, row index) the row shown and how many rows fell in it."""

    x: str
    y: str
    z: str | None
    x_values: list[Any]
    y_values: list[Any]
    z_value: Any = None
    fixed: dict[str, Any] = field(default_factory=dict)
    cells: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    counts: dict[tuple[int, int], int] = field(default_factory=dict)

    def cell(self, xi: int, yi: int) -> dict[str, Any] | None:
        return self.cells.get((xi, yi))

    def neighbours(self, xi: int, yi: int) -> dict[str, tuple[int, int]]:
        """The nearest filled cells left, right (along the row), up and down (along the column)."""
        out: dict[str, tuple[int, int]] = {}
        steps = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
        for name, (dx, dy) in steps.items():
            i, j = xi + dx, yi + dy
            while 0 <= i < len(self.x_values) and 0 <= j < len(self.y_values):
                if (i, j) in self.cells:
                    out[name] = (i, j)
                    break
                i, j = i + dx, j + dy
        return out

    def title(self) -> str:
        parts = [value_label(self.z, self.z_value)] if self.z else []
        parts += [value_label(a, v) for a, v in self.fixed.items() if a != "prompt"]
        parts += [f'prompt "{v}"' for a, v in self.fixed.items() if a == "prompt"]
        return " · ".join(parts)


def pivot(rows: pd.DataFrame, x: str, y: str, z: str | None = None, z_value: Any = None,
          fixed: dict[str, Any] | None = None) -> Grid:
    """Rows → one page of the grid (the rows where z is `z_value` and every `fixed` axis has its value)."""
    check_axes(x, y, z)
    fixed = dict(fixed or {})
    for axis in fixed:
        if axis not in AXES:
            raise ValueError(f"fixed: unknown axis {axis!r}; allowed: {', '.join(AXES)}")
    if z is not None:
        fixed[z] = z_value
    chosen = rows
    for axis, value in fixed.items():
        if not chosen.empty:
            chosen = chosen[_matches(chosen, axis, value)]
    grid = Grid(x=x, y=y, z=z, x_values=axis_values(rows, x), y_values=axis_values(rows, y), z_value=z_value,
                fixed={a: v for a, v in fixed.items() if a != z})
    if chosen.empty:
        return grid
    x_index = {v: i for i, v in enumerate(grid.x_values)}
    y_index = {v: i for i, v in enumerate(grid.y_values)}
    keys = list(zip(chosen[AXES[x]].map(_value), chosen[AXES[y]].map(_value)))
    for (xv, yv), group in _preference(chosen.assign(_x=[k[0] for k in keys], _y=[k[1] for k in keys])).groupby(
            ["_x", "_y"], sort=False, dropna=False):
        cell = (x_index[_value(xv)], y_index[_value(yv)])
        grid.cells[cell] = {k: _value(v) for k, v in group.iloc[0].drop(["_x", "_y"]).items()}
        grid.counts[cell] = len(group)
    return grid


def cell_caption(row: dict[str, Any], scores: dict[str, float] | None = None, n: int = 1) -> str:
    """`0.42 s · CLIP 0.31 · first call · 3 rows`: what a cell says under its image."""
    if row.get("status") != "ok":
        return str(row.get("status") or "failed")
    seconds = row.get("total_s")
    parts = [f"{seconds:.2f} s" if seconds is not None and seconds >= 0.995 else
             f"{seconds * 1000:.0f} ms" if seconds is not None else "time n/a"]
    parts += [f"{name} {value:.3g}" for name, value in (scores or {}).items() if value is not None]
    if row.get("first_call"):
        parts.append(FIRST_CALL)
    if n > 1:
        parts.append(f"{n} rows")
    return " · ".join(parts)


# ---- the PNG sheet -----------------------------------------------------------------------------------
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width_px: int, max_lines: int) -> list[str]:
    """Text wrapped to `width_px` (at most `max_lines`, the last one ending in … when cut)."""
    chars = max(4, int(width_px / max(1.0, draw.textlength("n", font=font))))
    lines = textwrap.wrap(text, width=chars) or [""]
    while any(draw.textlength(line, font=font) > width_px for line in lines) and chars > 4:
        chars -= 1
        lines = textwrap.wrap(text, width=chars) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:max(0, len(lines[-1]) - 1)] + "…"
    return lines


def sheet_png(grid: Grid, load_image: Callable[[dict[str, Any]], Image.Image | None],
              captions: dict[tuple[int, int], str] | None = None, *, cell_px: int = 256, title: str | None = None
              ) -> bytes:
    """One page of the grid as a PNG: a title, column labels across the top, row labels down the left, each
    cell's image (fitted to `cell_px`, aspect kept, scaled up or down) with its caption; a first call's caption in
    orange."""
    captions = captions or {}
    font, bold = _font(14), _font(16)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pad, line_h = 8, 18
    label_w = max(160, cell_px)
    head_lines = max([len(_wrap(probe, value_label(grid.x, v), font, cell_px - 2 * pad, 3)) for v in grid.x_values]
                     or [1])
    title_text = title if title is not None else " · ".join(
        p for p in (grid.title(), f"rows: {grid.y} · columns: {grid.x}") if p)
    title_h = (line_h + 2 * pad) if title_text else pad
    head_h = head_lines * line_h + 2 * pad
    caption_h = 2 * line_h + pad
    cell_h = cell_px + caption_h
    width = label_w + len(grid.x_values) * (cell_px + pad) + pad
    height = title_h + head_h + len(grid.y_values) * (cell_h + pad) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    if title_text:
        draw.text((pad, pad), _wrap(draw, title_text, bold, width - 2 * pad, 1)[0], fill="black", font=bold)
    top = title_h + head_h
    for i, value in enumerate(grid.x_values):
        left = label_w + i * (cell_px + pad)
        for k, line in enumerate(_wrap(draw, value_label(grid.x, value), font, cell_px - 2 * pad, 3)):
            draw.text((left + pad, title_h + pad + k * line_h), line, fill="black", font=font)
    for j, value in enumerate(grid.y_values):
        row_top = top + j * (cell_h + pad)
        max_lines = max(1, (cell_h - pad) // line_h)
        for k, line in enumerate(_wrap(draw, value_label(grid.y, value), font, label_w - 2 * pad, max_lines)):
            draw.text((pad, row_top + pad + k * line_h), line, fill="black", font=font)
        for i in range(len(grid.x_values)):
            left = label_w + i * (cell_px + pad)
            row = grid.cell(i, j)
            box = (left, row_top, left + cell_px - 1, row_top + cell_px - 1)
            image = load_image(row) if row is not None and row.get("status") == "ok" else None
            if image is not None:
                image = image.convert("RGB")
                # fitted to the cell, aspect kept; small images (tiny twins) scaled up with sharp pixels
                up = image.width < cell_px and image.height < cell_px
                thumb = ImageOps.contain(image, (cell_px, cell_px),
                                         method=Image.Resampling.NEAREST if up else Image.Resampling.LANCZOS)
                sheet.paste(thumb, (left + (cell_px - thumb.width) // 2, row_top + (cell_px - thumb.height) // 2))
            else:
                draw.rectangle(box, fill=(242, 242, 242), outline=(200, 200, 200))
                text = "no row" if row is None else ("image missing" if row.get("status") == "ok"
                                                     else str(row.get("status")))
                draw.text((left + pad, row_top + cell_px // 2 - line_h // 2), text, fill=(120, 120, 120), font=font)
            caption = captions.get((i, j)) or (cell_caption(row, n=grid.counts.get((i, j), 1)) if row else "")
            warm = FIRST_CALL in caption
            for k, line in enumerate(_wrap(draw, caption, font, cell_px, 2)):
                draw.text((left, row_top + cell_px + 2 + k * line_h), line, font=font,
                          fill=(200, 90, 0) if warm else (60, 60, 60))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def prompt_categories(rows: pd.DataFrame) -> list[str]:
    """Prompt categories in these rows (prompt sets in JSONL carry one), sorted; "" for prompts without."""
    if rows.empty or "category" not in rows.columns:
        return []
    return sorted({"" if _value(c) is None else str(c) for c in rows["category"]})


def by_category(rows: pd.DataFrame, categories: Sequence[str]) -> pd.DataFrame:
    """Rows whose prompt category is one of `categories` ("" stands for none); all rows when none are chosen."""
    if not categories or rows.empty:
        return rows
    column = rows["category"].map(lambda c: "" if _value(c) is None else str(c))
    return rows[column.isin(list(categories))]
