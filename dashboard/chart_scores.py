"""Quality charts: plain functions from a long frame of scores (one row per generation and metric, with the
generation's model, configuration, cost and prompt category; dashboard.scores.score_frame builds it) to a figure.

Every statistic is per model × configuration (core.stats, as every view groups), never pooled; each chart holds one metric, by one
kind of scorer weights: `tiny=True` puts "tiny scorer" in the title (tiny scorers are built in code: their scores are
noise, there to try the workbench). Colours are the models' fixed ones (dashboard.chart_style).
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core import stats
from core.scoring import names
from dashboard.chart_style import NOTE_WIDTH, TITLE_WIDTH, empty_figure, flop_unit, layout, model_colors, trace, wrap

METRIC_LABELS = names.TITLES  # core.scoring.names: the one home of metric display names
# cost axis: (what the page offers, axis title)
COSTS = {"seconds": "p50 seconds per call", "tflop": "TFLOP per call (FLOPs = 2 × MACs)",
         "usd": "USD per image (APIs: list price; open models: GPU-time estimate)"}
ROW_PX = 22
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon")


def metric_label(metric: str, tiny: bool = False) -> str:
    return METRIC_LABELS.get(metric, metric) + (" (tiny scorer)" if tiny else "")


def _title(text: str, tiny: bool) -> str:
    return text + (" · tiny scorer (noise scores)" if tiny else "")


def _top(title: str, note: str) -> int:
    """Top margin that keeps a wrapped title and note clear of the plot (with room to spare)."""
    return 50 + 22 * (len(wrap(title, TITLE_WIDTH).split("<br>")) + len(wrap(note, NOTE_WIDTH).split("<br>")))


def _metric_rows(df: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    if df is None or df.empty or not {"metric", "value", "model_key"} <= set(df.columns):
        return pd.DataFrame(columns=["model_key", "metric", "value"])
    return df[(df["metric"] == metric) & df["value"].notna()]


def _with_config(frame: pd.DataFrame) -> pd.DataFrame:
    """A `config` label (core.stats) and a `label` (model · configuration) on each row."""
    out = stats.with_config(frame)
    return out.assign(label=[f"{m} · {c}" for m, c in zip(out["model_key"], out["config"])])


def _cost(frame: pd.DataFrame, cost: str) -> pd.Series:
    if cost == "seconds":
        seconds = frame["total_s"] if "total_s" in frame.columns else pd.Series(float("nan"), index=frame.index)
        if "first_call" in frame.columns:  # warm-up after a load is no per-image cost
            seconds = seconds.where(~frame["first_call"].fillna(False).astype(bool))
        return seconds
    if cost == "tflop":  # FLOPs here; the chart picks the unit that reads best
        return frame["flops_total"] if "flops_total" in frame.columns else pd.Series(float("nan"), index=frame.index)
    if cost == "usd":
        listed = frame["cost_usd"] if "cost_usd" in frame.columns else pd.Series(float("nan"), index=frame.index)
        estimate = frame["cost_est_usd"] if "cost_est_usd" in frame.columns else listed * float("nan")
        return listed.fillna(estimate)
    raise ValueError(f"cost: {cost!r} is not allowed; choose one of {', '.join(COSTS)}")


def quality_front(points: pd.DataFrame, cost: str, quality: str) -> pd.DataFrame:
    """Points that no other point beats on both: lower (or equal) cost and higher (or equal) quality, one strictly.
    Sorted by cost."""
    if points.empty:
        return points
    ordered = points.sort_values([cost, quality], ascending=[True, False])
    keep, best = [], float("-inf")
    for idx, value in ordered[quality].items():
        if value > best:
            keep.append(idx)
            best = value
    return ordered.loc[keep]


def quality_points(df: pd.DataFrame, metric: str, cost: str) -> pd.DataFrame:
    """One row per model × configuration: p50 quality (every scored image), p50 cost, images scored (`n`)."""
    data = _metric_rows(df, metric)
    if data.empty:
        return pd.DataFrame(columns=["model_key", "config", "label", "quality", "cost", "n"])
    data = _with_config(data.assign(_cost=_cost(data, cost)))
    keys = ["model_key", "config", "label"]
    points = data.groupby(keys, dropna=False).agg(quality=("value", "median"), cost=("_cost", "median"),
                                                  n=("value", "size")).reset_index()
    return points.dropna(subset=["cost"])


def quality_vs_cost(df: pd.DataFrame, metric: str, cost: str = "seconds", *, log: bool = False,
                    tiny: bool = False) -> go.Figure:
    """p50 score against p50 cost per model × configuration, the Pareto front (higher quality, lower cost) circled."""
    if cost not in COSTS:
        raise ValueError(f"cost: {cost!r} is not allowed; choose one of {', '.join(COSTS)}")
    title = _title(f"{metric_label(metric)} against {dict(seconds='seconds', tflop='FLOPs', usd='USD')[cost]}", tiny)
    points = quality_points(df, metric, cost)
    if points.empty:
        why = {"seconds": "no scored images with a steady-state time",
               "tflop": "no scored images with a FLOP count",
               "usd": "no scored images with a price (API list price, or open models on a GPU with a $ per GPU-hour)"}
        return empty_figure(title, f"Nothing to plot: {why[cost]}.")
    x_title = COSTS[cost]
    if cost == "tflop":
        unit, scale = flop_unit(points["cost"].median())
        points = points.assign(cost=points["cost"] / scale)
        x_title = f"{unit} per call (FLOPs = 2 × MACs)"
    colors = model_colors(points["model_key"])
    symbols = {c: SYMBOLS[i % len(SYMBOLS)] for i, c in enumerate(sorted(points["config"].unique()))}
    traces: list[dict] = []
    for _, p in points.sort_values(["model_key", "config"]).iterrows():  # a symbol per configuration
        traces.append(trace(
            "scatter", x=[p["cost"]], y=[p["quality"]], mode="markers", name=p["label"], text=[p["label"]],
            legendgroup=p["model_key"], customdata=[p["n"]],
            marker=dict(size=12, color=colors[p["model_key"]], symbol=symbols[p["config"]]),
            hovertemplate="%{text}<br>cost %{x:.4g}<br>p50 score %{y:.3f}<br>n=%{customdata}<extra></extra>"))
    front = quality_front(points, "cost", "quality")
    traces.append(trace(
        "scatter", x=front["cost"], y=front["quality"], mode="lines+markers", text=front["label"],
        name="Pareto front" if len(front) > 1 else "Pareto front (one point beats all)",
        line=dict(color="#111", dash="dash", width=2, shape="hv"),
        marker=dict(size=20, color="rgba(0,0,0,0)", line=dict(color="#111", width=2.5)),
        hovertemplate="on the front: %{text}<extra></extra>"))
    note = (f"one point per model × configuration (colour: model, symbol: configuration): p50 "
            f"{metric_label(metric)} of its scored images (higher is better) against p50 "
            f"{'seconds (first calls left out)' if cost == 'seconds' else 'cost'} of the same scored images only "
            f"(n={int(points['n'].sum()):,} scored images; the latency chart's p50 is over every timed call); "
            f"circled: the front, where nothing is both cheaper and better")
    fig = layout(traces, title, x_title, f"p50 {metric_label(metric, tiny)}", note=note,
                 margin=dict(t=_top(title, note)), legend="model · configuration",
                 height=540 + 22 * (len(traces) // 3), legend_orientation="h", legend_yanchor="top", legend_y=-0.15,
                 legend_x=0)
    if log:
        fig.update_xaxes(type="log")
    return fig


def score_heatmap(df: pd.DataFrame, metric: str, *, tiny: bool = False) -> go.Figure:
    """Mean score per model × configuration (rows) and prompt category (columns)."""
    title = _title(f"{metric_label(metric)} per model and prompt category", tiny)
    data = _metric_rows(df, metric)
    if data.empty:
        return empty_figure(title, "No scored images yet.")
    category = data["category"] if "category" in data.columns else pd.Series(None, index=data.index, dtype=object)
    data = _with_config(data.assign(category=category.fillna("(no category)")))
    table = data.pivot_table(index="label", columns="category", values="value", aggfunc="mean")
    counts = data.pivot_table(index="label", columns="category", values="value", aggfunc="size").reindex_like(table)
    text = [[("" if pd.isna(v) else f"{v:.2f}") for v in row] for row in table.to_numpy()]
    note = (f"mean {metric_label(metric)} of the images of each model × configuration in each prompt category; "
            "blank: no image there")
    fig = layout([trace(
        "heatmap", z=table.to_numpy(), x=list(table.columns), y=list(table.index), colorscale="Viridis",
        text=text, texttemplate="%{text}", customdata=counts.fillna(0).astype(int).to_numpy(),
        colorbar=dict(title=dict(text="mean")),
        hovertemplate="%{y}<br>%{x}: mean %{z:.3f}<br>n=%{customdata}<extra></extra>")],
        title, "prompt category", "", note=note, height=max(340, ROW_PX * len(table) + 230),
        margin=dict(l=10, t=_top(title, note)))
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def score_distribution(df: pd.DataFrame, metric: str, *, tiny: bool = False) -> go.Figure:
    """Every scored image's score, one box per model × configuration (median, quartiles, each image a dot)."""
    title = _title(f"{metric_label(metric)}: distribution per model", tiny)
    data = _metric_rows(df, metric)
    if data.empty:
        return empty_figure(title, "No scored images yet.")
    data = _with_config(data)
    order = data.groupby("label")["value"].median().sort_values(ascending=False).index
    colors = model_colors(data["model_key"])
    traces: list[dict] = []
    for label in order:
        group = data[data["label"] == label]
        key = group["model_key"].iloc[0]
        traces.append(trace("box", x=group["value"], y=[label] * len(group), name=label, orientation="h",
                            boxpoints="all", jitter=0.4, pointpos=0, marker=dict(color=colors[key], size=4),
                            line=dict(color=colors[key]),
                            hovertemplate=f"{label}<br>%{{x:.3f}}<extra></extra>"))
    note = ("one box per model × configuration: median, quartiles, whiskers to 1.5 IQR; each dot an image; "
            "best median first")
    fig = layout(traces, title, metric_label(metric, tiny), "", note=note,
                 height=max(340, 2 * ROW_PX * len(order) + 200), showlegend=False, margin=dict(l=10, t=_top(title, note)))
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig
