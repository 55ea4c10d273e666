"""Charts: latency, stages, FLOPs, memory, scaling, MFU and cost from the store; the compute atlas."""
from __future__ import annotations

import streamlit as st

from dashboard import charts, data

st.title("Charts")
url = data.db_url()


def _run_label(runs, run_id: int) -> str:
    row = runs.loc[runs["id"] == run_id].iloc[0]
    name = row["name"] if isinstance(row["name"], str) and row["name"] else row["kind"]
    return f"run {run_id} · {name}"


stored_weights = data.weights_in_store(url)
if not stored_weights:
    st.info("Nothing to chart yet: generate on the Generate page or run a batch on Benchmark "
            "(e.g. `python -m core.bench --models sd21,sdxl --weights tiny --prompts data/prompts/smoke.txt`).")
else:
    runs = data.runs_frame(url, limit=200)
    with st.container(border=True):
        c_w, c_runs, c_models, c_first = st.columns([1.3, 3, 3, 1.6], vertical_alignment="bottom")
        preferred = next(w for w in ("pretrained", "random", "tiny", *stored_weights) if w in stored_weights)
        weights = c_w.selectbox("Weights", stored_weights, index=stored_weights.index(preferred), key="charts_weights",
                                help="timings of tiny, random and pretrained weights are not comparable; "
                                     "charts show one kind at a time")
        run_ids = c_runs.multiselect(
            "Runs", [int(i) for i in runs["id"]], key="charts_runs", placeholder="all runs",
            format_func=lambda r: _run_label(runs, r))
        models = c_models.multiselect("Models", data.model_keys(url), key="charts_models", placeholder="all models")
        include_first = c_first.toggle("Include first calls", key="charts_first",
                                       help="the first call after a load includes warm-up (compilation, caches); "
                                            "left out by default")
    frame = data.chart_frame(url, weights, tuple(run_ids), tuple(models), include_first)
    if frame.empty:
        st.warning("No successful generations match these filters"
                   + ("" if include_first else " (first calls after load are left out; include them to see more)")
                   + ".")
    else:
        st.caption(f"{len(frame):,} successful generation(s) · {frame['model_key'].nunique()} model(s) · "
                   f"{frame['run_id'].nunique()} run(s) · {weights} weights")
    plot = lambda fig: st.plotly_chart(fig, width="stretch", config={"displaylogo": False})  # noqa: E731
    c1, c2 = st.columns(2)
    with c1:
        plot(charts.latency_by_model(frame))
    with c2:
        plot(charts.stage_breakdown(frame))
    c1, c2 = st.columns(2)
    with c1:
        plot(charts.flops_vs_latency(frame))
    with c2:
        plot(charts.peak_memory_by_model(frame))
    c1, c2 = st.columns(2)
    with c1:
        plot(charts.scaling_with_steps(frame))
    with c2:
        plot(charts.scaling_with_resolution(frame))
    c1, c2 = st.columns(2)
    with c1:
        plot(charts.mfu_by_model(frame))
    with c2:
        cost_frame = data.chart_frame(url, "api", tuple(run_ids), tuple(models), True) if weights != "api" \
            and "api" in stored_weights else frame
        plot(charts.cost_per_image(cost_frame))

st.header("Compute atlas")
st.caption("Parameters and FLOPs per image of every registry model from its architecture alone "
           "(counted on the meta device: no weights, no GPU).")
atlas = data.atlas_frame(url)
if atlas.empty:
    st.info("No compute atlas stored yet. Store it with `python -m core.bench atlas` "
            "(add `--size 512x512` or `--steps 20` for other settings); it shows here.")
else:
    choices = data.atlas_choices(atlas)
    choice = st.selectbox("Size and steps", list(choices), key="charts_atlas_config")
    shown = choices[choice]
    st.plotly_chart(charts.atlas_figure(shown), width="stretch", config={"displaylogo": False})
    unavailable = shown[~shown["available"].fillna(False).astype(bool)] if "available" in shown.columns else shown.iloc[0:0]
    for _, row in unavailable.iterrows():
        st.caption(f"**{row['model_key']}**: unavailable: {row.get('reason') or 'no reason stored'}")
    with st.expander(f"Atlas table ({len(shown)} rows)"):
        table = shown.drop(columns=[c for c in ("detail", "key") if c in shown.columns])
        st.dataframe(table, hide_index=True, width="stretch")
