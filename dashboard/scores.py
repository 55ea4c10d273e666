"""Quality scores for the pages: cached score queries, the long score frame the quality charts read, labels
(tiny-scorer scores say so wherever they show), and scoring from the dashboard (Generate's "Score these images").

Scoring goes through core.scoring: in dev mode each scorer stays loaded (`st.cache_resource`, one ScorerSet per
metric and weights, shared by every session), otherwise `score_missing` loads, scores and unloads.
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

import pandas as pd
import streamlit as st

from core import pricing, store
from core.scoring import names
from core.scoring.backfill import MetricCounts, ScorerSet, score_missing
from core.scoring.scorers import METRICS, SCORER_WEIGHTS
from dashboard import data
from dashboard.chart_scores import METRIC_LABELS

SHORT = names.SHORT  # core.scoring.names
# Generation columns the quality charts and the Compare page read beside the scores.
FRAME_COLUMNS = tuple(dict.fromkeys(("id",) + data.CHART_COLUMNS + ("prompt", "seed", "category")))


def _engine(url: str):
    return data._db_engine(url)  # noqa: SLF001 - the one cached engine per URL


def default_scorer_weights(weights: str) -> str:
    """Tiny generator weights get tiny scorers (offline, noise); anything else the pretrained ones."""
    return "tiny" if weights == "tiny" else "pretrained"


def weights_label(weights: str | None) -> str:
    return "tiny scorer" if weights == "tiny" else f"{weights} scorer" if weights and weights != "pretrained" else ""


# ---- queries -----------------------------------------------------------------------------------------
@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def scores_for(url: str, generation_ids: tuple[int, ...]) -> dict[int, dict[str, dict[str, Any]]]:
    """{generation id: {metric: {value, weights, scorer_revision}}}, pretrained scores preferred."""
    if not generation_ids:
        return {}
    with store.session_scope(_engine(url), read_only=True) as s:
        return store.scores_by_generation(session=s, generation_ids=list(generation_ids))


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def generation_scores(url: str, generation_id: int) -> pd.DataFrame:
    """Every score of one generation (each scorer revision), for the detail view."""
    with store.session_scope(_engine(url), read_only=True) as s:
        rows = store.score_rows(session=s, generation_ids=[generation_id])
    frame = pd.DataFrame(rows, columns=["metric", "value", "weights", "scorer_id", "scorer_revision", "seconds",
                                        "created_at"])
    return frame.assign(metric=[METRIC_LABELS.get(m, m) for m in frame["metric"]],
                        weights=[weights_label(w) or "pretrained" for w in frame["weights"]])


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def scorer_weights_in_store(url: str) -> list[str]:
    """Scorer weights modes with at least one score (pretrained first)."""
    with store.session_scope(_engine(url), read_only=True) as s:
        found = {r["weights"] for r in store.score_rows(session=s, limit=50_000)}
    return [w for w in (*SCORER_WEIGHTS, "random") if w in found]


@st.cache_data(ttl=30, show_spinner=False)
def score_frame(url: str, weights: str | None, scorer_weights: str, run_ids: tuple[int, ...] = (),
                models: tuple[str, ...] = ()) -> pd.DataFrame:
    """Long frame: one row per ok generation and metric scored by `scorer_weights` scorers (the newest score of
    each), with the generation's model, configuration, time, FLOPs, USD (list or estimate), prompt, seed, category."""
    engine = _engine(url)
    with store.session_scope(engine, read_only=True) as s:
        rows = store.generation_tuples(session=s, columns=FRAME_COLUMNS, weights=weights,
                                       run_ids=list(run_ids) or None, model_keys=list(models) or None, status="ok")
        gens = data._frame_from_tuples(rows, FRAME_COLUMNS)  # noqa: SLF001 - numeric columns as floats
        scored = pd.DataFrame(store.score_rows(session=s, run_ids=list(run_ids) or None),
                              columns=["generation_id", "metric", "value", "weights", "created_at"])
        gpus = store.run_gpu_names(session=s, run_ids=gens["run_id"].dropna().astype(int).unique().tolist())
    gens = pricing.with_cost_estimate(gens, gpus, data.settings().gpu_hour_usd)
    scored = scored[scored["weights"] == scorer_weights].drop_duplicates(["generation_id", "metric"])  # newest first
    scored = scored.rename(columns={"generation_id": "id", "weights": "scorer_weights"}).drop(columns="created_at")
    return gens.merge(scored, on="id", how="inner")


def with_score_columns(frame: pd.DataFrame, scores: dict[int, dict[str, dict[str, Any]]]) -> pd.DataFrame:
    """One column per metric (its preferred score) and `scorer` ("tiny scorer" when any shown score is tiny)."""
    out = frame.copy()
    for metric in METRICS:
        out[metric] = [scores.get(int(i), {}).get(metric, {}).get("value") for i in out["id"]]
        out[metric] = pd.to_numeric(out[metric], errors="coerce").astype(float)
    out["scorer"] = [", ".join(sorted({weights_label(v["weights"]) or "pretrained"
                                       for v in scores.get(int(i), {}).values()})) or None for i in out["id"]]
    return out


def score_line(scores: dict[str, dict[str, Any]] | None) -> str:
    """`CLIP 27.10 · Pick 20.31 · aesthetic 5.20 (tiny scorer)` for a card; empty when unscored. The scorer label
    comes once at the end when every score shares it, else after each score it applies to."""
    if not scores:
        return ""
    ordered = [m for m in METRICS if m in scores] + [m for m in scores if m not in METRICS]
    labels = {m: weights_label(scores[m].get("weights")) for m in ordered}
    shared = len(set(labels.values())) == 1
    parts = [f"{SHORT.get(m, m)} {scores[m]['value']:.2f}" + (f" ({labels[m]})" if labels[m] and not shared else "")
             for m in ordered]
    tail = labels[ordered[0]] if shared else ""
    return " · ".join(parts) + (f" ({tail})" if tail else "")


# ---- scoring from the dashboard ----------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _scorer_slot() -> dict[str, Any]:
    return {"sets": {}, "lock": threading.Lock()}


def dev_scorers(metric: str, weights: str) -> ScorerSet:
    """A resident ScorerSet of one metric (dev mode): loaded on first use, kept for every session."""
    slot = _scorer_slot()
    with slot["lock"]:
        key = (metric, weights)
        if key not in slot["sets"]:
            slot["sets"][key] = ScorerSet([metric], device=data.settings().device, weights=weights,
                                          settings=data.settings())
        return slot["sets"][key]


def unload_scorers() -> None:
    slot = _scorer_slot()
    with slot["lock"]:
        for scorers in slot["sets"].values():
            scorers.close()
        slot["sets"].clear()


def score_generations(generation_ids: Sequence[int], metrics: Sequence[str], weights: str, *,
                      keep_loaded: bool) -> dict[str, MetricCounts]:
    """Score these generations (what they lack of each metric, by scorers of `weights`); clears the query caches."""
    engine = data.db()
    try:
        if keep_loaded:
            counts: dict[str, MetricCounts] = {}
            for metric in metrics:
                counts.update(dev_scorers(metric, weights).score(store_engine=engine, generation_ids=list(generation_ids)))
            return counts
        return score_missing(store_engine=engine, metrics=list(metrics), generation_ids=list(generation_ids),
                             device=data.settings().device, weights=weights, settings=data.settings())
    finally:
        data.clear_queries()
