"""What every chart shares: one fixed colour per model, the layout, titles that wrap instead of being cut,
and the empty figure that says why it is empty."""
from __future__ import annotations

import textwrap
from functools import lru_cache
from typing import Iterable

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative

from core import units
from core.registry import model_keys

# 74 distinct colours: Dark24 for the registry's first 24 models (the 18 open ones first), then Alphabet, then
# Light24 (44 models today: no two share a colour while the registry holds fewer than 74).
PALETTE: tuple[str, ...] = tuple(dict.fromkeys(qualitative.Dark24 + qualitative.Alphabet + qualitative.Light24))
TEMPLATE = "plotly_white"
TITLE_WIDTH = 48  # characters a line of title holds in a half-width chart at 1024 px
NOTE_WIDTH = 78


def _registry_order() -> list[str]:
    try:
        return model_keys()
    except Exception:  # noqa: BLE001 - charts work without the registry too
        return []


def model_colors(keys: Iterable[str]) -> dict[str, str]:
    """The same colour for a model on every chart: its place in the registry picks it, so no two registry models
    share one; keys not in the registry take the next free colours in name order."""
    order = _registry_order()
    slot = {key: i for i, key in enumerate(order)}
    extra = sorted(k for k in set(keys) if k not in slot)
    for key in extra:
        slot[key] = len(slot)
    return {key: PALETTE[slot[key] % len(PALETTE)] for key in set(keys)}


def figure(traces: list[dict] | None = None) -> go.Figure:
    """An empty figure that takes traces as plain dicts without validating every property: building a figure of
    many configurations is several times faster (the builders' traces are fixed code, checked by the tests).
    Traces must spell nested properties out (`marker=dict(color=...)`, not `marker_color=`); `layout()` is
    validated as usual."""
    return go.Figure(data=traces or [], _validate=False)


def trace(kind: str, **properties) -> dict:
    """A trace as a plain dict, e.g. `trace("scatter", x=..., y=..., marker=dict(color=...))`; Series and arrays
    become lists (positions, not a frame's index)."""
    return {"type": kind, **{k: _plain(v) for k, v in properties.items()}}


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist") and not isinstance(value, str):
        return value.tolist()
    return value


def wrap(text: str, width: int) -> str:
    return "<br>".join(textwrap.wrap(text, width)) or text


def titled(title: str, note: str | None = None) -> str:
    """A title wrapped to the chart's width, with a smaller note below saying what the chart holds."""
    out = f"<b>{wrap(title, TITLE_WIDTH)}</b>"
    if note:
        out += "<br><span style='font-size:12px;color:#555'>" + wrap(note, NOTE_WIDTH) + "</span>"
    return out


def layout(fig: go.Figure | list[dict], title: str, x: str, y: str, *, note: str | None = None,
           log_y: bool = False, **kw) -> go.Figure:
    """Title, note, axis titles, template and margins; `fig` may be the list of trace dicts to draw."""
    if isinstance(fig, list):
        fig = figure(fig)
    lines = title.count("<br>") + 1 if "<br>" in title else len(wrap(title, TITLE_WIDTH).split("<br>"))
    lines += len(wrap(note, NOTE_WIDTH).split("<br>")) if note else 0
    margin = {**dict(l=60, r=20, t=40 + 20 * lines, b=60), **kw.pop("margin", {})}
    # The layout is validated (magic underscores such as legend_orientation expand) as a small Layout without
    # the template, then set as plain JSON; the template object is assigned as is (walking it costs ~0.4 s).
    spec = go.Layout(title=dict(text=titled(title, note), x=0.01, xanchor="left"), xaxis_title=x, yaxis_title=y,
                     margin=margin, legend_title_text=kw.pop("legend", None), **kw)
    fig.update_layout(spec.to_plotly_json())
    fig.layout.template = _template()
    if log_y:
        fig.update_yaxes(type="log")
    return fig


@lru_cache(maxsize=1)
def _template():
    return pio.templates[TEMPLATE]


def empty_figure(title: str, message: str) -> go.Figure:
    """A titled figure with no traces and `message` in the middle."""
    fig = go.Figure()
    fig.add_annotation(text=wrap(message, 60), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color="#666"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=dict(text=titled(title), x=0.01, xanchor="left"), template=TEMPLATE, height=320)
    return fig


def flop_unit(value: float) -> tuple[str, float]:
    """The unit that reads best for FLOP counts around `value`: (name, divisor) (core.units)."""
    return units.flop_unit(value)
