"""Speed-recipe charts: speedup against eager of the same configuration, never a lossy speedup without its delta."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard import charts
from dashboard.chart_recipes import IDENTICAL_DB, recipe_speedups


def _rows(model, recipe, seconds, *, width=1024, steps=20, psnr=None, ssim=None, first=False):
    return [dict(model_key=model, recipe=recipe, status="ok", weights="random", width=width, height=width, steps=steps,
                 total_s=s, first_call=first, psnr_db=psnr, ssim=ssim, compile_s=None) for s in seconds]


@pytest.fixture
def frame():
    rows = (_rows("sdxl", "eager", [2.0, 2.4, 2.2]) + _rows("sdxl", "eager", [30.0], first=True)
            + _rows("sdxl", "compile", [1.0, 1.1, 1.2], psnr=math.inf, ssim=1.0)
            + _rows("flux-dev", "eager", [5.0, 5.2]) + _rows("flux-dev", "cache", [2.5, 2.5], psnr=31.0, ssim=0.9)
            + _rows("flux-dev", "compile+fp8", [2.9], psnr=None)  # lossy without a delta: never shown
            + _rows("flux-dev", "compile", [4.0], width=512)  # no eager at 512: no speedup
            + _rows("sana15-1.6b", "eager", [1.0], steps=10) + _rows("sana15-1.6b", "compile", [0.5], steps=20))
    return pd.DataFrame(rows)


def test_speedups_are_against_eager_of_the_same_configuration(frame):
    table = recipe_speedups(frame)
    measured = table[table["speedup"].notna()]
    got = {(r.model_key, r.recipe): r for r in measured.itertuples()}
    assert set(got) == {("sdxl", "compile"), ("flux-dev", "cache"), ("flux-dev", "compile+fp8")}
    # no eager of the configuration: no speedup, and the reason
    unmeasured = table[table["speedup"].isna()]
    assert set(zip(unmeasured["model_key"], unmeasured["recipe"])) == {("flux-dev", "compile"), ("sana15-1.6b", "compile")}
    assert all("no steady eager row" in r for r in unmeasured["no_speedup_reason"])
    assert got["sdxl", "compile"].speedup == pytest.approx(2.2 / 1.1)  # first call (30 s) left out of eager
    assert got["sdxl", "compile"].lossless and math.isinf(got["sdxl", "compile"].psnr_db)
    assert got["flux-dev", "cache"].speedup == pytest.approx(5.1 / 2.5) and not got["flux-dev", "cache"].lossless
    assert got["flux-dev", "cache"].config == "1024×1024 · 20 steps"


def test_the_speedup_is_the_same_run_ratio_never_eager_of_another_run():
    """The repro of issue 17: older eager rows (another run, another day) must not make a recipe look faster or slower."""
    old = [{**r, "run_id": 1} for r in _rows("sdxl", "eager", [0.15, 0.15, 0.15])]
    run = ([{**r, "run_id": 2} for r in _rows("sdxl", "eager", [0.021, 0.020, 0.022])]
           + [{**r, "run_id": 2} for r in _rows("sdxl", "eager", [3.0], first=True)]
           + [{**r, "run_id": 2} for r in _rows("sdxl", "compile", [0.112, 0.110, 0.115], psnr=math.inf, ssim=1.0)])
    table = recipe_speedups(pd.DataFrame(old + run))
    assert list(table["speedup"]) == [pytest.approx(0.021 / 0.112)]  # ×0.19, as the run's own summary says
    fig = charts.speedup_by_recipe(pd.DataFrame(old + run))
    assert list(fig.data[0].x) == [pytest.approx(0.021 / 0.112)]
    only_compile = pd.DataFrame([r for r in old + run if not (r["run_id"] == 2 and r["recipe"] == "eager")])
    empty = charts.speedup_by_recipe(only_compile)
    assert not empty.data and "has no steady eager row of the same configuration" in empty.layout.annotations[0].text


def test_a_lossy_speedup_never_shows_without_its_delta(frame):
    fig = charts.speedup_by_recipe(frame)
    names = [t.name for t in fig.data]
    assert names == ["compile", "cache (lossy)"]
    cache = fig.data[1]
    assert list(cache.text) == ["×2.04 · 31.0 dB"] and cache.marker.pattern.shape == "/"
    assert "1 lossy result(s) left out" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "speedup against eager (×)"


def test_quality_against_speedup_draws_identical_images_at_the_top(frame):
    fig = charts.quality_vs_speedup(frame, log=True)
    points = {t.name: (list(t.x), list(t.y)) for t in fig.data}
    assert points["sdxl · compile"] == ([pytest.approx(2.0)], [IDENTICAL_DB])
    assert points["flux-dev · cache"] == ([pytest.approx(5.1 / 2.5)], [31.0])
    assert "flux-dev · compile+fp8" not in points
    assert fig.layout.yaxis.title.text == "PSNR against eager (dB)" and fig.layout.xaxis.type == "log"


def test_without_recipes_the_charts_say_why(frame):
    eager_only = frame[frame["recipe"] == "eager"]
    assert "No recipe other than eager" in charts.speedup_by_recipe(eager_only).layout.annotations[0].text
    assert "No recipe row with a quality delta" in charts.quality_vs_speedup(eager_only).layout.annotations[0].text
    assert recipe_speedups(None).empty and recipe_speedups(frame.drop(columns="recipe")).empty


def test_other_charts_keep_recipes_apart(frame):
    fig = charts.latency_by_model(frame)
    labels = {y for t in fig.data for y in t.y}
    assert "sdxl · 1024×1024 · 20 steps" in labels and "sdxl · 1024×1024 · 20 steps · compile" in labels
