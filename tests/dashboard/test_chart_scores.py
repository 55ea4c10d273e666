"""Quality chart builders and the Compare page's pairing, without Streamlit, on hand-made frames."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard import chart_scores, pairs
from dashboard.chart_style import model_colors


def _frame() -> pd.DataFrame:
    """sd21 at two sizes and flux-dev at one; clip and pick scores; categories; one first call."""
    rows = []
    specs = [("sd21", 32, [(0.5, 20.0, "objects"), (0.7, 22.0, "colour"), (0.6, 24.0, "colour")]),
             ("sd21", 64, [(2.0, 30.0, "objects"), (2.2, 31.0, "colour")]),
             ("flux-dev", 32, [(0.3, 25.0, "objects"), (0.4, 27.0, "colour"), (9.9, 26.0, "objects")])]
    gid = 0
    for model, size, items in specs:
        for i, (seconds, clip, category) in enumerate(items):
            gid += 1
            base = dict(id=gid, run_id=1, model_key=model, weights="tiny", width=size, height=size, steps=2,
                        total_s=seconds, flops_total=1e12 * size / 32, cost_usd=None,
                        cost_est_usd=seconds * 3.6 / 3600, first_call=seconds == 9.9, category=category,
                        prompt=f"p{i}", seed=0, scorer_weights="tiny")
            rows.append({**base, "metric": "clip", "value": clip})
            rows.append({**base, "metric": "pick", "value": clip / 2})
    return pd.DataFrame(rows)


def test_quality_front_keeps_only_points_nothing_beats_on_both():
    points = pd.DataFrame({"name": list("ABCDEFG"), "cost": [1, 2, 2, 3, 0.5, 4, 1],
                           "quality": [10, 12, 11, 11, 5, 15, 9]})
    front = chart_scores.quality_front(points, "cost", "quality")
    assert list(front["name"]) == ["E", "A", "B", "F"]  # C, D (beaten by B) and G (beaten by A) are off
    # every point off the front is beaten by one on it: lower or equal cost and higher or equal quality
    for _, p in points[~points["name"].isin(front["name"])].iterrows():
        assert ((front["cost"] <= p["cost"]) & (front["quality"] >= p["quality"])).any()
    # a tie on both keeps one point
    tie = pd.DataFrame({"cost": [1.0, 1.0], "quality": [3.0, 3.0]})
    assert len(chart_scores.quality_front(tie, "cost", "quality")) == 1


def test_quality_points_are_per_model_and_configuration_with_first_calls_left_out_of_seconds():
    points = chart_scores.quality_points(_frame(), "clip", "seconds").set_index("label")
    assert set(points.index) == {"sd21 · 32×32 · 2 steps", "sd21 · 64×64 · 2 steps", "flux-dev · 32×32 · 2 steps"}
    assert points.loc["sd21 · 32×32 · 2 steps", "quality"] == 22.0  # median of 20, 22, 24
    assert points.loc["sd21 · 64×64 · 2 steps", "cost"] == pytest.approx(2.1)
    flux = points.loc["flux-dev · 32×32 · 2 steps"]
    assert flux["cost"] == pytest.approx(0.35)  # the 9.9 s first call is no per-image cost ...
    assert flux["quality"] == 26.0 and flux["n"] == 3  # ... but its image's score counts
    tflop = chart_scores.quality_points(_frame(), "clip", "tflop").set_index("label")
    assert tflop.loc["sd21 · 64×64 · 2 steps", "cost"] == pytest.approx(2e12)  # FLOPs; the figure picks a unit
    fig = chart_scores.quality_vs_cost(_frame(), "clip", "tflop")
    assert fig.layout.xaxis.title.text.startswith("TFLOP per call")
    assert {t.name: t.x[0] for t in fig.data}["sd21 · 64×64 · 2 steps"] == pytest.approx(2.0)
    usd = chart_scores.quality_points(_frame(), "clip", "usd").set_index("label")
    assert usd.loc["sd21 · 64×64 · 2 steps", "cost"] == pytest.approx(2.1 / 1000)


def test_quality_vs_cost_draws_each_model_in_its_colour_and_the_front():
    fig = chart_scores.quality_vs_cost(_frame(), "clip", "seconds", tiny=True)
    colors = model_colors(["sd21", "flux-dev"])
    by_name = {t.name: t for t in fig.data}
    sd32, sd64, flux = (by_name[f"{m} · {s}×{s} · 2 steps"] for m, s in (("sd21", 32), ("sd21", 64), ("flux-dev", 32)))
    assert sd32.marker.color == sd64.marker.color == colors["sd21"] and flux.marker.color == colors["flux-dev"]
    assert sd32.marker.symbol != sd64.marker.symbol  # one symbol per configuration
    assert sd32.legendgroup == "sd21"
    front = by_name["Pareto front"]
    # flux-dev 32 (0.35 s, 26) beats sd21 32 (0.6 s, 22); sd21 64 (2.1 s, 30.5) is better and dearer
    assert list(front.x) == pytest.approx([0.35, 2.1]) and list(front.y) == pytest.approx([26.0, 30.5])
    assert "tiny scorer" in fig.layout.title.text and "p50" in fig.layout.title.text
    assert "tiny scorer" in fig.layout.yaxis.title.text
    with pytest.raises(ValueError, match="cost: 'joules'"):
        chart_scores.quality_vs_cost(_frame(), "clip", "joules")


def test_quality_vs_cost_without_prices_says_why():
    frame = _frame().assign(cost_est_usd=None)
    fig = chart_scores.quality_vs_cost(frame, "clip", "usd")
    assert not fig.data and "no scored images with a price" in fig.layout.annotations[0].text


def test_heatmap_holds_the_mean_per_model_configuration_and_category():
    fig = chart_scores.score_heatmap(_frame(), "clip")
    (heat,) = fig.data
    z = pd.DataFrame(heat.z, index=heat.y, columns=heat.x)
    assert z.loc["sd21 · 32×32 · 2 steps", "colour"] == 23.0 and z.loc["sd21 · 32×32 · 2 steps", "objects"] == 20.0
    assert z.loc["flux-dev · 32×32 · 2 steps", "objects"] == 25.5
    assert "tiny" not in fig.layout.title.text and "category" in fig.layout.title.text


def test_distribution_has_one_box_per_model_and_configuration_best_median_first():
    fig = chart_scores.score_distribution(_frame(), "pick")
    names = [t.name for t in fig.data]
    assert names == ["sd21 · 64×64 · 2 steps", "flux-dev · 32×32 · 2 steps", "sd21 · 32×32 · 2 steps"]
    assert all(t.type == "box" for t in fig.data)
    assert fig.data[1].marker.color == model_colors(["flux-dev"])["flux-dev"]
    assert sorted(fig.data[0].x) == [15.0, 15.5]


def test_empty_frames_give_empty_figures_that_say_so():
    for fig in (chart_scores.quality_vs_cost(pd.DataFrame(), "clip"), chart_scores.score_heatmap(None, "clip"),
                chart_scores.score_distribution(_frame(), "aesthetic")):
        assert not fig.data and fig.layout.annotations


def _side(model: str, ids, prompts, clip) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "model_key": model, "prompt": prompts, "seed": 0, "width": 32, "height": 32,
                         "clip": clip, "clip_weights": "tiny", "pick": math.nan})


def test_pairs_match_prompts_and_seeds_and_list_what_one_side_has():
    a = _side("sd21", [1, 2, 3, 9], ["cat", "dog", "sea", "cat"], [20.0, 22.0, 30.0, 21.0])
    b = _side("flux-dev", [4, 5, 6], ["cat", "dog", "sky"], [25.0, None, 31.0]).assign(width=[32, 64, 32])
    found = pairs.pair_rows(a, b, pairs.MODEL_KEYS, ("clip", "pick"))
    got = found.pairs.set_index("prompt")
    assert list(got.index) == ["cat", "dog"]
    assert got.loc["cat", "id_a"] == 9  # the newest row of a repeated job
    assert got.loc["cat", "d_clip"] == pytest.approx(4.0) and math.isnan(got.loc["dog", "d_clip"])
    assert list(found.only_a["prompt"]) == ["sea"] and list(found.only_b["prompt"]) == ["sky"]
    assert pairs.same_job(got.loc["cat"].to_dict() | {"prompt": "cat"})
    assert not pairs.same_job(got.loc["dog"].to_dict() | {"prompt": "dog"})  # 32 against 64 px
    summary = pairs.delta_summary(found.pairs, ("clip", "pick")).set_index("metric")
    assert list(summary.index) == ["clip"]  # pick: no pair scored on both sides
    assert summary.loc["clip", "pairs"] == 1 and summary.loc["clip", "mean Δ (B − A)"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="seed"):
        pairs.pair_rows(a.drop(columns="seed"), b, pairs.MODEL_KEYS)
