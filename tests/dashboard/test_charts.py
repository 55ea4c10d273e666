"""Figure builders: a DataFrame in, a Plotly figure out; traces, axes and titles checked; empty frames handled."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts


@pytest.fixture
def frame() -> pd.DataFrame:
    """Three models, repeats, two step counts and two sizes, one failure, one API model with a cost."""
    rng = np.random.default_rng(0)
    rows = []
    for model, base, flops, mem in (("sd21", 1.0, 2e14, 4.0), ("sdxl", 2.0, 4e14, 9.0), ("flux-dev", 6.0, 2e15, 36.0)):
        for steps in (20, 40):
            for side in (512, 1024):
                for rep in range(3):
                    scale = steps / 20 * (side / 512) ** 2
                    total = base * scale * (1 + 0.05 * rng.standard_normal())
                    rows.append(dict(model_key=model, status="ok", weights="pretrained", run_id=1, first_call=rep == 0,
                                     steps=steps, width=side, height=side, total_s=total, text_encode_s=0.05 * total,
                                     denoise_s=0.85 * total, decode_s=0.08 * total, prior_s=None, decoder_s=None,
                                     peak_mem_gb=mem + 0.1 * rep, flops_total=flops * scale,
                                     tflops_per_s=flops * scale / total / 1e12, mfu=0.3 + 0.01 * rep, cost_usd=None))
    rows.append(dict(model_key="sdxl", status="failed", total_s=None, steps=20, width=512, height=512))
    for _ in range(2):
        rows.append(dict(model_key="dall-e-3", status="ok", weights="api", total_s=8.0, cost_usd=0.04,
                         width=1024, height=1024))
    return pd.DataFrame(rows)


EMPTY = pd.DataFrame()
BUILDERS = list(charts.ALL_CHARTS.values()) + [charts.atlas_figure]


def _annotation(fig: go.Figure) -> str:
    return " ".join(a.text for a in fig.layout.annotations)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_every_builder_handles_an_empty_frame(builder):
    for empty in (EMPTY, None, pd.DataFrame({"model_key": []}), pd.DataFrame({"unrelated": [1, 2]})):
        fig = builder(empty)
        assert isinstance(fig, go.Figure)
        assert len(fig.data) == 0
        assert fig.layout.title.text
        assert _annotation(fig), "an empty chart says why it is empty"


@pytest.mark.parametrize("builder", list(charts.ALL_CHARTS.values()), ids=lambda b: b.__name__)
def test_builders_leave_failed_rows_out_and_never_raise_on_all_missing_values(builder, frame):
    only_failed = frame[frame["status"] == "failed"]
    assert len(builder(only_failed).data) == 0
    fig = builder(frame)
    assert isinstance(fig, go.Figure) and fig.layout.title.text


def test_latency_by_model_has_one_box_per_model_ordered_by_median(frame):
    fig = charts.latency_by_model(frame)
    assert [t.type for t in fig.data] == ["box"] * 4
    assert [t.name for t in fig.data] == ["sd21", "sdxl", "dall-e-3", "flux-dev"]  # fastest (median) first
    assert fig.data[0].boxpoints == "all"  # few repeats: every point drawn
    assert "seconds" in fig.layout.yaxis.title.text
    assert fig.layout.title.text.startswith("Latency per model")
    assert len(fig.data[0].y) == 12


def test_latency_boxes_draw_only_outliers_for_many_points():
    many = pd.DataFrame({"model_key": ["a"] * 1000, "status": "ok", "total_s": np.linspace(1, 2, 1000)})
    assert charts.latency_by_model(many).data[0].boxpoints == "outliers"


def test_stage_breakdown_stacks_stages_and_other(frame):
    fig = charts.stage_breakdown(frame)
    names = [t.name for t in fig.data]
    assert names == ["Text encoding", "Denoising", "VAE decode", "Other"]
    assert fig.layout.barmode == "stack"
    assert all(t.type == "bar" for t in fig.data)
    # the stages and "other" add up to the mean total per model
    sums = sum(np.asarray(t.y, dtype=float) for t in fig.data)
    means = frame[frame.status == "ok"].groupby("model_key")["total_s"].mean()
    for model, total in zip(fig.data[0].x, sums):
        assert total == pytest.approx(means[model])
    assert "seconds" in fig.layout.yaxis.title.text


def test_pareto_front_keeps_points_nothing_beats_on_both_axes():
    points = pd.DataFrame({"x": [1, 2, 3, 4, 2.5], "y": [5, 3, 4, 1, 2]})
    front = charts.pareto_front(points, "x", "y")
    assert list(zip(front["x"], front["y"])) == [(1, 5), (2, 3), (2.5, 2), (4, 1)]
    assert charts.pareto_front(points.iloc[0:0], "x", "y").empty


def test_flops_vs_latency_points_per_config_and_front(frame):
    fig = charts.flops_vs_latency(frame)
    scatter = [t for t in fig.data if t.name != "Pareto front"]
    assert {t.name for t in scatter} == {"sd21", "sdxl", "flux-dev"}  # the API model has no FLOPs
    assert all(len(t.x) == 4 for t in scatter)  # 2 step counts x 2 sizes
    front = next(t for t in fig.data if t.name == "Pareto front")
    assert front.mode == "lines" and len(front.x) >= 1
    assert "FLOPs" in fig.layout.xaxis.title.text and "2 × MACs" in fig.layout.xaxis.title.text
    assert "TFLOP" in fig.layout.xaxis.title.text or "PFLOP" in fig.layout.xaxis.title.text
    assert fig.layout.xaxis.type != "log"  # one order of magnitude here


def test_flop_units_follow_the_magnitude():
    assert charts.flop_unit(4.8e7) == ("MFLOP", 1e6)
    assert charts.flop_unit(2e14) == ("TFLOP", 1e12)
    assert charts.flop_unit(3e15)[0] == "PFLOP"
    tiny = pd.DataFrame({"model_key": ["a", "b"], "status": "ok", "total_s": [0.1, 0.2], "flops_total": [5e7, 9e7]})
    assert "MFLOP" in charts.flops_vs_latency(tiny).layout.xaxis.title.text


def test_peak_memory_bars_with_mean_markers(frame):
    fig = charts.peak_memory_by_model(frame)
    bars, means = fig.data
    assert bars.type == "bar" and list(bars.x) == ["sd21", "sdxl", "flux-dev"]
    assert max(bars.y) == pytest.approx(36.2)
    assert means.type == "scatter"
    assert "GB" in fig.layout.yaxis.title.text


def test_scaling_with_steps_and_resolution(frame):
    steps = charts.scaling_with_steps(frame)
    assert {t.name for t in steps.data} == {"sd21", "sdxl", "flux-dev"}  # the API model has no steps
    assert all(list(t.x) == [20, 40] for t in steps.data)
    assert steps.layout.xaxis.title.text == "denoising steps"
    # error bars are never below zero
    for t in steps.data:
        assert all(m - lo >= 0 for m, lo in zip(t.y, t.error_y.arrayminus))
    res = charts.scaling_with_resolution(frame)
    assert "megapixels" in res.layout.xaxis.title.text
    sd = next(t for t in res.data if t.name == "sd21")
    assert list(sd.x) == pytest.approx([0.262, 1.049], abs=1e-3)
    assert sd.y[1] > sd.y[0]


def test_mfu_in_percent(frame):
    fig = charts.mfu_by_model(frame)
    assert {t.name for t in fig.data} == {"sd21", "sdxl", "flux-dev"}
    assert all(30 <= v <= 32 for t in fig.data for v in t.y)
    assert "%" in fig.layout.yaxis.title.text


def test_cost_per_image_only_priced_models(frame):
    fig = charts.cost_per_image(frame)
    (bar,) = fig.data
    assert list(bar.x) == ["dall-e-3"] and list(bar.y) == [pytest.approx(0.04)]
    assert "USD" in fig.layout.yaxis.title.text
    assert bar.text[0] == "$0.040"


def test_same_model_same_colour_everywhere(frame):
    colours = charts.model_colors(frame["model_key"])
    latency = {t.name: t.marker.color for t in charts.latency_by_model(frame).data}
    scatter = {t.name: t.marker.color for t in charts.flops_vs_latency(frame).data if t.name != "Pareto front"}
    for model, colour in scatter.items():
        assert latency[model] == colour == colours[model]


@pytest.fixture
def atlas() -> pd.DataFrame:
    return pd.DataFrame([
        dict(model_key="sd21", width=768, height=768, steps=50, available=True, params_total=1.29e9,
             flops_text_encode=0.09e12, flops_denoise=214.9e12, flops_decode=5.75e12, flops_per_image=220.8e12),
        dict(model_key="sdxl", width=1024, height=1024, steps=30, available=True, params_total=3.47e9,
             flops_text_encode=0.11e12, flops_denoise=405.7e12, flops_decode=10.47e12, flops_per_image=416.3e12),
        dict(model_key="hidream-dev", width=1024, height=1024, steps=28, available=False, reason="no config",
             params_total=30.8e9, flops_per_image=None),
    ])


def test_atlas_stacks_stages_and_leaves_unavailable_out(atlas):
    fig = charts.atlas_figure(atlas)
    assert [t.name for t in fig.data] == ["Text encoding", "Denoising", "VAE decode"]
    assert list(fig.data[1].y) == ["sd21", "sdxl"]  # smallest first; hidream-dev is unavailable
    assert fig.data[1].orientation == "h"
    assert fig.layout.barmode == "stack"
    assert "TFLOP per image" in fig.layout.xaxis.title.text
    assert fig.layout.xaxis.type != "log"


def test_atlas_over_orders_of_magnitude_uses_totals_on_a_log_axis(atlas):
    big = pd.concat([atlas, pd.DataFrame([dict(model_key="qwen-image", width=1328, height=1328, steps=50,
                                               available=True, flops_per_image=12915e12)])])
    small = big.assign(flops_per_image=big["flops_per_image"].where(big["model_key"] != "sd21", 1.0e12))
    fig = charts.atlas_figure(small)
    assert len(fig.data) == 1 and fig.layout.xaxis.type == "log"
    assert list(fig.data[0].y) == ["sd21", "sdxl", "qwen-image"]


def test_atlas_labels_sizes_when_a_model_appears_twice(atlas):
    twice = pd.concat([atlas, atlas.iloc[[0]].assign(width=512, height=512, flops_per_image=90e12)])
    fig = charts.atlas_figure(twice)
    assert "sd21 (512×512)" in list(fig.data[0].y)


def test_stage_breakdown_does_not_count_cascade_denoising_twice():
    frame = pd.DataFrame({
        "model_key": ["stable-cascade", "sd21"], "status": ["ok", "ok"], "total_s": [1.0, 1.0],
        "text_encode_s": [0.1, 0.1], "prior_s": [0.3, None], "decoder_s": [0.4, None],
        "denoise_s": [0.7, 0.6], "decode_s": [0.1, 0.2],
    })
    fig = charts.stage_breakdown(frame)
    stacked = {t.name: dict(zip(t.x, t.y)) for t in fig.data}
    cascade = sum(np.nan_to_num(v.get("stable-cascade", 0.0)) for name, v in stacked.items() if name != "Other")
    assert cascade == pytest.approx(0.9)  # text 0.1 + prior 0.3 + decoder 0.4 + decode 0.1
    assert stacked["Other"]["stable-cascade"] == pytest.approx(0.1)
    assert stacked["Denoising"]["sd21"] == pytest.approx(0.6)
