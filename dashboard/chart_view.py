"""How a page shows a figure: a chart with data draws with a PNG download in its toolbar (named after the chart)
and its data as CSV; a chart with nothing to draw for the filters is one line (`st.info`), not an empty frame.

`figure_frame` (no Streamlit) turns a figure's traces into the table the chart draws: one row per point, the trace's
name, the axis values under the axes' titles and the hover values (p90, n, ...) under the names the hover text gives
them. The figure builders stay plain functions DataFrame -> go.Figure; this module only reads what they return.
"""
from __future__ import annotations

import html
import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

_TAG = re.compile(r"<[^>]+>")
_CUSTOM = re.compile(r"([A-Za-zµ%][\w ./%()-]*?)\s*[=:]?\s*[~≈]?\s*%\{customdata\[(\d+)\]")
_AXES = ("x", "y", "z")


def plain_text(text: str | None) -> str:
    """Plotly's HTML-ish text (`<b>`, `<br>`, `<span>`) as one plain line."""
    if not text:
        return ""
    return " ".join(html.unescape(_TAG.sub(" ", text.replace("<br>", " "))).split())


def title_of(fig: go.Figure) -> str:
    """The chart's title without its note (the first bold part of the title)."""
    text = fig.layout.title.text or ""
    bold = re.search(r"<b>(.*?)</b>", text, flags=re.S)
    return plain_text(bold.group(1) if bold else text)


def is_empty(fig: go.Figure) -> bool:
    """No trace holds a point (the builders' `empty_figure`, or traces of nothing)."""
    for t in fig.data:
        for axis in ("x", "y", "z", "values", "r"):
            values = getattr(t, axis, None) if axis in t else None
            if values is not None and len(values):
                return False
    return True


def empty_message(fig: go.Figure) -> str:
    """What the empty figure says in its middle (its annotations), as one line."""
    return " ".join(plain_text(a.text) for a in fig.layout.annotations if a.text) or "nothing to show"


def slug(title: str) -> str:
    """A file name from a chart title: `latency-per-model-and-configuration`."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80] or "chart"


def _axis_title(fig: go.Figure, trace, axis: str) -> str:
    ref = getattr(trace, f"{axis}axis", None) if f"{axis}axis" in trace else None
    name = f"{axis}axis" + (ref[1:] if ref and ref != axis else "")
    try:
        text = fig.layout[name].title.text
    except (KeyError, AttributeError):
        text = None
    return plain_text(text) or axis


def _custom_names(template: str | None, width: int) -> list[str]:
    names = [f"custom_{i}" for i in range(width)]
    for label, index in _CUSTOM.findall(template or ""):
        i = int(index)
        label = plain_text(label).strip(" ·:=")
        if i < width and label:
            names[i] = label
    return names


def figure_frame(fig: go.Figure) -> pd.DataFrame:
    """The points every trace draws, one row each: `trace` (its name), the axis values under the axis titles,
    the p90 whisker (`error`) where drawn, `text` and the hover values (`customdata`) under their hover names."""
    frames = []
    for i, t in enumerate(fig.data):
        columns: dict[str, list] = {}
        length = 0
        for axis in _AXES:
            values = getattr(t, axis, None) if axis in t else None
            if values is not None and len(values):
                columns[_axis_title(fig, t, axis)] = list(values)
                length = max(length, len(values))
        if not length:
            continue
        for axis in ("x", "y"):
            error = getattr(t, f"error_{axis}", None) if f"error_{axis}" in t else None
            if error is not None and error.array is not None and len(error.array) == length:
                columns[f"{axis} error +"] = list(error.array)
        text = getattr(t, "text", None) if "text" in t else None
        if text is not None and not isinstance(text, str) and len(text) == length:
            columns["text"] = [plain_text(str(v)) for v in text]
        custom = getattr(t, "customdata", None) if "customdata" in t else None
        if custom is not None and len(custom) == length:
            rows = [list(c) if isinstance(c, (list, tuple)) or hasattr(c, "__len__") and not isinstance(c, str)
                    else [c] for c in custom]
            width = max((len(r) for r in rows), default=0)
            for j, name in enumerate(_custom_names(getattr(t, "hovertemplate", None), width)):
                if name not in columns:
                    columns[name] = [r[j] if j < len(r) else None for r in rows]
        frame = pd.DataFrame({k: v[:length] + [None] * (length - len(v)) for k, v in columns.items()})
        frame.insert(0, "trace", t.name if t.name is not None else f"trace {i}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def csv_bytes(fig: go.Figure) -> bytes:
    return figure_frame(fig).to_csv(index=False).encode()


def show(fig: go.Figure, key: str) -> bool:
    """Draw `fig`, or one info line when it is empty; returns whether it drew a chart.

    The toolbar's camera saves a PNG named after the chart (twice the screen's resolution); the CSV button
    below it writes the chart's points (`figure_frame`, built only when clicked)."""
    title = title_of(fig) or key
    if is_empty(fig):
        st.info(f"**{title}**: {empty_message(fig)}")
        return False
    name = slug(title)
    st.plotly_chart(fig, width="stretch", key=f"chart_{key}", config={
        "displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}})
    st.download_button("Data (CSV)", data=lambda: csv_bytes(fig), file_name=f"{name}.csv", mime="text/csv",
                       key=f"csv_{key}", icon=":material/download:", type="tertiary", on_click="ignore",
                       help=f"the points of “{title}” as CSV; the PNG is the camera in the chart's toolbar")
    return True
