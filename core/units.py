"""FLOP counts as people read them: one helper for every place that shows one (CLI summary, atlas, pages, charts).

Three significant digits, in the largest unit that keeps the number at 1 or more, chosen after rounding, so a
count just under a unit boundary reads in the next unit: 999,680 FLOP is "1.00 MFLOP" (not "1e+06 FLOP"), and
999.7 TFLOP is "1.00 PFLOP" (not "1e+03 TFLOP"). FLOPs = 2 x MACs throughout the project.
"""
from __future__ import annotations

import math

FLOP_UNITS = (("FLOP", 1.0), ("kFLOP", 1e3), ("MFLOP", 1e6), ("GFLOP", 1e9), ("TFLOP", 1e12), ("PFLOP", 1e15),
              ("EFLOP", 1e18))


def _round3(x: float) -> float:
    return float(f"{x:.3g}")


def flop_unit(value: float) -> tuple[str, float]:
    """(unit, divisor) that shows `value` FLOPs as 1 to 999 after rounding to three significant digits."""
    if not math.isfinite(value) or abs(value) < 1:
        return FLOP_UNITS[0]
    chosen = FLOP_UNITS[0]
    for unit, scale in FLOP_UNITS:
        if _round3(abs(value) / scale) >= 1:
            chosen = (unit, scale)
    return chosen


def three_digits(x: float) -> str:
    """`x` with three significant digits, trailing zeros kept ("1.00", "12.5", "999"); no exponent below 1e6."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    r = _round3(x)
    digits = max(0, 2 - int(math.floor(math.log10(abs(r)))))
    return f"{r:.{digits}f}"


def fmt_flops(value: float | None, unit: str = "FLOP") -> str:
    """A FLOP count as "1.00 MFLOP", "12.5 TFLOP"; `unit="MAC"` for MACs; "-" for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    name, scale = flop_unit(float(value))
    return f"{three_digits(float(value) / scale)} {name.replace('FLOP', unit)}"
