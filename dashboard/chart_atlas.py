"""The compute atlas figure: FLOPs per image of every model from its architecture alone, stacked by stage."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core import units
from dashboard.chart_style import PALETTE, empty_figure, layout


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
    custom = list(zip(config, params, [units.fmt_flops(v) for v in data[total]]))
    hover = ("%{y}<br>%{customdata[0]}<br>%{customdata[1]} B parameters<br>"
             "%{customdata[2]} per image<br>{stage}: %{x:.3g} TFLOP<extra></extra>")
    stages = [(c, label) for c, label in (("flops_text_encode", "Text encoding"), ("flops_denoise", "Denoising"),
                                           ("flops_decode", "VAE decode"))
              if c in data.columns and data[c].notna().any()]
    # Across models FLOPs span orders of magnitude: then one total bar per model on a log axis (stacked bars
    # would mislead on a log axis); within one order of magnitude, stages stacked on a linear axis.
    log = data[total].max() > 100 * max(data[total].min(), 1.0)
    text = [units.fmt_flops(v) for v in data[total]]
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
    fig = layout(fig, title, "TFLOP per image (FLOPs = 2 × MACs, attention included)" + (", log scale" if log else ""),
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
