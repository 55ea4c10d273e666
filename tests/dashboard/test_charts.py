"""Figure builders: a DataFrame in, a Plotly figure out; traces, axes and titles checked; empty frames handled."""
from __future__ import annotations

import json
import re

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


def _title(fig: go.Figure) -> str:
    return re.sub(r"<[^>]+>", " ", fig.layout.title.text)


def test_latency_is_per_model_and_configuration_with_p50_and_p90(frame):
    fig = charts.latency_by_model(frame)
    assert [t.name for t in fig.data] == ["sd21", "sdxl", "flux-dev", "dall-e-3"]  # fastest p50 first
    sd21 = fig.data[0]
    # 2 step counts x 2 sizes: four rows, never one pooled box
    assert list(sd21.y) == ["sd21 · 512×512 · 20 steps", "sd21 · 512×512 · 40 steps", "sd21 · 1024×1024 · 20 steps",
                            "sd21 · 1024×1024 · 40 steps"]
    steady = frame[(frame.model_key == "sd21") & (frame.steps == 20) & (frame.width == 512) & ~frame.first_call.astype(bool)]
    assert sd21.x[0] == pytest.approx(steady.total_s.median())
    assert sd21.x[0] + sd21.error_x.array[0] == pytest.approx(steady.total_s.quantile(0.9))
    assert [n for _, n in sd21.customdata] == [2, 2, 2, 2]  # the first call of each configuration left out
    title = _title(fig)
    assert "p50" in title and "p90" in title and "first call" in title and "prompts and seeds" in title
    assert "seconds" in fig.layout.xaxis.title.text


def test_latency_spread_is_over_repeats_when_rows_have_them(frame):
    with_repeats = frame.assign(repeat=[i % 3 for i in range(len(frame))], prompt="p", seed=0)
    assert "spread over repeats" in _title(charts.latency_by_model(with_repeats))
    only_first = frame.assign(repeat=0, prompt="p", seed=0)  # every row is a job's first timing: no repeats
    assert "prompts and seeds" in _title(charts.latency_by_model(only_first))


def test_only_first_calls_says_so():
    rows = pd.DataFrame({"model_key": ["a"], "status": "ok", "total_s": [3.0], "first_call": [True]})
    fig = charts.latency_by_model(rows)
    assert len(fig.data) == 0 and "first calls" in _annotation(fig)


@pytest.mark.parametrize("builder", [b for n, b in charts.ALL_CHARTS.items() if n != "flops_vs_latency"],
                         ids=lambda b: b.__name__)
def test_log_option_puts_the_value_axis_on_a_log_scale(builder, frame):
    est = frame.assign(cost_est_usd=frame["total_s"] / 1000)
    plain, logged = builder(est), builder(est, log=True)
    axes = lambda f: (f.layout.xaxis.type, f.layout.yaxis.type)  # noqa: E731
    assert "log" not in axes(plain) or builder is charts.scaling_with_resolution
    assert "log" in axes(logged)


def test_flops_vs_latency_log_y(frame):
    assert charts.flops_vs_latency(frame, log=True).layout.yaxis.type == "log"


def test_stage_breakdown_stacks_stages_and_other_per_configuration(frame):
    fig = charts.stage_breakdown(frame)
    assert [t.name for t in fig.data] == ["Text encoding", "Denoising", "VAE decode", "Other"]
    assert fig.layout.barmode == "stack" and all(t.orientation == "h" for t in fig.data)
    assert len(fig.data[0].y) == 12  # 3 models x 4 configurations
    sums = sum(np.asarray(t.x, dtype=float) for t in fig.data)
    ok = frame[(frame.status == "ok") & ~frame.first_call.fillna(False).astype(bool)]
    med = ok[ok.model_key == "sdxl"].groupby(["width", "steps"])["total_s"].median()
    label = list(fig.data[0].y).index("sdxl · 1024×1024 · 40 steps")
    assert sums[label] == pytest.approx(med[(1024, 40)])


def test_pareto_front_keeps_points_nothing_beats_on_both_axes():
    points = pd.DataFrame({"x": [1, 2, 3, 4, 2.5], "y": [5, 3, 4, 1, 2]})
    front = charts.pareto_front(points, "x", "y")
    assert list(zip(front["x"], front["y"])) == [(1, 5), (2, 3), (2.5, 2), (4, 1)]
    assert charts.pareto_front(points.iloc[0:0], "x", "y").empty


def test_flops_vs_latency_points_per_config_and_a_visible_front(frame):
    fig = charts.flops_vs_latency(frame)
    scatter = [t for t in fig.data if not t.name.startswith("Pareto front")]
    assert {t.name for t in scatter} == {"sd21", "sdxl", "flux-dev"}  # the API model has no FLOPs
    assert all(len(t.x) == 4 for t in scatter)  # 2 step counts x 2 sizes
    front = next(t for t in fig.data if t.name.startswith("Pareto front"))
    assert "markers" in front.mode and front.marker.size >= 16 and len(front.x) >= 1
    assert "2 × MACs" in fig.layout.xaxis.title.text


def test_a_single_dominating_point_still_draws_the_front():
    rows = pd.DataFrame({"model_key": ["a", "b", "c"], "status": "ok", "total_s": [1.0, 2.0, 3.0],
                         "flops_total": [1e12, 2e12, 3e12], "width": 64, "height": 64, "steps": 2})
    front = next(t for t in charts.flops_vs_latency(rows).data if t.name.startswith("Pareto front"))
    assert list(front.x) == [1.0] and "one point" in front.name and "markers" in front.mode


def test_flop_units_follow_the_magnitude():
    assert charts.flop_unit(4.8e7) == ("MFLOP", 1e6)
    assert charts.flop_unit(2e14) == ("TFLOP", 1e12)
    tiny = pd.DataFrame({"model_key": ["a", "b"], "status": "ok", "total_s": [0.1, 0.2], "flops_total": [5e7, 9e7]})
    assert "MFLOP" in charts.flops_vs_latency(tiny).layout.xaxis.title.text


def test_peak_memory_per_configuration(frame):
    fig = charts.peak_memory_by_model(frame)
    assert {t.name for t in fig.data} == {"sd21", "sdxl", "flux-dev"}
    flux = next(t for t in fig.data if t.name == "flux-dev")
    assert len(flux.y) == 4 and max(flux.x) == pytest.approx(36.2)
    assert "GB" in fig.layout.xaxis.title.text


def test_scaling_never_pools_the_other_setting(frame):
    steps = charts.scaling_with_steps(frame)
    names = {t.name for t in steps.data}
    assert names == {f"{m} · {s}" for m in ("sd21", "sdxl", "flux-dev") for s in ("512×512", "1024×1024")}
    assert all(list(t.x) == [20, 40] for t in steps.data)
    sd_small = next(t for t in steps.data if t.name == "sd21 · 512×512")
    ok = frame[(frame.model_key == "sd21") & (frame.width == 512) & (frame.steps == 20) & ~frame.first_call.astype(bool)]
    assert sd_small.y[0] == pytest.approx(ok.total_s.median())
    res = charts.scaling_with_resolution(frame)
    assert {t.name for t in res.data} == {f"{m} · {s} steps" for m in ("sd21", "sdxl", "flux-dev") for s in (20, 40)} | {"dall-e-3"}
    sd = next(t for t in res.data if t.name == "sd21 · 20 steps")
    assert list(sd.x) == pytest.approx([0.262, 1.049], abs=1e-3) and sd.y[1] > sd.y[0]


def test_mfu_in_percent_per_configuration(frame):
    fig = charts.mfu_by_model(frame)
    assert {t.name for t in fig.data} == {"sd21", "sdxl", "flux-dev"}
    assert all(30 <= v <= 32 for t in fig.data for v in t.x)
    assert "%" in fig.layout.xaxis.title.text


def test_cost_shows_list_prices_and_open_model_estimates_labelled(frame):
    fig = charts.cost_per_image(frame)
    (bar,) = fig.data
    assert list(bar.y) == ["dall-e-3 · 1024×1024"] and list(bar.x) == [pytest.approx(0.04)]
    est = frame.assign(cost_est_usd=np.where(frame.weights == "pretrained", frame.total_s * 3.0 / 3600, np.nan))
    fig = charts.cost_per_image(est)
    sd = next(t for t in fig.data if t.name == "sd21")
    assert all(label.endswith("(estimate)") for label in sd.y)
    assert set(sd.marker.pattern.shape) == {"/"}
    assert "estimate" in _title(fig)


def test_every_registry_model_has_its_own_colour_on_every_chart(frame):
    from core.registry import model_keys

    keys = model_keys()
    colours = charts.model_colors(keys)
    assert len(keys) >= 30 and len(set(colours.values())) == len(keys)
    assert charts.model_colors(["sdxl"])["sdxl"] == colours["sdxl"]  # stable whatever else is drawn
    assert colours["hunyuandit"] != colours["cogview4"] and colours["sd3-medium"] != colours["lumina2"]
    latency = {t.name: t.marker.color for t in charts.latency_by_model(frame).data}
    scatter = {t.name: t.marker.color for t in charts.flops_vs_latency(frame).data if t.name in latency}
    memory = {t.name: t.marker.color for t in charts.peak_memory_by_model(frame).data}
    for model, colour in scatter.items():
        assert latency[model] == colour == memory[model] == colours[model]


@pytest.mark.parametrize("builder", list(charts.ALL_CHARTS.values()), ids=lambda b: b.__name__)
def test_titles_wrap_instead_of_running_off_a_half_width_chart(builder, frame):
    from dashboard.chart_style import NOTE_WIDTH, TITLE_WIDTH

    fig = builder(frame.assign(cost_est_usd=frame["total_s"] / 1000))
    lines = [re.sub(r"<[^>]+>", "", line) for line in fig.layout.title.text.split("<br>")]
    assert all(len(line) <= max(TITLE_WIDTH, NOTE_WIDTH) for line in lines)
    assert fig.layout.margin.t >= 20 * len(lines)  # room above the plot for every line


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
        "denoise_s": [0.7, 0.6], "decode_s": [0.1, 0.2], "width": 64, "height": 64, "steps": 2,
    })
    fig = charts.stage_breakdown(frame)
    stacked = {t.name: dict(zip(t.y, t.x)) for t in fig.data}
    cascade = sum(np.nan_to_num(v.get("stable-cascade · 64×64 · 2 steps", 0.0))
                  for name, v in stacked.items() if name != "Other")
    assert cascade == pytest.approx(0.9)  # text 0.1 + prior 0.3 + decoder 0.4 + decode 0.1
    assert stacked["Other"]["stable-cascade · 64×64 · 2 steps"] == pytest.approx(0.1)
    assert stacked["Denoising"]["sd21 · 64×64 · 2 steps"] == pytest.approx(0.6)


@pytest.mark.parametrize("builder", list(charts.ALL_CHARTS.values()), ids=lambda b: b.__name__)
def test_unvalidated_traces_are_valid_plotly(builder, frame):
    """Builders skip plotly's per-property validation for speed: the figure must still validate in full."""
    fig = builder(frame.assign(cost_est_usd=frame["total_s"] / 1000), log=True)
    checked = go.Figure(fig.to_dict())  # validates every trace and layout property; raises on a typo
    # and nothing was left for validation to rewrite (a `marker_color=` would be sent to the browser as is)
    assert json.loads(checked.to_json()) == json.loads(fig.to_json())


def test_cost_takes_list_prices_aggregated_per_configuration(frame):
    rows = frame[frame.model_key == "dall-e-3"]
    aggregated = pd.DataFrame({"model_key": ["dall-e-3"], "status": "ok", "weights": "api", "width": [1024],
                               "height": [1024], "steps": [None], "cost_usd": [0.04], "n": [2]})
    a, b = charts.cost_per_image(rows).data[0], charts.cost_per_image(aggregated).data[0]
    assert list(a.y) == list(b.y) and list(a.x) == list(b.x) and a.customdata[0][1] == b.customdata[0][1] == 2
