"""Speed-recipe figures: speedup per recipe, and quality delta against speedup (plain DataFrame -> Figure).

A speedup is eager's p50 seconds per call over the recipe's p50 for the same model × configuration in the same run
(core.stats.speedups: steady calls, first calls left out), never across runs or configurations; a recipe whose run has
no eager row of its configuration gets no bar, and the chart says how many and why. A lossy recipe (core.recipes:
fp8, cache ...) is shown only with its quality delta against eager (median PSNR and SSIM of its rows): one without a
stored delta is left out, and the chart's note says how many were.
"""
from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from core.stats import speedups
from core.recipes import RECIPES
from dashboard.chart_style import empty_figure, layout, model_colors, trace

IDENTICAL_DB = 100.0  # where an identical image (PSNR inf) is drawn
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon")


def lossless(recipe: str) -> bool:
    """Whether `recipe` changes no math beyond bf16 rounding (an unknown name counts as lossy)."""
    return recipe in RECIPES and RECIPES[recipe].lossless


def recipe_speedups(df: pd.DataFrame | None) -> pd.DataFrame:
    """core.stats.speedups with `lossless` and a `label` (model · configuration, and the run where several runs show)."""
    out = speedups(df)
    out["lossless"] = out["recipe"].map(lossless).astype(bool)
    several = out["run_id"].nunique() > 1
    out["label"] = [f"{m} · {c}" + (f" · run {int(r)}" if several else "")
                    for m, c, r in zip(out["model_key"], out["config"], out["run_id"])]
    return out


def _shown(table: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """The rows the dashboard may show: with a same-run eager p50, lossless or with their PSNR; and how many were
    left out for want of a delta, and for want of eager in their run."""
    measured = table["speedup"].notna()
    keep = measured & (table["lossless"].astype(bool) | table["psnr_db"].notna())
    return table[keep], int((measured & ~keep).sum()), int((~measured).sum())


def _no_eager_note(count: int) -> str:
    return (f"; {count} recipe result(s) without a bar: their run has no steady eager row of the same configuration "
            "(a speedup compares within one run: run eager and the recipe in one sweep)" if count else "")


def _psnr_text(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no delta"
    return "identical" if math.isinf(value) else f"{value:.1f} dB"


def _hidden_note(hidden: int) -> str:
    return (f"; {hidden} lossy result(s) left out: no quality delta against eager stored (run eager in the same "
            "sweep, or before)" if hidden else "")


def speedup_by_recipe(df: pd.DataFrame | None, log: bool = False) -> go.Figure:
    """Bars of speedup against eager (p50), one row per model × configuration, one bar per recipe; lossy bars
    carry their median PSNR against eager."""
    title = "Speedup per recipe against eager"
    speedups, hidden, no_eager = _shown(recipe_speedups(df))
    if speedups.empty:
        return empty_figure(title, "No recipe other than eager at a configuration where eager ran in the same run"
                            + (f" ({hidden} lossy result(s) without a quality delta left out)." if hidden else ". "
                               "Run e.g. `python -m core.bench --recipe eager,compile`.") + _no_eager_note(no_eager))
    traces = []
    order = {name: i for i, name in enumerate(RECIPES)}  # the registry's order: compile before the lossy ones
    for recipe, g in sorted(speedups.groupby("recipe"), key=lambda item: order.get(item[0], len(order))):
        text = ["" if lossless(recipe) else _psnr_text(v) for v in g["psnr_db"]]
        traces.append(trace(
            "bar", x=g["speedup"], y=g["label"], orientation="h", name=recipe + ("" if lossless(recipe) else " (lossy)"),
            text=[f"×{s:.2f}" + (f" · {t}" if t else "") for s, t in zip(g["speedup"], text)], textposition="auto",
            marker=dict(pattern=dict(shape="" if lossless(recipe) else "/")),
            customdata=list(zip(g["p50_s"], g["eager_p50_s"], g["n"], [_psnr_text(v) for v in g["psnr_db"]],
                                g["ssim"].fillna(float("nan")))),
            hovertemplate=(f"%{{y}} · {recipe}<br>×%{{x:.2f}}: p50 %{{customdata[0]:.3f}} s vs eager "
                           "%{customdata[1]:.3f} s<br>PSNR %{customdata[3]} · SSIM %{customdata[4]:.4f}"
                           "<br>n=%{customdata[2]}<extra></extra>")))
    rows = speedups["label"].nunique()
    note = ("eager's p50 seconds per call over the recipe's, same model × configuration, same run (first calls left "
            "out); lossy recipes hatched, with their median PSNR against eager" + _hidden_note(hidden)
            + _no_eager_note(no_eager))
    fig = layout(traces, title, "speedup against eager (×)", "", note=note, barmode="group",
                 height=max(340, 26 * rows * max(1, speedups["recipe"].nunique()) + 170), margin=dict(l=10))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.add_vline(x=1.0, line=dict(color="#888", dash="dot"))
    if log:
        fig.update_xaxes(type="log")
    return fig


def quality_vs_speedup(df: pd.DataFrame | None, log: bool = False) -> go.Figure:
    """PSNR against eager (median) over speedup, one point per model × configuration × recipe; identical images
    sit on a line at the top."""
    title = "Quality against speed: PSNR against eager over speedup"
    speedups, hidden, no_eager = _shown(recipe_speedups(df))
    speedups = speedups[speedups["psnr_db"].notna()]
    if speedups.empty:
        return empty_figure(title, "No recipe row with a quality delta against eager yet"
                            + (f" ({hidden} lossy result(s) without one)." if hidden else "."))
    colors = model_colors(speedups["model_key"])
    symbols = {r: SYMBOLS[i % len(SYMBOLS)] for i, r in enumerate(sorted(speedups["recipe"].unique()))}
    traces = []
    for (model, recipe), g in speedups.groupby(["model_key", "recipe"], sort=True):
        y = [IDENTICAL_DB if math.isinf(v) else v for v in g["psnr_db"]]
        traces.append(trace(
            "scatter", x=g["speedup"], y=y, mode="markers", name=f"{model} · {recipe}",
            marker=dict(size=11, color=colors[model], symbol=symbols[recipe]),
            customdata=list(zip(g["config"], [_psnr_text(v) for v in g["psnr_db"]], g["ssim"])),
            hovertemplate=(f"{model} · {recipe}<br>%{{customdata[0]}}<br>×%{{x:.2f}} · PSNR %{{customdata[1]}} · "
                           "SSIM %{customdata[2]:.4f}<extra></extra>")))
    note = (f"median PSNR of the recipe's images against eager's (same job) over eager p50 / recipe p50; identical "
            f"images drawn at {IDENTICAL_DB:.0f} dB; higher and further right is better" + _hidden_note(hidden)
            + _no_eager_note(no_eager))
    fig = layout(traces, title, "speedup against eager (×)", "PSNR against eager (dB)", note=note)
    fig.add_vline(x=1.0, line=dict(color="#888", dash="dot"))
    if log:
        fig.update_xaxes(type="log")
    return fig
