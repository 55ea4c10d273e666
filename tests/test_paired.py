"""core.paired (mean delta and win rate with bootstrap intervals, Wilcoxon signed-rank) and Compare's pair helpers
(dashboard.pairs: one job or not, the paired table, sorting by disagreement)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.paired import paired_stats
from dashboard import pairs


def test_paired_stats_mean_delta_win_rate_intervals_and_wilcoxon():
    rng = np.random.default_rng(0)
    a = rng.normal(20.0, 1.0, 60)
    b = a + 0.5 + rng.normal(0, 0.5, 60)  # B is better by 0.5 on average
    found = paired_stats(a, b, bootstrap=2000, seed=1)
    delta = b - a
    assert found["n"] == 60 and found["mean_delta"] == pytest.approx(delta.mean())
    assert found["delta_low"] < delta.mean() < found["delta_high"] and found["delta_low"] > 0
    assert found["b_better"] == pytest.approx((delta > 0).mean())
    assert found["better_low"] <= found["b_better"] <= found["better_high"]
    assert found["p_value"] == pytest.approx(stats.wilcoxon(delta).pvalue) and found["p_value"] < 1e-6
    # for a cost lower is better: the same deltas make B worse
    cost = paired_stats(a, b, higher_is_better=False, bootstrap=0)
    assert cost["b_better"] == pytest.approx(1 - found["b_better"]) and math.isnan(cost["delta_low"])


def test_paired_stats_edge_cases():
    same = paired_stats([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same["p_value"] == 1.0 and same["b_better"] == 0.5 and same["mean_delta"] == 0.0
    one = paired_stats([1.0, float("nan")], [2.0, 5.0])  # the NaN pair is left out
    assert one["n"] == 1 and one["mean_delta"] == 1.0 and math.isnan(one["p_value"]) and math.isnan(one["delta_low"])
    assert paired_stats([], [])["n"] == 0
    with pytest.raises(ValueError, match="b: 1 values against 2 in a"):
        paired_stats([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="level: 95 is not allowed"):
        paired_stats([1.0], [1.0], level=95)


def _side(model, ids, clip, steps=2, recipe="eager", seconds=(0.5, 0.5)) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "model_key": model, "prompt": ["cat", "dog"], "seed": 0, "width": 32,
                         "height": 32, "steps": steps, "guidance": 4.5, "recipe": recipe, "clip": clip,
                         "seconds": list(seconds), "tflop": 1e-4, "usd": math.nan})


def test_pairs_share_a_job_only_when_model_size_steps_and_guidance_agree():
    eager = _side("sd21", [1, 2], [20.0, 22.0])
    compiled = _side("sd21", [3, 4], [20.5, 21.0], recipe="compile", seconds=(0.25, 0.3))
    found = pairs.pair_rows(eager, compiled, pairs.RUN_KEYS, ("clip",)).pairs
    assert all(pairs.shares_job(r) for _, r in found.iterrows())  # only the recipe differs
    other = pairs.pair_rows(eager, _side("flux-dev", [5, 6], [25.0, 21.0]), pairs.MODEL_KEYS, ("clip",)).pairs
    assert not any(pairs.shares_job(r) for _, r in other.iterrows())  # two models
    assert all(pairs.same_job(r) for _, r in other.iterrows())  # ...of the same job shape (opt-in)
    more_steps = pairs.pair_rows(eager, _side("sd21", [7, 8], [20.0, 22.0], steps=4), pairs.RUN_KEYS).pairs
    assert not any(pairs.shares_job(r) for _, r in more_steps.iterrows())
    table = pairs.paired_table(found, ("clip",), {"clip": "CLIPScore"}).set_index("measure")
    assert list(table.index) == ["CLIPScore", "seconds (steady)", "TFLOP"]  # no USD pairs
    assert table.loc["CLIPScore", "mean Δ (B − A)"] == pytest.approx(-0.25)
    assert table.loc["seconds (steady)", "B better"] == 1.0  # compiled is faster on both
    assert table.loc["TFLOP", "B better"] == 0.5  # equal: ties count half
    compact = pairs.compact_table(pairs.paired_table(found, ("clip",), {"clip": "CLIPScore"}))
    assert compact["measure"].iloc[0] == "CLIPScore · 2" and compact["A → B"].iloc[0] == "21 → 20.8"
    assert compact["Δ [95% CI]"].iloc[0].startswith("-0.25 [")
    ordered = pairs.sort_pairs(other, "d_clip")
    assert list(ordered["prompt"]) == ["cat", "dog"] and abs(ordered["d_clip"].iloc[0]) == 5.0
    assert list(pairs.sort_pairs(other, None)["prompt"]) == list(other["prompt"])
