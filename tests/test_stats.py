"""Numbers that agree everywhere: for every configuration, the CLI summary, `export summary`, the Charts data and
Compare give the same n and p50, and no two configurations pool (issue 17)."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from core import export, stats
from core.store import Generation, Run, Score, add_run, add_scores, bulk_add_generations, session_scope
from core.summary import Summary
from dashboard import charts, compare_data, data
from dashboard.chart_scores import quality_vs_cost

MODELS = ("sdxl", "pixart-sigma")


@pytest.fixture
def seeded(db):
    """Three runs: eager and compile rows, two guidance values, two weights modes, first calls, scored and unscored
    rows, a failure, a repeat; seconds drawn so that pooling any two configurations would move their p50."""
    rng = np.random.default_rng(7)
    now = datetime.now(timezone.utc)
    runs, rows = {}, []
    with session_scope(db) as s:
        for name, weights in (("a", "tiny"), ("b", "tiny"), ("c", "random")):
            runs[name] = add_run(session=s, run=Run(kind="bench", weights=weights, status="finished", name=name)).id
        plan = itertools.product(("a", "b", "c"), MODELS, (5.0, 7.5), ("eager", "compile"), range(6))
        for i, (run, model, guidance, recipe, j) in enumerate(plan):
            if run == "c" and recipe == "compile":
                continue  # a run without recipes
            base = {"a": 1.0, "b": 2.0, "c": 4.0}[run] * (1 + guidance / 10) * (0.5 if recipe == "compile" else 1)
            first = j == 0
            rows.append(dict(
                run_id=runs[run], job_key=f"k{i}", model_key=model, weights="random" if run == "c" else "tiny",
                prompt=f"p{j % 3}", seed=j // 3, steps=4, guidance=guidance, width=64, height=64, dtype="float32",
                scheduler="EulerDiscreteScheduler", recipe=recipe, repeat=int(j >= 5), first_call=first,
                status="failed" if j == 4 and model == "sdxl" else "ok", created_at=now,
                total_s=float(base * (30 if first else 1) * rng.uniform(0.8, 1.2)), extra={}, profile={},
                api_params={}, compile_s=5.0 if recipe == "compile" and first else None))
        bulk_add_generations(session=s, rows=rows)
        ids = [g.id for g in s.query(Generation).filter(Generation.status == "ok").order_by(Generation.id)]
        add_scores(session=s, scores=[Score(generation_id=g, metric="clip", value=float(rng.uniform(20, 30)),
                                            scorer_id="tiny", scorer_revision="r", weights="tiny")
                                      for g in ids[::3]])  # a third of the rows scored
    return runs


def _by_config(table: pd.DataFrame) -> dict[tuple[str, str], tuple[int, float]]:
    table = table[table["n"] > 0]
    assert not table.duplicated(["model_key", "config"]).any(), "two rows of one configuration"
    return {(m, c): (int(n), round(float(p), 9)) for m, c, n, p in
            zip(table["model_key"], table["config"], table["n"], table["p50_s"])}


def _cli_summary(db, run_id: int) -> dict:
    with session_scope(db, read_only=True) as s:
        recorded = s.query(Generation).filter(Generation.run_id == run_id).order_by(Generation.id).all()
        summary = Summary(run_id=run_id)
        summary.add(recorded)
    return _by_config(summary.table_frame())


def _chart(db_url: str, run_id: int, weights: str) -> dict:
    frame = data.chart_frame(db_url, weights=weights, run_ids=(run_id,))
    fig = charts.latency_by_model(frame)
    out = {}
    for t in fig.data:
        for label, p50, (p90, n) in zip(t.y, t.x, t.customdata):
            model, config = label.split(" · ", 1)
            out[model, config] = (int(n), round(float(p50), 9))
    return out


def _compare(db_url: str, run_id: int) -> dict:
    rows = compare_data.side_rows(db_url, run_ids=(run_id,))
    return _by_config(compare_data.side_table(rows).rename(columns={}))


def test_every_view_gives_the_same_n_and_p50_per_configuration(db, db_url, seeded):
    for name, run_id in seeded.items():
        weights = "random" if name == "c" else "tiny"
        cli = _cli_summary(db, run_id)
        exported = _by_config(export.summary_frame(db, **export.filters(run=run_id)))
        assert cli == exported == _chart(db_url, run_id, weights) == _compare(db_url, run_id)
        # nothing pooled: 2 models × 2 guidance × (2 recipes, or 1 in run c) configurations, each its own line
        assert len(cli) == 2 * 2 * (1 if name == "c" else 2)
        assert all("cfg 5" in c or "cfg 7.5" in c for _, c in cli)


def test_export_summary_of_the_whole_store_keeps_weights_recipes_and_guidance_apart(db, seeded):
    table = export.summary_frame(db)
    # tiny (runs a and b: the same configurations) and random: 2 models × 2 guidance × (2 recipes + 1)
    assert len(_by_config(table)) == 2 * 2 * 3
    compiled = table[(table["model_key"] == "sdxl") & (table["recipe"] == "compile") & (table["guidance"] == 5.0)]
    assert len(compiled) == 1 and compiled.iloc[0]["n"] == 2 * 4  # runs a and b, steady rows only
    assert compiled.iloc[0]["first_n"] == 2  # one first call per run, kept apart


def test_failures_and_first_calls_are_counted_apart(db, seeded):
    cli = Summary(run_id=seeded["a"])
    with session_scope(db, read_only=True) as s:
        cli.add(s.query(Generation).filter(Generation.run_id == seeded["a"]).all())
    table = cli.table_frame()
    sdxl = table[(table["model_key"] == "sdxl")]
    assert set(sdxl["failed"]) == {1} and set(sdxl["first_n"]) == {1} and set(sdxl["n"]) == {4}


def test_other_is_the_median_of_each_rows_remainder():
    rows = pd.DataFrame({"model_key": "m", "status": "ok", "first_call": False,
                         "total_s": [1.0, 2.0, 10.0], "text_encode_s": [0.1, 0.1, 0.1],
                         "denoise_s": [0.85, 1.5, 9.89], "decode_s": [0.04, 0.3, 0.0]})
    per_row = [0.01, 0.1, 0.01]
    med = stats.medians(rows, ["total_s", "other_s"])
    assert med.iloc[0]["other_s"] == pytest.approx(np.median(per_row))
    # the old way (median total − sum of stage medians) would say 2.0 − 1.6 = 0.4 s
    fig = charts.stage_breakdown(rows)
    assert list(fig.data[-1].x) == [pytest.approx(0.01)]


def test_the_quality_chart_names_its_subset_and_its_n(db, db_url, seeded):
    from dashboard import scores

    frame = scores.score_frame(db_url, "tiny", "tiny")
    fig = quality_vs_cost(frame, "clip", "seconds")
    scored_steady = frame[(frame["metric"] == "clip") & ~frame["first_call"].astype(bool)]
    assert f"n={len(frame[frame['metric'] == 'clip']):,} scored images" in "".join(
        a.text for a in fig.layout.annotations) + fig.layout.title.text
    assert len(scored_steady) > 0


def test_every_metric_has_one_display_name():
    """Metric titles live in core.scoring.names only; every registered metric has one, and the pages read them."""
    from core.scoring import names
    from core.scoring.metrics import METRICS
    from dashboard import chart_scores, scores

    assert set(METRICS) <= set(names.NAMES)
    assert chart_scores.METRIC_LABELS is names.TITLES and scores.SHORT is names.SHORT
