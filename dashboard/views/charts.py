"""Charts: latency, stages, FLOPs, memory, scaling, MFU and cost per model × configuration; quality; speed
recipes; the compute atlas. One section at a time (tabs: only the open one is computed); the filters and the
section live in the URL, so a link reopens the same view. A chart with nothing to draw is one line."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core import arena
from dashboard import arena_data, chart_arena, chart_scores, chart_view, charts, data, scores, url_state

SECTIONS = ("Speed", "Memory and compute", "Cost", "Quality", "Recipes", "Atlas")
URL = "query-params"

st.title("Charts")
url = data.db_url()


def _run_label(runs, run_id: int) -> str:
    row = runs.loc[runs["id"] == run_id]
    if row.empty:
        return f"run {run_id}"
    row = row.iloc[0]
    name = row["name"] if isinstance(row["name"], str) and row["name"] else row["kind"]
    return f"run {run_id} · {name}"


def _sizes(frame) -> list[str]:
    if frame.empty:
        return []
    pairs = frame[["width", "height"]].dropna().drop_duplicates().sort_values(["width", "height"])
    return [f"{int(w)}×{int(h)}" for w, h in pairs.itertuples(index=False)]


def _size_of(f: pd.DataFrame) -> pd.Series:
    return f["width"].astype("Int64").astype(str) + "×" + f["height"].astype("Int64").astype(str)


def _quality(weights: str, run_ids: list[int], models: list[str], sizes: list[str], steps: list[int],
             log: bool) -> None:
    """Quality against cost, per prompt category, and the distribution per model, for one metric."""
    stored = scores.scorer_weights_in_store(url)
    if not stored:
        st.info("No quality scores stored yet. Score with `python -m core.bench score --all` (or `--score "
                "clip,pick,aesthetic` on a sweep, or Generate's “Score these images”); they show here.")
        return
    c_tiny, c_metric, c_cost = st.columns([1.6, 1.4, 2], vertical_alignment="bottom")
    tiny = c_tiny.toggle("Tiny-scorer scores", value="pretrained" not in stored, key="charts_tiny_scores", bind=URL,
                         help="off: scores of the pretrained scorers only; on: those of tiny scorers (built in "
                              "code, noise: for trying the workbench), labelled as such. Never mixed.")
    scorer = "tiny" if tiny else "pretrained"
    frame = scores.score_frame(url, weights, scorer, tuple(run_ids), tuple(models))
    if sizes and not frame.empty:
        frame = frame[_size_of(frame).isin(sizes)]
    if steps:
        frame = frame[frame["steps"].isin(steps)]
    present = [m for m in chart_scores.METRIC_LABELS if m in set(frame["metric"])]
    if frame.empty or not present:
        st.info(f"No {weights}-weight images scored by {scorer} scorers match these filters"
                + (" (switch “Tiny-scorer scores” on to see the tiny scorers' ones)." if "tiny" in stored and not tiny
                   else "."))
        return
    board = arena_data.board(url, weights)  # the arena rating: one more quality axis, once there are votes
    labels = {"arena": "Arena rating (votes)"}
    metric = c_metric.selectbox("Metric", present + (["arena"] if not board.empty else []), key="charts_metric",
                                format_func=lambda m: labels.get(m) or chart_scores.metric_label(m), bind=URL)
    cost = c_cost.radio("Cost", list(chart_scores.COSTS), horizontal=True, key="charts_cost", bind=URL,
                        format_func={"seconds": "seconds", "tflop": "FLOPs", "usd": "USD per image"}.get)
    if metric == "arena":
        st.caption(f"{int(board['votes'].sum()) // 2:,} vote(s) on {weights} images · per model (votes judge models, "
                   "not configurations); the Arena page has the leaderboard.")
        chart_view.show(chart_arena.rating_vs_cost(board, cost, log=log), "arena_vs_cost")
        chart_view.show(chart_arena.category_win_rates(arena.category_win_rates(arena_data.vote_frame(url, weights))),
                        "arena_categories")
        return
    shown = frame[frame["metric"] == metric]
    st.caption(f"{shown['id'].nunique():,} scored image(s) · {shown['model_key'].nunique()} model(s) · "
               f"{scorer} scorer{' (noise scores)' if tiny else ''}; per model × configuration, never pooled.")
    chart_view.show(chart_scores.quality_vs_cost(frame, metric, cost, log=log, tiny=tiny), "quality_vs_cost")
    chart_view.show(chart_scores.score_heatmap(frame, metric, tiny=tiny), "score_heatmap")
    chart_view.show(chart_scores.score_distribution(frame, metric, tiny=tiny), "score_distribution")


def _atlas() -> None:
    st.caption("Parameters and FLOPs per image of every registry model from its architecture alone "
               "(counted on the meta device: no weights, no GPU). The filters above do not apply here.")
    atlas = data.atlas_frame(url)
    if atlas.empty:
        st.info("No compute atlas stored yet. Store it with `python -m core.bench atlas` "
                "(add `--size 512x512` or `--steps 20` for other settings); it shows here.")
        return
    choices = data.atlas_choices(atlas)
    choice = st.selectbox("Size and steps", list(choices), key="charts_atlas_config", bind=URL)
    shown = choices[choice]
    chart_view.show(charts.atlas_figure(shown), "atlas")
    unavailable = shown[~shown["available"].fillna(False).astype(bool)] if "available" in shown.columns else shown.iloc[0:0]
    for _, row in unavailable.iterrows():
        st.caption(f"**{row['model_key']}**: unavailable: {row.get('reason') or 'no reason stored'}")
    with st.expander(f"Atlas table ({len(shown)} rows)"):
        table = shown.drop(columns=[c for c in ("detail", "key") if c in shown.columns])
        st.dataframe(table, hide_index=True, width="stretch")


def _filters(stored_weights: list[str]):
    """The filters (in the URL): weights, runs, models, sizes, steps, log scale. Returns them with the rows."""
    runs = data.run_labels(url)
    with st.container(border=True):
        c_w, c_runs, c_models = st.columns([1.5, 2, 2], vertical_alignment="bottom")
        preferred = next(w for w in ("pretrained", "random", "tiny", *stored_weights) if w in stored_weights)
        weights = c_w.selectbox("Weights", stored_weights, index=stored_weights.index(preferred), key="charts_weights",
                                bind=URL, help="timings of tiny, random and pretrained weights are not comparable; "
                                               "charts show one kind at a time")
        run_options = [int(i) for i in runs["id"]]
        # runs by id in the URL (`?charts_runs=3,7`): a renamed run keeps its links
        url_state.take("charts_runs", "charts_runs", lambda t: [i for i in url_state.ints(t) if i in run_options])
        run_ids = c_runs.multiselect("Runs", run_options, key="charts_runs", placeholder="all runs",
                                     format_func=lambda r: _run_label(runs, r))
        url_state.put("charts_runs", url_state.joined(run_ids))
        models = c_models.multiselect("Models", data.model_keys(url), key="charts_models", placeholder="all models",
                                      bind=URL)
    # list prices of the API models beside the open models' estimates, read alongside
    with_api = weights != "api" and "api" in stored_weights
    frame, api_prices = data.chart_frames(url, weights, tuple(run_ids), tuple(models), with_api)
    with st.container(border=True):
        c_task, c_size, c_steps, c_log = st.columns([1.2, 1.9, 1.9, 1.6], vertical_alignment="bottom")
        tasks = sorted(frame["task"].dropna().unique()) if "task" in frame else []
        task = c_task.selectbox("Task", ["any", *tasks], key="charts_task", bind=URL,
                                help="text-to-image or edit: quality against cost per task (configurations of the "
                                     "two tasks are apart in any case: the task is part of a configuration)")
        sizes = c_size.multiselect("Sizes", _sizes(frame), key="charts_sizes", placeholder="every size",
                                    bind=URL)
        steps = c_steps.multiselect("Steps", sorted(int(s) for s in frame["steps"].dropna().unique()),
                                    key="charts_steps", placeholder="every step count", bind=URL)
        log = c_log.toggle("Log", key="charts_log", bind=URL, help="the value axis of every chart on a log scale")
    if task != "any":
        frame = frame[frame["task"] == task]
    if sizes:
        frame = frame[_size_of(frame).isin(sizes)]
        api_prices = api_prices[_size_of(api_prices).isin(sizes)] if api_prices is not None else None
    if steps:
        frame = frame[frame["steps"].isin(steps)]
    if frame.empty:
        st.warning("No successful generations match these filters.")
    else:
        first = int(frame["first_call"].fillna(False).astype(bool).sum())
        st.caption(f"{len(frame):,} successful generation(s) · {frame['model_key'].nunique()} model(s) · "
                   f"{frame['run_id'].nunique()} run(s) · {weights} weights. Every statistic is per model × "
                   f"configuration (size, steps, guidance, dtype, recipe, batch size ...: core.stats, as the CLI and export count), never pooled; "
                   f"times leave out the {first:,} first call(s) after a load (warm-up).")
    return weights, run_ids, models, sizes, steps, log, frame, api_prices


# Weights modes come from ok rows only: a failed pretrained or API attempt adds no empty view.
stored_weights = data.weights_in_store(url, status="ok")
if not stored_weights:
    st.info("Nothing to chart yet: generate on the Generate page or run a batch on Benchmark "
            "(e.g. `python -m core.bench --models sd21,sdxl --weights tiny --prompts data/prompts/smoke.txt`).")
    picked = None
else:
    picked = _filters(stored_weights)

# Only the open tab runs (bound to the URL: `?charts_section=Cost`); an empty store opens on the atlas. One chart
# per row: labels and legends need the full width at 1024 px.
tabs = dict(zip(SECTIONS, st.tabs(SECTIONS, key="charts_section", bind=URL,
                                  default="Atlas" if picked is None else None)))
with tabs["Atlas"]:
    if tabs["Atlas"].open:
        _atlas()
if picked is not None:
    weights, run_ids, models, sizes, steps, log, frame, api_prices = picked
    with tabs["Speed"]:
        if tabs["Speed"].open:
            for name, builder in (("latency", charts.latency_by_model), ("stages", charts.stage_breakdown),
                                  ("steps", charts.scaling_with_steps),
                                  ("resolution", charts.scaling_with_resolution)):
                chart_view.show(builder(frame, log), name)
            table = data.config_summary(frame)
            if not table.empty:
                with st.expander(f"p50 / p90 per model × configuration ({len(table)} rows)"):
                    st.dataframe(table, hide_index=True, width="stretch")
    with tabs["Memory and compute"]:
        if tabs["Memory and compute"].open:
            for name, builder in (("memory", charts.peak_memory_by_model), ("flops", charts.flops_vs_latency),
                                  ("mfu", charts.mfu_by_model)):
                chart_view.show(builder(frame, log), name)
    with tabs["Cost"]:
        if tabs["Cost"].open:
            cost_frame = frame
            if api_prices is not None:
                cost_frame = api_prices if frame.empty else pd.concat([frame, api_prices], ignore_index=True)
            chart_view.show(charts.cost_per_image(cost_frame, log), "cost")
    with tabs["Quality"]:
        if tabs["Quality"].open:
            _quality(weights, run_ids, models, sizes, steps, log)
    with tabs["Recipes"]:
        if tabs["Recipes"].open:
            if "recipe" in frame.columns and (frame["recipe"].fillna("eager") != "eager").any():
                # speed recipes: each lossy one with its delta against eager
                chart_view.show(charts.speedup_by_recipe(frame, log), "speedup")
                chart_view.show(charts.quality_vs_speedup(frame, log), "quality_vs_speedup")
            else:
                st.info("No speed recipe other than eager in these rows: run `--recipe eager,compile` (or choose "
                        "recipes on Benchmark) to compare them here.")
else:
    for name in SECTIONS[:-1]:
        with tabs[name]:
            if tabs[name].open:
                st.info("Nothing to chart yet.")
