"""Votes and ratings read from the store: the frames `python -m core.bench export votes|ratings` writes and the
Arena page shows. The statistics are core.arena's; this module only gathers rows (through core.store).

The leaderboard puts beside each model's Bradley–Terry rating its automatic scores (mean per metric over its ok
images in the chosen weights mode; per image the pretrained scorer's score is preferred, and `scorer_weights`
says which kind of scorer made the means: "tiny" scores are noise) and its cost (mean steady-state seconds per
call, first calls after a load left out; mean TFLOP per call; mean USD per image: the API list price, or for
open models the GPU-time estimate of core.pricing).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from core import arena, pricing, store
from core.settings import get_settings

VOTE_FRAME_COLUMNS = ("id", "created_at", "voter", "generation_a_id", "generation_b_id", "outcome", "model_a",
                      "model_b", "weights_a", "weights_b", "prompt", "seed", "category")
_GEN_COLUMNS = ("id", "run_id", "model_key", "weights", "first_call", "total_s", "flops_total", "cost_usd")


def votes_frame(engine, *, voter: str | None = None, model_keys: Sequence[str] | None = None,
                weights: str | None = None, since: datetime | None = None, until: datetime | None = None
                ) -> pd.DataFrame:
    """Every vote that matches, oldest first, with both models, the pair's prompt, seed and category."""
    with store.session_scope(engine, read_only=True) as s:
        rows = store.vote_rows(session=s, voter=voter, model_keys=model_keys, weights=weights, since=since,
                               until=until)
    frame = pd.DataFrame.from_records(rows, columns=list(VOTE_FRAME_COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def model_scores(engine, *, model_keys: Sequence[str], weights: str | None = None) -> pd.DataFrame:
    """Long frame of the models' ok images' scores: generation_id, model_key, metric, value, scorer_weights (per
    image and metric: the newest pretrained score, else the newest by tiny or random scorer weights)."""
    columns = ["generation_id", "model_key", "metric", "value", "scorer_weights"]
    if not model_keys:
        return pd.DataFrame(columns=columns)
    with store.session_scope(engine, read_only=True) as s:
        ids = [r[0] for r in store.generation_tuples(session=s, columns=("id",), weights=weights, status="ok",
                                                      model_keys=list(model_keys))]
        models = dict(store.generation_tuples(session=s, columns=("id", "model_key"), weights=weights, status="ok",
                                              model_keys=list(model_keys)))
        found = store.scores_by_generation(session=s, generation_ids=ids)
    rows = [{"generation_id": gid, "model_key": models[gid], "metric": metric, "value": v["value"],
             "scorer_weights": v["weights"]} for gid, per in found.items() for metric, v in per.items()]
    return pd.DataFrame(rows, columns=columns)


def model_costs(engine, *, model_keys: Sequence[str], weights: str | None = None) -> pd.DataFrame:
    """Per model: mean steady-state seconds per call, mean TFLOP per call and mean USD per image (list price or
    GPU-time estimate)."""
    columns = ["model_key", "mean_s", "mean_tflop", "usd_per_image"]
    if not model_keys:
        return pd.DataFrame(columns=columns)
    with store.session_scope(engine, read_only=True) as s:
        rows = store.generation_tuples(session=s, columns=_GEN_COLUMNS, weights=weights, status="ok",
                                       model_keys=list(model_keys))
        frame = pd.DataFrame.from_records(rows, columns=list(_GEN_COLUMNS))
        gpus = store.run_gpu_names(session=s, run_ids=frame["run_id"].dropna().astype(int).unique().tolist())
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce").astype(float)
                            for c in ("total_s", "flops_total", "cost_usd")})
    frame = pricing.with_cost_estimate(frame, gpus, get_settings().gpu_hour_usd)
    steady = frame["total_s"].where(~frame["first_call"].fillna(False).astype(bool))
    usd = frame["cost_usd"].fillna(frame["cost_est_usd"])
    tflop = frame["flops_total"] / 1e12
    out = pd.DataFrame({"model_key": frame["model_key"], "mean_s": steady, "mean_tflop": tflop, "usd_per_image": usd})
    return out.groupby("model_key", as_index=False)[columns[1:]].mean()[columns]


def leaderboard(votes: pd.DataFrame, scores: pd.DataFrame, costs: pd.DataFrame, *, bootstrap: int = 1000,
                seed: int | None = 0, level: float = 0.95) -> pd.DataFrame:
    """core.arena.bt_ratings with, per model, `mean_<metric>` of its scores (and `scorer_weights` of those
    means), mean seconds and USD per image."""
    board = arena.bt_ratings(votes, bootstrap=bootstrap, seed=seed, level=level)
    if board.empty:
        return board
    if not scores.empty:
        means = scores.pivot_table(index="model_key", columns="metric", values="value", aggfunc="mean")
        means.columns = [f"mean_{m}" for m in means.columns]
        board = board.merge(means, left_on="model_key", right_index=True, how="left")
        kinds = scores.groupby("model_key")["scorer_weights"].agg(lambda w: ",".join(sorted(set(w.dropna()))))
        board["scorer_weights"] = board["model_key"].map(kinds)
    if not costs.empty:
        board = board.merge(costs, on="model_key", how="left")
    return board


def ratings_frame(engine, *, bootstrap: int = 1000, seed: int | None = 0, **vote_filters) -> pd.DataFrame:
    """The leaderboard of the filtered votes, with automatic scores and cost (one row per model)."""
    votes = votes_frame(engine, **vote_filters)
    models = sorted(set(votes["model_a"]) | set(votes["model_b"]))
    weights = vote_filters.get("weights")
    return leaderboard(votes, model_scores(engine, model_keys=models, weights=weights),
                       model_costs(engine, model_keys=models, weights=weights), bootstrap=bootstrap, seed=seed)


def agreement_frame(engine, votes: pd.DataFrame, ratings: pd.DataFrame | None = None, *,
                    weights: str | None = None) -> pd.DataFrame:
    """core.arena.metric_agreement of every metric in the score table over these votes."""
    models = sorted(set(votes["model_a"]) | set(votes["model_b"])) if not votes.empty else []
    scores = model_scores(engine, model_keys=models, weights=weights)
    found = arena.metric_agreement(votes, scores, ratings)
    if found.empty:
        return found
    kinds = scores.groupby("metric")["scorer_weights"].agg(lambda w: ",".join(sorted(set(w.dropna()))))
    return found.assign(scorer_weights=found["metric"].map(kinds).replace({np.nan: None}))
