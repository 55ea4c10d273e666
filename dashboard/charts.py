"""Figure builders: plain functions from a DataFrame of generation rows to a Plotly figure.

Each takes the store's column names (`model_key`, `total_s`, `denoise_s`, `peak_mem_gb`, `flops_total`,
`mfu`, `cost_usd`, ...), never imports Streamlit, and returns a figure with a title and labelled axes
(units in the labels). A frame with nothing to plot gives an empty figure that says why, not an error.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

# Stage columns in pipeline order, with the names people read.
STAGES: tuple[tuple[str, str], ...] = (
    ("text_encode_s", "Text encoding"),
    ("prior_s", "Prior (Cascade)"),
    ("denoise_s", "Denoising"),
    ("decoder_s", "Decoder (Cascade)"),
    ("decode_s", "VAE decode"),
)
PALETTE = qualitative.D3 + qualitative.Set2 + qualitative.Dark2 + qualitative.Pastel1
TEMPLATE = "plotly_white"
MAX_POINTS_SHOWN = 300  # per box: above this only outliers are drawn (thousands of points slow the browser)


def _registry_order() -> list[str]:
    try:
        from core.registry import model_keys

        return model_keys()
    except Exception:  # noqa: BLE001 - charts work without the registry too
        return []


def model_colors(keys: Iterable[str]) -> dict[str, str]:
    """The same colour for a model in every chart: its place in the registry picks it (unknown keys follow)."""
    order = _registry_order()
    known = {key: i for i, key in enumerate(order)}
    extra = sorted(k for k in set(keys) if k not in known)
    return {key: PALETTE[(known[key] if key in known else len(order) + extra.index(key)) % len(PALETTE)]
            for key in set(keys)}


def _layout(fig: go.Figure, title: str, x: str, y: str, **kw) -> go.Figure:
    margin = {**dict(l=60, r=20, t=60, b=60), **kw.pop("margin", {})}
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template=TEMPLATE, margin=margin,
                      legend_title_text=kw.pop("legend", None), **kw)
    return fig


def empty_figure(title: str, message: str) -> go.Figure:
    """A titled figure with no traces and `message` in the middle."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color="#666"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=title, template=TEMPLATE, height=320)
    return fig


def _usable(df: pd.DataFrame | None, *columns: str) -> pd.DataFrame:
    """Rows where every named column has a value (ok rows only when a status column is there)."""
    if df is None or df.empty or any(c not in df.columns for c in columns):
        return pd.DataFrame(columns=list(columns))
    out = df
    if "status" in out.columns:
        out = out[out["status"] == "ok"]
    return out.dropna(subset=list(columns))


def _model_order(df: pd.DataFrame, by: str) -> list[str]:
    """Models ordered by the median of `by` (fastest / smallest first)."""
    return list(df.groupby("model_key")[by].median().sort_values().index)


def _points(values: pd.Series) -> str:
    return "all" if len(values) <= MAX_POINTS_SHOWN else "outliers"


# ---- latency ---------------------------------------------------------------------------------------
def latency_by_model(df: pd.DataFrame) -> go.Figure:
    """Seconds per pipeline call per model: a box over repeats, every point shown."""
    title = "Latency per model (spread over repeats)"
    data = _usable(df, "model_key", "total_s")
    if data.empty:
        return empty_figure(title, "No successful generations with a measured time yet.")
    colors = model_colors(data["model_key"])
    fig = go.Figure()
    for key in _model_order(data, "total_s"):
        values = data.loc[data["model_key"] == key, "total_s"]
        fig.add_trace(go.Box(y=values, name=key, boxpoints=_points(values), jitter=0.4, pointpos=0,
                             marker_color=colors[key], hovertemplate=f"{key}<br>%{{y:.3f}} s<extra>n={len(values)}</extra>"))
    return _layout(fig, title, "model", "seconds per call (total_s)", showlegend=False)


def stage_breakdown(df: pd.DataFrame) -> go.Figure:
    """Mean seconds per stage per model, stacked; what the stages do not cover is 'other'."""
    title = "Time per stage (mean seconds per call)"
    data = _usable(df, "model_key", "total_s")
    stages = [(c, label) for c, label in STAGES if c in data.columns and data[c].notna().any()]
    if stages:  # models without stage timings (API models) are left out
        data = data[data[[c for c, _ in stages]].notna().any(axis=1)]
    if data.empty or not stages:
        return empty_figure(title, "No per-stage timings yet.")
    split = [c for c in ("prior_s", "decoder_s") if c in data.columns]
    if split and "denoise_s" in data.columns:
        # Two-stage models store denoise_s = prior_s + decoder_s: stack the parts, not the sum too.
        data = data.copy()
        data.loc[data[split].notna().any(axis=1), "denoise_s"] = None
    means = data.groupby("model_key")[[c for c, _ in stages] + ["total_s"]].mean()
    means = means.loc[means["total_s"].sort_values().index]
    fig = go.Figure()
    for column, label in stages:
        fig.add_trace(go.Bar(x=means.index, y=means[column], name=label,
                             hovertemplate=f"%{{x}}<br>{label}: %{{y:.3f}} s<extra></extra>"))
    other = (means["total_s"] - means[[c for c, _ in stages]].fillna(0).sum(axis=1)).clip(lower=0)
    fig.add_trace(go.Bar(x=means.index, y=other, name="Other", marker_color="#BBBBBB",
                         hovertemplate="%{x}<br>other (scheduler, Python, copies): %{y:.3f} s<extra></extra>"))
    return _layout(fig, title, "model", "seconds per call", barmode="stack")


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


def flops_vs_latency(df: pd.DataFrame) -> go.Figure:
    """Mean FLOPs per call against mean latency, one point per (model, size, steps), with the Pareto front."""
    title = "FLOPs against latency (Pareto front: nothing is both cheaper and faster)"
    data = _usable(df, "model_key", "total_s", "flops_total")
    if data.empty:
        return empty_figure(title, "No FLOP counts stored yet (profiling adds flops_total to each generation).")
    keys = ["model_key"] + [c for c in ("width", "height", "steps") if c in data.columns]
    points = data.groupby(keys, dropna=False).agg(flops=("flops_total", "mean"), seconds=("total_s", "mean"),
                                                  n=("total_s", "size")).reset_index()
    unit, scale = flop_unit(points["flops"].median())
    points["flops_scaled"] = points["flops"] / scale
    points["label"] = points.apply(_config_label, axis=1)
    colors = model_colors(points["model_key"])
    fig = go.Figure()
    for key, group in points.groupby("model_key"):
        fig.add_trace(go.Scatter(
            x=group["flops_scaled"], y=group["seconds"], mode="markers", name=key, text=group["label"],
            customdata=group["n"], marker=dict(size=11, color=colors[key]),
            hovertemplate=f"%{{text}}<br>%{{x:.3g}} {unit}<br>%{{y:.3f}} s<br>n=%{{customdata}}<extra></extra>"))
    front = pareto_front(points, "flops_scaled", "seconds")
    fig.add_trace(go.Scatter(x=front["flops_scaled"], y=front["seconds"], mode="lines", name="Pareto front",
                             line=dict(color="#222", dash="dash", width=2, shape="hv"), hoverinfo="skip"))
    fig = _layout(fig, title, f"FLOPs per call ({unit}, FLOPs = 2 × MACs)", "seconds per call", legend="model")
    if points["flops_scaled"].max() > 100 * max(points["flops_scaled"].min(), 1e-12):
        fig.update_xaxes(type="log")
    return fig


def flop_unit(value: float) -> tuple[str, float]:
    """The unit that reads best for FLOP counts around `value`: (name, divisor)."""
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if value >= scale:
            return unit, scale
    return "FLOP", 1.0


def _config_label(row: pd.Series) -> str:
    parts = [str(row["model_key"])]
    if "width" in row and pd.notna(row.get("width")) and pd.notna(row.get("height")):
        parts.append(f"{int(row['width'])}×{int(row['height'])}")
    if "steps" in row and pd.notna(row.get("steps")):
        parts.append(f"{int(row['steps'])} steps")
    return " · ".join(parts)


def mfu_by_model(df: pd.DataFrame) -> go.Figure:
    """Model FLOPs utilisation per model, in percent of the device's bf16 dense peak."""
    title = "MFU per model (achieved FLOP/s over the device's bf16 dense peak)"
    data = _usable(df, "model_key", "mfu")
    if data.empty:
        return empty_figure(title, "No MFU stored yet (needs FLOP counts and a GPU).")
    data = data.assign(mfu_pct=data["mfu"] * 100 if data["mfu"].max() <= 1.5 else data["mfu"])
    colors = model_colors(data["model_key"])
    fig = go.Figure()
    for key in reversed(_model_order(data, "mfu_pct")):
        values = data.loc[data["model_key"] == key, "mfu_pct"]
        fig.add_trace(go.Box(y=values, name=key, boxpoints=_points(values), jitter=0.4, pointpos=0,
                             marker_color=colors[key], hovertemplate=f"{key}<br>%{{y:.1f}} %<extra>n={len(values)}</extra>"))
    return _layout(fig, title, "model", "MFU (%)", showlegend=False)


# ---- memory and cost -------------------------------------------------------------------------------
def peak_memory_by_model(df: pd.DataFrame) -> go.Figure:
    """Highest peak GPU memory per model (bars), mean as a marker."""
    title = "Peak GPU memory per model"
    data = _usable(df, "model_key", "peak_mem_gb")
    if data.empty:
        return empty_figure(title, "No GPU memory measured (generations on CPU record none).")
    stats = data.groupby("model_key")["peak_mem_gb"].agg(["max", "mean", "size"]).sort_values("max")
    colors = model_colors(stats.index)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=stats.index, y=stats["max"], name="max", marker_color=[colors[k] for k in stats.index],
                         text=[f"{v:.1f}" for v in stats["max"]], textposition="outside",
                         customdata=stats["size"],
                         hovertemplate="%{x}<br>max %{y:.2f} GB<br>n=%{customdata}<extra></extra>"))
    fig.add_trace(go.Scatter(x=stats.index, y=stats["mean"], mode="markers", name="mean",
                             marker=dict(symbol="line-ew-open", size=24, color="#333", line=dict(width=2)),
                             hovertemplate="%{x}<br>mean %{y:.2f} GB<extra></extra>"))
    return _layout(fig, title, "model", "peak GPU memory (GB)", legend="")


def cost_per_image(df: pd.DataFrame) -> go.Figure:
    """Mean USD per image for the models that cost money (API models)."""
    title = "Cost per image (USD, list prices)"
    data = _usable(df, "model_key", "cost_usd")
    if data.empty:
        return empty_figure(title, "No priced generations yet (API models record their cost).")
    stats = data.groupby("model_key")["cost_usd"].agg(["mean", "size"]).sort_values("mean")
    colors = model_colors(stats.index)
    fig = go.Figure(go.Bar(x=stats.index, y=stats["mean"], marker_color=[colors[k] for k in stats.index],
                           text=[f"${v:.3f}" for v in stats["mean"]], textposition="outside",
                           customdata=stats["size"],
                           hovertemplate="%{x}<br>$%{y:.4f} per image<br>n=%{customdata}<extra></extra>"))
    return _layout(fig, title, "model", "USD per image", showlegend=False)


# ---- scaling ---------------------------------------------------------------------------------------
def _scaling(df: pd.DataFrame, x: str, title: str, x_title: str, empty: str) -> go.Figure:
    data = _usable(df, "model_key", "total_s", x)
    if data.empty:
        return empty_figure(title, empty)
    points = data.groupby(["model_key", x])["total_s"].agg(["mean", "std", "size"]).reset_index().sort_values(x)
    colors = model_colors(points["model_key"])
    fig = go.Figure()
    for key, group in points.groupby("model_key"):
        fig.add_trace(go.Scatter(
            x=group[x], y=group["mean"], mode="lines+markers", name=key, marker=dict(color=colors[key]),
            # mean ± sd, cut at zero below: a time is never negative
            error_y=dict(type="data", array=group["std"].fillna(0),
                         arrayminus=group["std"].fillna(0).clip(upper=group["mean"]), visible=True, thickness=1),
            customdata=group["size"],
            hovertemplate=f"{key}<br>%{{x}}<br>%{{y:.3f}} s<br>n=%{{customdata}}<extra></extra>"))
    return _layout(fig, title, x_title, "seconds per call (mean ± sd)", legend="model")


def scaling_with_steps(df: pd.DataFrame) -> go.Figure:
    return _scaling(df, "steps", "Latency against denoising steps", "denoising steps",
                    "No timed generations with a step count yet.")


def scaling_with_resolution(df: pd.DataFrame) -> go.Figure:
    title = "Latency against resolution"
    if df is None or df.empty or not {"width", "height"} <= set(df.columns):
        return empty_figure(title, "No timed generations with a size yet.")
    frame = df.assign(megapixels=(df["width"] * df["height"] / 1e6).round(3))
    return _scaling(frame, "megapixels", title, "megapixels (width × height / 10⁶)",
                    "No timed generations with a size yet.")


# ---- compute atlas ---------------------------------------------------------------------------------
def _first_column(df: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in df.columns and df[n].notna().any()), None)


def atlas_figure(df: pd.DataFrame) -> go.Figure:
    """TFLOP per image of every model from its architecture alone (the compute atlas), stacked by stage.

    One bar per row of the atlas table as stored (`model_key`, `flops_per_image`, optionally the stage columns
    `flops_text_encode` / `flops_denoise` / `flops_decode`, `params_total`, `width`, `height`, `steps`,
    `available`); rows marked unavailable are left out. Filter to one size per model before calling.
    """
    title = "Compute atlas: FLOPs per image from the architecture alone"
    if df is None or df.empty:
        return empty_figure(title, "No compute atlas stored yet.")
    model = _first_column(df, "model_key", "model", "key")
    total = _first_column(df, "flops_per_image", "flops_total", "flops")
    if model is None or total is None:
        return empty_figure(title, "The atlas table has no model or FLOPs column.")
    data = df
    if "available" in data.columns:
        data = data[data["available"].fillna(False).astype(bool)]
    data = data.dropna(subset=[total])
    if data.empty:
        return empty_figure(title, "No atlas entry has a FLOP count.")
    data = data.sort_values(total).reset_index(drop=True)
    labels = []
    for _, row in data.iterrows():
        label = str(row[model])
        if data[model].duplicated(keep=False).any() and {"width", "height"} <= set(data.columns):
            label += f" ({int(row['width'])}×{int(row['height'])})"
        labels.append(label)
    data = data.assign(label=labels)
    config = [_atlas_config(row) for _, row in data.iterrows()]
    params = (data["params_total"] / 1e9).round(2).tolist() if "params_total" in data.columns else [None] * len(data)
    custom = list(zip(config, params, (data[total] / 1e12).round(1)))
    hover = ("%{y}<br>%{customdata[0]}<br>%{customdata[1]} B parameters<br>"
             "%{customdata[2]} TFLOP per image<br>{stage}: %{x:.3g} TFLOP<extra></extra>")
    stages = [(c, label) for c, label in (("flops_text_encode", "Text encoding"), ("flops_denoise", "Denoising"),
                                           ("flops_decode", "VAE decode"))
              if c in data.columns and data[c].notna().any()]
    # Across models FLOPs span orders of magnitude: then one total bar per model on a log axis (stacked bars
    # would mislead on a log axis); within one order of magnitude, stages stacked on a linear axis.
    log = data[total].max() > 100 * max(data[total].min(), 1.0)
    text = [f"{v:,.0f}" if v >= 100 else f"{v:.3g}" for v in data[total] / 1e12]
    fig = go.Figure()
    if stages and not log:
        for i, (column, label) in enumerate(stages):
            fig.add_trace(go.Bar(y=data["label"], x=data[column].fillna(0) / 1e12, orientation="h", name=label,
                                 customdata=custom, hovertemplate=hover.replace("{stage}", label),
                                 text=text if i == len(stages) - 1 else None, textposition="outside",
                                 cliponaxis=False))
    else:
        fig.add_trace(go.Bar(y=data["label"], x=data[total] / 1e12, orientation="h", name="per image",
                             customdata=custom, hovertemplate=hover.replace("{stage}", "total"), text=text,
                             textposition="outside", cliponaxis=False, marker_color=PALETTE[0], showlegend=False))
    fig = _layout(fig, title, "TFLOP per image (FLOPs = 2 × MACs, attention included)" + (", log scale" if log else ""),
                  "", barmode="stack", legend="stage", height=max(360, 26 * len(data) + 140), margin=dict(r=70))
    if log:
        fig.update_xaxes(type="log")
    fig.update_yaxes(categoryorder="array", categoryarray=list(data["label"]))
    return fig


def _atlas_config(row: pd.Series) -> str:
    parts = []
    if pd.notna(row.get("width")) and pd.notna(row.get("height")):
        parts.append(f"{int(row['width'])}×{int(row['height'])}")
    if pd.notna(row.get("steps")):
        parts.append(f"{int(row['steps'])} steps")
    return ", ".join(parts) or "default"


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
