"""Issue 21, bug 6: FLOP counts at unit boundaries read in the next unit, with one helper everywhere."""
from __future__ import annotations

import pytest

from core.units import fmt_flops, flop_unit
from dashboard import formatting


@pytest.mark.parametrize("value,text", [
    (999_680, "1.00 MFLOP"), (999.7e12, "1.00 PFLOP"), (999.4e12, "999 TFLOP"), (1e6, "1.00 MFLOP"),
    (12_345_678, "12.3 MFLOP"), (5.94e7, "59.4 MFLOP"), (1.5e12, "1.50 TFLOP"), (999, "999 FLOP"),
    (999.6, "1.00 kFLOP"), (0, "0 FLOP"), (3.2e15, "3.20 PFLOP"), (None, "-"), (float("nan"), "-"),
])
def test_flops_format_at_unit_boundaries(value, text):
    assert fmt_flops(value) == text


def test_macs_and_units():
    assert fmt_flops(999_680, unit="MAC") == "1.00 MMAC"
    assert flop_unit(999.7e12) == ("PFLOP", 1e15) and flop_unit(2.5e9) == ("GFLOP", 1e9)


def test_every_formatter_uses_it():
    from core.summary import Summary
    from dashboard import chart_style

    assert formatting.fmt_flops(999_680) == "1.00 MFLOP" and formatting.fmt_flops(999.7e12) == "1.00 PFLOP"
    assert chart_style.flop_unit(999.7e12) == ("PFLOP", 1e15)
    summary = Summary()
    summary.add([{"model_key": "sd21", "status": "ok", "weights": "tiny", "width": 32, "height": 32, "steps": 2,
                  "guidance": 7.5, "recipe": "eager", "first_call": first, "total_s": 1.0, "flops_total": 999_680}
                 for first in (True, False, False)])
    table = summary.table()
    assert "1.00 MFLOP" in table and "e+" not in table and "e-" not in table
