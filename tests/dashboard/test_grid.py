"""The X/Y/Z grid's plain functions (dashboard.grid): axes, pivoting one page, the row a cell shows, neighbours,
captions and the PNG sheet, without Streamlit."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from PIL import Image

from dashboard import grid


def _rows() -> pd.DataFrame:
    """2 models x 2 prompts x 2 seeds x 2 step counts; sdxl, "a dog", seed 1, 4 steps failed; sd21, "a cat",
    seed 0, 2 steps was timed twice (its first call, then steady state)."""
    rows, i = [], 0
    for model in ("sdxl", "sd21"):
        for prompt, category in (("a dog", "animals"), ("a cat", None)):
            for seed in (1, 0):
                for steps in (4, 2):
                    i += 1
                    failed = (model, prompt, seed, steps) == ("sdxl", "a dog", 1, 4)
                    rows.append(dict(id=i, model_key=model, prompt=prompt, category=category, seed=seed, steps=steps,
                                     guidance=4.5, recipe="eager", weights="tiny", status="failed" if failed else "ok",
                                     error="RuntimeError: boom" if failed else None, image_index=0,
                                     first_call=(model, prompt, seed, steps) == ("sd21", "a cat", 0, 2),
                                     total_s=None if failed else 0.1 * i, image_path=f"{i}.png"))
    rows.append({**rows[-1], "id": 99, "model_key": "sd21", "prompt": "a cat", "category": None, "seed": 0,
                 "steps": 2, "first_call": False, "total_s": 0.05, "status": "ok", "image_path": "99.png"})
    return pd.DataFrame(rows)


def test_axes_in_store_order_numbers_ascending():
    rows = _rows()
    assert grid.axis_values(rows, "model") == ["sdxl", "sd21"]  # the order the store first has them
    assert grid.axis_values(rows, "prompt") == ["a dog", "a cat"]
    assert grid.axis_values(rows, "seed") == [0, 1] and grid.axis_values(rows, "steps") == [2, 4]
    assert grid.varying_axes(rows) == ["prompt", "model", "seed", "steps"]
    assert grid.default_axes(rows) == ("model", "prompt", "seed")
    assert grid.value_label("guidance", 4.5) == "cfg 4.5" and grid.value_label("steps", 4.0) == "4 steps"
    assert grid.value_label("seed", None) == "seed –"


def test_bad_axes_name_the_field():
    with pytest.raises(ValueError, match="x: unknown axis 'colour'; allowed: prompt, model"):
        grid.pivot(_rows(), "colour", "prompt")
    with pytest.raises(ValueError, match="axes: model, prompt, model uses an axis twice"):
        grid.pivot(_rows(), "model", "prompt", "model")


def test_pivot_one_page_holds_the_other_axes_and_picks_one_row_per_cell():
    page = grid.pivot(_rows(), "model", "prompt", "seed", 0, fixed={"steps": 2})
    assert page.x_values == ["sdxl", "sd21"] and page.y_values == ["a dog", "a cat"]
    assert len(page.cells) == 4 and page.title() == "seed 0 · 2 steps"
    assert {r["seed"] for r in page.cells.values()} == {0} and {r["steps"] for r in page.cells.values()} == {2}
    # sd21 x "a cat" has two rows: the steady-state one is shown, and the cell says it holds two
    cell = page.cell(1, 1)
    assert cell["id"] == 99 and not cell["first_call"] and page.counts[(1, 1)] == 2
    # the failure is a cell too
    failed = grid.pivot(_rows(), "model", "prompt", "seed", 1, fixed={"steps": 4}).cell(0, 0)
    assert failed["status"] == "failed"


def test_a_first_call_is_shown_and_marked_when_it_is_the_only_row():
    rows = _rows()
    rows = rows[rows["id"] != 99]
    cell = grid.pivot(rows, "model", "prompt", "seed", 0, fixed={"steps": 2}).cell(1, 1)
    assert cell["first_call"]
    assert grid.cell_caption(cell, {"CLIP": 0.3123}) == "1.60 s · CLIP 0.312 · first call"  # row 16
    assert grid.cell_caption({"status": "ok", "total_s": 0.05}, n=3) == "50 ms · 3 rows"
    assert grid.cell_caption({"status": "failed"}) == "failed"


def test_neighbours_skip_empty_cells_along_the_row_and_column():
    rows = pd.DataFrame([dict(id=i, model_key=m, prompt=p, seed=0, steps=2, guidance=1.0, recipe="eager",
                              weights="tiny", status="ok", image_index=0, first_call=False, total_s=1.0)
                         for i, (m, p) in enumerate([("a", "p1"), ("b", "p1"), ("c", "p1"), ("a", "p2"), ("c", "p3")])])
    page = grid.pivot(rows, "model", "prompt")
    assert page.neighbours(0, 0) == {"right": (1, 0), "down": (0, 1)}
    assert page.neighbours(2, 0) == {"left": (1, 0), "down": (2, 2)}  # c x p2 is empty: down goes on to p3
    assert page.neighbours(0, 1) == {"up": (0, 0)}  # nothing right of a x p2 in its row


def test_categories_filter_rows():
    rows = _rows()
    assert grid.prompt_categories(rows) == ["", "animals"]
    assert set(grid.by_category(rows, ["animals"])["prompt"]) == {"a dog"}
    assert set(grid.by_category(rows, [""])["prompt"]) == {"a cat"}
    assert len(grid.by_category(rows, [])) == len(rows)


def test_sheet_is_one_png_with_every_cell_and_its_labels():
    rows = _rows()
    page = grid.pivot(rows, "model", "prompt", "seed", 0, fixed={"steps": 2})
    colours = {"sdxl": (200, 30, 30), "sd21": (30, 30, 200)}

    def load(row):
        return Image.new("RGB", (64, 32), colours[row["model_key"]])  # 2:1 images keep their aspect

    png = grid.sheet_png(page, load, cell_px=100)
    sheet = Image.open(io.BytesIO(png))
    assert sheet.format == "PNG"
    label_w, pad = 160, 8
    assert sheet.width == label_w + 2 * (100 + pad) + pad
    pixels = sheet.convert("RGB")
    # each image fills its column's 100 px (2:1: 100 x 50), centred vertically in its cell
    row_tops = [y for y in range(sheet.height) if pixels.getpixel((label_w + 50, y)) == colours["sdxl"]]
    assert row_tops and pixels.getpixel((label_w + (100 + pad) + 50, row_tops[0])) == colours["sd21"]
    assert len(row_tops) == 2 * 50  # two rows of images, 50 px tall each
    # labels are drawn: dark pixels left of the images (row labels) and above them (column labels)
    dark = lambda xs, ys: any(pixels.getpixel((x, y))[0] < 100 for x in xs for y in ys)  # noqa: E731
    assert dark(range(pad, label_w - pad), range(row_tops[0] - 25, row_tops[0]))
    assert dark(range(label_w, label_w + 100), range(0, row_tops[0] - 40))
    # a missing image leaves a grey box, not a crash
    png = grid.sheet_png(page, lambda row: None, cell_px=100)
    assert Image.open(io.BytesIO(png)).size == sheet.size


def test_only_axes_that_vary_within_a_cell_are_held_one_after_the_other():
    rows = _rows()
    rows.loc[rows["model_key"] == "sd21", "guidance"] = 7.5  # each model's own default guidance
    assert grid.axes_to_hold(rows, "model", "prompt", "seed") == ["steps"]  # guidance follows from the model
    assert grid.axes_to_hold(rows, "prompt", "seed", None) == ["model", "steps", "guidance"]
    asked = []

    def pick(axis, values):
        asked.append((axis, values))
        return values[-1]

    # model held first (at sd21): its guidance no longer varies, so it is not asked for
    assert grid.hold(rows, "prompt", "seed", None, pick) == {"model": "sd21", "steps": 4}
    assert asked == [("model", ["sdxl", "sd21"]), ("steps", [2, 4])]
    assert grid.hold(rows, "prompt", "seed", None, lambda axis, values: "gone") == {"model": "sdxl", "steps": 2}


def test_size_is_an_axis_fewest_pixels_first():
    rows = grid.with_size(_rows().assign(width=[1024 if i % 2 else 512 for i in range(17)], height=512))
    assert grid.axis_values(rows, "size") == ["512×512", "1024×512"]
    assert "size" in grid.varying_axes(rows)
    page = grid.pivot(rows, "size", "model", "prompt", "a cat", fixed={"seed": 0, "steps": 2})
    # sd21 x "a cat" ran at both sizes (rows 16 and 99): one cell each; sdxl at 1024×512 only
    assert page.x_values == ["512×512", "1024×512"] and page.y_values == ["sdxl", "sd21"]
    assert {c: r["id"] for c, r in page.cells.items()} == {(1, 0): 8, (0, 1): 99, (1, 1): 16}
    assert grid.with_size(_rows().iloc[:0])["size"].empty


def test_two_configurations_of_a_model_are_held_apart_never_pooled():
    rows = _rows()
    rows = rows[(rows["steps"] == 2) & (rows["id"] != 99)]
    rows = pd.concat([rows.assign(config="fp32"), rows.assign(config="bf16", id=rows["id"] + 100)])
    assert grid.axes_to_hold(rows, "model", "prompt", "seed") == ["configuration"]
    page = grid.pivot(rows, "model", "prompt", "seed", 0, fixed={"configuration": "bf16"})
    assert {r["config"] for r in page.cells.values()} == {"bf16"} and set(page.counts.values()) == {1}
