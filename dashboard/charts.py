"""Figure builders: plain functions from a DataFrame of generation rows to a Plotly figure.

Nothing is pooled over configurations: every statistic is per model × configuration (core.jobs.Configuration:
weights, size, steps, guidance, dtype, recipe, batch size ...), computed by core.stats as for the CLI summary and
export, and each chart's note says what it holds. Times are steady state: rows flagged `first_call` (warm-up after a load) are left out. Each builder takes
the store's column names, never imports Streamlit, takes `log` (value axis on a log scale), and returns a figure
with a title and labelled axes; a frame with nothing to plot gives an empty figure that says why.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core import stats
from core.stats import has_repeats, steady
from dashboard.chart_atlas import atlas_figure  # noqa: F401 - one import place for every figure
from dashboard.chart_recipes import quality_vs_speedup, speedup_by_recipe  # noqa: F401
from dashboard.chart_style import empty_figure, flop_unit, layout, model_colors, trace

# Stage columns in pipeline order, with the names people read.
STAGES: tuple[tuple[str, str], ...] = (
    ("text_encode_s", "Text encoding"),
    ("prior_s", "Prior (Cascade)"),
    ("denoise_s", "Denoising"),
    ("decoder_s", "Decoder (Cascade)"),
    ("decode_s", "VAE decode"),
)
ROW_PX = 20  # height of one model × configuration row in horizontal charts
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon")


def _ok(df: pd.DataFrame | None, *columns: str) -> pd.DataFrame:
    """ok rows where every named column has a value (all rows, first calls included)."""
    if df is None or df.empty or any(c not in df.columns for c in columns):
        return pd.DataFrame(columns=list(columns))
    out = df[df["status"] == "ok"] if "status" in df.columns else df
    return out.dropna(subset=list(columns))


def _steady(df: pd.DataFrame | None, *columns: str) -> tuple[pd.DataFrame, int]:
    """ok rows with the columns, first calls left out; and how many first calls were left out."""
    data = _ok(df, "model_key", "total_s", *columns)
    kept = steady(data) if not data.empty else data
    return kept, len(data) - len(kept)


def _spread_note(df: pd.DataFrame) -> str:
    if has_repeats(df):
        return "spread over repeats of each job"
    return "spread over the configuration's prompts and seeds (no repeats stored)"


def _first_note(dropped: int) -> str:
    return f"; {dropped:,} first call(s) after load left out (warm-up)" if dropped else ""


def _row_labels(frame: pd.DataFrame) -> list[str]:
    return [f"{m} · {c}" for m, c in zip(frame["model_key"], frame["config"])]


def _per_config(data: pd.DataFrame, agg: dict, p90: str | None = None) -> pd.DataFrame:
    """Aggregate per model × configuration (core.stats), with a `config` label."""
    return stats.aggregate(data, agg, p90=p90)


def _horizontal(traces: list[dict], rows: int, title: str, value_axis: str, note: str, log: bool) -> go.Figure:
    # Each row is labelled with its model: no legend, the plot keeps the width (colours as on every chart).
    fig = layout(traces, title, value_axis, "", note=note, height=max(340, ROW_PX * rows + 170), showlegend=False,
                 margin=dict(l=10))
    fig.update_yaxes(autorange="reversed", automargin=True)
    if log:
        fig.update_xaxes(type="log")
    return fig


# ---- latency ---------------------------------------------------------------------------------------
def latency_by_model(df: pd.DataFrame, log: bool = False) -> go.Figure:
    """p50 (dot) and p90 (whisker) seconds per call, one row per model × configuration, fastest model first."""
    title = "Latency per model and configuration"
    data, dropped = _steady(df)
    if data.empty:
        return empty_figure(title, "No successful generations with a measured time yet"
                            + (" (only first calls after load, which are left out)." if dropped else "."))
    summary = stats.config_table(data)
    summary = summary[summary["n"] > 0]
    order = list(summary.groupby("model_key")["p50_s"].min().sort_values().index)
    summary = summary.assign(_o=summary["model_key"].map(order.index)).sort_values(["_o", "p50_s"])
    summary["label"] = _row_labels(summary)
    colors = model_colors(summary["model_key"])
    traces: list[dict] = []
    for key in order:
        g = summary[summary["model_key"] == key]
        traces.append(trace(
            "scatter",
            x=g["p50_s"], y=g["label"], mode="markers", name=key, marker=dict(size=10, color=colors[key]),
            error_x=dict(type="data", array=g["p90_s"] - g["p50_s"], arrayminus=[0] * len(g), thickness=2, width=6,
                         color=colors[key]),
            customdata=list(zip(g["p90_s"], g["n"])),
            hovertemplate="%{y}<br>p50 %{x:.3f} s · p90 %{customdata[0]:.3f} s<br>n=%{customdata[1]}<extra></extra>"))
    note = f"dot p50, whisker to p90 of seconds per call; {_spread_note(data)}{_first_note(dropped)}"
    return _horizontal(traces, len(summary), title, "seconds per call (total_s)", note, log)


def stage_breakdown(df: pd.DataFrame, log: bool = False) -> go.Figure:
    """Median seconds per stage, stacked, per model × configuration; what the stages do not cover is 'other'."""
    title = "Time per stage"
    data, dropped = _steady(df)
    stages = [(c, label) for c, label in STAGES if c in data.columns and data[c].notna().any()]
    if stages:  # models without stage timings (API models) are left out
        data = data[data[[c for c, _ in stages]].notna().any(axis=1)]
    if data.empty or not stages:
        return empty_figure(title, "No per-stage timings yet.")
    if {"prior_s", "decoder_s"} & {c for c, _ in stages} and "denoise_s" in data.columns:
        # Two-stage models store denoise_s = prior_s + decoder_s: stack the parts, not the sum too.
        split = [c for c in ("prior_s", "decoder_s") if c in data.columns]
        data = data.copy()
        data.loc[data[split].notna().any(axis=1), "denoise_s"] = None
    columns = [c for c, _ in stages]
    med = stats.medians(data, columns + ["total_s", "other_s"])
    med = med.sort_values(["model_key", "total_s"])
    med["label"] = _row_labels(med)
    traces: list[dict] = []
    for column, label in stages:
        traces.append(trace("bar", y=med["label"], x=med[column], name=label, orientation="h",
                             hovertemplate=f"%{{y}}<br>{label}: %{{x:.3f}} s<extra></extra>"))
    traces.append(trace("bar", y=med["label"], x=med["other_s"], name="Other", orientation="h", marker=dict(color="#BBBBBB"),
                         hovertemplate="%{y}<br>other (scheduler, Python, copies): %{x:.3f} s<extra></extra>"))
    fig = _horizontal(traces, len(med), title, "median seconds per call",
                      "median of each stage per model × configuration; other = median over calls of (total − its stages)"
                      + _first_note(dropped), log)
    fig.update_layout(dict(barmode="stack", showlegend=True, legend=dict(title=dict(text="stage"))))
    return fig


# ---- compute ---------------------------------------------------------------------------------------
def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Points no other point beats on both x and y (lower is better on both), sorted by x."""
    if points.empty:
        return points
    ordered = points.sort_values([x, y])
    keep, best_y = [], float("inf")
    for idx, value in ordered[y].items():
        if value < best_y:
            keep.append(idx)
            best_y = value
    return ordered.loc[keep]


def flops_vs_latency(df: pd.DataFrame, log: bool = False) -> go.Figure:
    """FLOPs per call against p50 latency, one point per model × configuration, with the Pareto front."""
    title = "FLOPs against latency, with the Pareto front"
    data, dropped = _steady(df, "flops_total")
    if data.empty:
        return empty_figure(title, "No FLOP counts stored yet (profiling adds flops_total to each generation).")
    points = _per_config(data, {"flops": ("flops_total", "median"), "seconds": ("total_s", "median"),
                                "n": ("total_s", "size")})
    unit, scale = flop_unit(points["flops"].median())
    points["flops_scaled"] = points["flops"] / scale
    points["label"] = _row_labels(points)
    colors = model_colors(points["model_key"])
    traces: list[dict] = []
    for key, group in points.groupby("model_key"):
        traces.append(trace(
            "scatter",
            x=group["flops_scaled"], y=group["seconds"], mode="markers", name=key, text=group["label"],
            customdata=group["n"], marker=dict(size=11, color=colors[key]),
            hovertemplate=f"%{{text}}<br>%{{x:.3g}} {unit}<br>p50 %{{y:.3f}} s<br>n=%{{customdata}}<extra></extra>"))
    front = pareto_front(points, "flops_scaled", "seconds")
    name = "Pareto front" if len(front) > 1 else "Pareto front (one point beats all)"
    traces.append(trace(
            "scatter",
        x=front["flops_scaled"], y=front["seconds"], mode="lines+markers", name=name, text=front["label"],
        line=dict(color="#111", dash="dash", width=2, shape="hv"),
        marker=dict(size=20, color="rgba(0,0,0,0)", line=dict(color="#111", width=2.5)),
        hovertemplate="on the front: %{text}<extra></extra>"))
    note = ("one point per model × configuration (p50 seconds); circled: the front, where nothing is both "
            "cheaper and faster" + _first_note(dropped))
    fig = layout(traces, title, f"FLOPs per call ({unit}, FLOPs = 2 × MACs)", "p50 seconds per call", note=note,
                 legend="model", log_y=log, height=520, legend_orientation="h", legend_yanchor="top", legend_y=-0.15,
                 legend_x=0)
    if points["flops_scaled"].max() > 100 * max(points["flops_scaled"].min(), 1e-12):
        fig.update_xaxes(type="log")
    return fig


def mfu_by_model(df: pd.DataFrame, log: bool = False) -> go.Figure:
    """Model FLOPs utilisation (p50, whisker to p90) per model × configuration, in % of the bf16 dense peak."""
    title = "MFU per model and configuration"
    data, dropped = _steady(df, "mfu")
    if data.empty:
        return empty_figure(title, "No MFU stored yet (needs FLOP counts and a GPU).")
    data = data.assign(mfu_pct=data["mfu"] * 100 if data["mfu"].max() <= 1.5 else data["mfu"])
    stats = _per_config(data, {"p50": ("mfu_pct", "median"), "n": ("mfu_pct", "size")}, p90="mfu_pct")
    stats = stats.sort_values(["model_key", "p50"], ascending=[True, False])
    stats["label"] = _row_labels(stats)
    colors = model_colors(stats["model_key"])
    traces: list[dict] = []
    for key, g in stats.groupby("model_key", sort=False):
        traces.append(trace(
            "scatter",
            x=g["p50"], y=g["label"], mode="markers", name=key, marker=dict(size=10, color=colors[key]),
            error_x=dict(type="data", array=g["p90"] - g["p50"], arrayminus=[0] * len(g), color=colors[key]),
            customdata=g["n"], hovertemplate="%{y}<br>p50 %{x:.1f} %<br>n=%{customdata}<extra></extra>"))
    note = "achieved FLOP/s over the device's bf16 dense peak; dot p50, whisker to p90" + _first_note(dropped)
    return _horizontal(traces, len(stats), title, "MFU (%)", note, log)


# ---- memory and cost -------------------------------------------------------------------------------
def peak_memory_by_model(df: pd.DataFrame, log: bool = False) -> go.Figure:
    """Highest peak GPU memory per model × configuration (first calls included: loading counts)."""
    title = "Peak GPU memory per model and configuration"
    data = _ok(df, "model_key", "peak_mem_gb")
    if data.empty:
        return empty_figure(title, "No GPU memory measured (generations on CPU record none).")
    stats = _per_config(data, {"max": ("peak_mem_gb", "max"), "mean": ("peak_mem_gb", "mean"),
                               "n": ("peak_mem_gb", "size")}).sort_values(["model_key", "max"])
    stats["label"] = _row_labels(stats)
    colors = model_colors(stats["model_key"])
    traces: list[dict] = []
    for key, g in stats.groupby("model_key", sort=False):
        traces.append(trace("bar", y=g["label"], x=g["max"], name=key, orientation="h", marker=dict(color=colors[key]),
                             text=[f"{v:.1f}" for v in g["max"]], textposition="outside", cliponaxis=False,
                             customdata=list(zip(g["mean"], g["n"])),
                             hovertemplate="%{y}<br>max %{x:.2f} GB · mean %{customdata[0]:.2f} GB<br>"
                                           "n=%{customdata[1]}<extra></extra>"))
    return _horizontal(traces, len(stats), title, "peak GPU memory (GB)",
                       "highest peak over the configuration's calls", log)


def cost_per_image(df: pd.DataFrame, log: bool = False) -> go.Figure:
    """Mean USD per image per model × configuration: APIs' list prices, and open models' GPU-time estimate
    (`cost_est_usd` = total_s × USD per GPU-hour / 3600), drawn hatched and labelled as an estimate."""
    title = "Cost per image (USD)"
    frames = []
    api = _ok(df, "model_key", "cost_usd")
    if not api.empty:
        # rows already aggregated per configuration carry their image count in `n`
        counted = "n" in api.columns and api["n"].notna().all()
        frames.append(_per_config(api, {"usd": ("cost_usd", "mean"), "n": ("n", "sum") if counted else
                                        ("cost_usd", "size")}).assign(kind="list price"))
    if df is not None and "cost_est_usd" in df.columns:
        est = steady(_ok(df, "model_key", "cost_est_usd"))
        if "cost_usd" in est.columns:
            est = est[est["cost_usd"].isna()]
        if not est.empty:
            frames.append(_per_config(est, {"usd": ("cost_est_usd", "mean"), "n": ("cost_est_usd", "size")})
                          .assign(kind="estimate"))
    if not frames:
        return empty_figure(title, "No priced generations yet (API models record their list price; open models "
                                   "get an estimate on a GPU with a known or configured $ per GPU-hour).")
    stats = pd.concat(frames, ignore_index=True).sort_values("usd")
    stats["label"] = [f"{lab} (estimate)" if k == "estimate" else lab
                      for lab, k in zip(_row_labels(stats), stats["kind"])]
    colors = model_colors(stats["model_key"])
    traces: list[dict] = []
    for key, g in stats.groupby("model_key", sort=False):
        traces.append(trace(
            "bar",
            y=g["label"], x=g["usd"], name=key, orientation="h",
            marker=dict(color=colors[key], pattern=dict(shape=["/" if k == "estimate" else "" for k in g["kind"]])),
            text=[f"${v:.4f}" for v in g["usd"]], textposition="outside", cliponaxis=False,
            customdata=list(zip(g["kind"], g["n"])),
            hovertemplate="%{y}<br>$%{x:.5f} per image (%{customdata[0]})<br>n=%{customdata[1]}<extra></extra>"))
    note = ("solid: the APIs' list prices; hatched: open models' estimate = seconds per call × $ per GPU-hour / 3600 "
            "(IGCS_GPU_HOUR_USD or the GPU's documented default)")
    fig = _horizontal(traces, len(stats), title, "USD per image", note, log)
    fig.update_yaxes(categoryorder="array", categoryarray=list(stats["label"]))
    return fig


# ---- scaling ---------------------------------------------------------------------------------------
def _scaling(df: pd.DataFrame, x: str, title: str, x_title: str, empty: str, log: bool) -> go.Figure:
    data, dropped = _steady(df, x)
    if data.empty:
        return empty_figure(title, empty)
    # One line per model × every other axis of the configuration (the axis on x left out of its label).
    held_out = ("width", "height") if x == "megapixels" else (x,)
    data = data.assign(_line=stats.with_config(stats.fresh(data).assign(**{c: None for c in held_out}))["config"].to_numpy())
    keys = ["model_key", "_line"]
    grouped = data.groupby(keys + [x], dropna=False)["total_s"]
    points = grouped.agg(p50="median", n="size")
    points["p90"] = grouped.quantile(0.9)
    points = points.reset_index().sort_values(x)
    colors = model_colors(points["model_key"])
    # Group the (small) table of points in plain Python: one line per model × held-fixed settings.
    lines: dict[tuple, list[dict]] = {}
    for row in points.to_dict("records"):
        lines.setdefault(tuple(row[k] for k in keys), []).append(row)
    traces: list[dict] = []
    symbol_of: dict[str, str] = {}
    for line_key in sorted(lines, key=lambda k: tuple(str(v) for v in k)):
        rows = lines[line_key]
        model = rows[0]["model_key"]
        rest = rows[0]["_line"]
        rest = "" if rest == "default settings" else rest
        symbol = symbol_of.setdefault(rest, SYMBOLS[len(symbol_of) % len(SYMBOLS)])
        name = f"{model} · {rest}" if rest else str(model)
        p50, p90 = [r["p50"] for r in rows], [r["p90"] for r in rows]
        traces.append(trace(
            "scatter", x=[r[x] for r in rows], y=p50, mode="lines+markers", name=name,
            line=dict(color=colors[model]), marker=dict(symbol=symbol, size=8),
            error_y=dict(type="data", array=[b - a for a, b in zip(p50, p90)], arrayminus=[0] * len(rows),
                         thickness=1),
            customdata=[[r["p90"], r["n"]] for r in rows],
            hovertemplate=f"{name}<br>%{{x}}<br>p50 %{{y:.3f}} s · p90 %{{customdata[0]:.3f}} s"
                          f"<br>n=%{{customdata[1]}}<extra></extra>"))
    held = "size" if x == "steps" else "steps"
    note = (f"one line per model × configuration ({held}, guidance, dtype, recipe ... held fixed): p50, whisker to p90; "
            f"{_spread_note(data)}{_first_note(dropped)}")
    return layout(traces, title, x_title, "p50 seconds per call", note=note, legend="model · held fixed",
                  log_y=log, height=460 + 22 * (len(traces) // 4), legend_orientation="h",
                  legend_yanchor="top", legend_y=-0.15, legend_x=0)


def scaling_with_steps(df: pd.DataFrame, log: bool = False) -> go.Figure:
    return _scaling(df, "steps", "Latency against denoising steps", "denoising steps",
                    "No timed generations with a step count yet.", log)


def scaling_with_resolution(df: pd.DataFrame, log: bool = False) -> go.Figure:
    title = "Latency against resolution"
    if df is None or df.empty or not {"width", "height"} <= set(df.columns):
        return empty_figure(title, "No timed generations with a size yet.")
    frame = df.assign(megapixels=(df["width"] * df["height"] / 1e6).round(3))
    return _scaling(frame, "megapixels", title, "megapixels (width × height / 10⁶)",
                    "No timed generations with a size yet.", log)


ALL_CHARTS = {
    "latency": latency_by_model,
    "stages": stage_breakdown,
    "flops_vs_latency": flops_vs_latency,
    "memory": peak_memory_by_model,
    "steps": scaling_with_steps,
    "resolution": scaling_with_resolution,
    "mfu": mfu_by_model,
    "cost": cost_per_image,
}
