"""How the pages write numbers: seconds, FLOPs, parameters, GB."""
from __future__ import annotations


import pandas as pd

from core import units



# ---- formatting --------------------------------------------------------------------------------------
def fmt_seconds(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "–"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.1f} h"


def fmt_flops(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "FLOPs n/a"
    return units.fmt_flops(value)


def fmt_params(value: int | None) -> str:
    if not value:
        return "– params"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit} params"
    return f"{value} params"


def fmt_gb(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "memory n/a (CPU)"
    return f"{value:.2f} GB peak"
