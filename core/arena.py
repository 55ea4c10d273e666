"""Judging images by blind A/B votes: Bradley–Terry ratings with bootstrap intervals, each automatic metric's
agreement with the votes, win rates per prompt category, and which pair to show next. Pure functions over
DataFrames (no store, no Streamlit): the Arena page, `python -m core.bench export ratings` and the tests share them.

- A vote is one of OUTCOMES: "a" (left image better), "b", "tie", "both_bad".
- Bradley–Terry: P(i beats j) = σ(θ_i − θ_j). Ties count as half a win each way; "both bad" votes are left out
  of the fit (they say nothing about which is better) but counted on the leaderboard. The maximum-likelihood θ
  is found by Newton's method, vectorised over bootstrap samples (one (B, m, m) array); a weak prior of
  `prior` virtual wins each way between every two models keeps θ finite when a model won (or lost) every vote
  and ties models that never met into one scale. θ is centred (mean 0) and shown on the Elo-like scale
  LMArena uses: rating = 1000 + 400·θ/ln 10 (a 400-point gap: 10:1 odds).
- Intervals: percentile bootstrap, votes resampled with replacement (`bootstrap` samples).
- Agreement of a metric with the votes: pairwise accuracy (decisive votes whose pair the metric scored: the
  share where the higher-scored image is the one voted for, a metric tie counting half), Kendall τ-b between
  the score difference (B − A) and the vote (+1 B, 0 tie, −1 A), and the rank τ between the models' mean
  score and their rating.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

OUTCOMES = ("a", "b", "tie", "both_bad")
OUTCOME_LABELS = {"a": "A is better", "b": "B is better", "tie": "tie", "both_bad": "both bad"}
SCORE_A = {"a": 1.0, "b": 0.0, "tie": 0.5}  # A's share of the win; both_bad takes no part in the fit
BASE_RATING = 1000.0
SCALE = 400.0 / math.log(10.0)  # θ (natural log-odds) to rating points
VOTE_COLUMNS = ("model_a", "model_b", "outcome")
RATING_COLUMNS = ("rank", "model_key", "rating", "low", "high", "votes", "wins", "losses", "ties", "both_bad",
                  "win_rate")


def check_outcome(outcome: str) -> str:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome: {outcome!r} is not allowed; one of {', '.join(OUTCOMES)}")
    return outcome


def _check_votes(votes: pd.DataFrame) -> None:
    missing = [c for c in VOTE_COLUMNS if c not in votes.columns]
    if missing:
        raise ValueError(f"votes: columns {missing} are missing; need {', '.join(VOTE_COLUMNS)}")
    bad = sorted(set(votes["outcome"]) - set(OUTCOMES))
    if bad:
        raise ValueError(f"votes: outcome {bad[0]!r} is not allowed; one of {', '.join(OUTCOMES)}")
    same = votes["model_a"] == votes["model_b"]
    if same.any():
        raise ValueError(f"votes: model_a and model_b are both {votes.loc[same, 'model_a'].iloc[0]!r} in "
                         f"{int(same.sum())} vote(s); a vote compares two different models")


# ---- Bradley–Terry ---------------------------------------------------------------------------------------
def win_matrices(a: np.ndarray, b: np.ndarray, score_a: np.ndarray, m: int,
                 counts: np.ndarray | None = None) -> np.ndarray:
    """W[..., i, j]: wins of model i over model j (ties half each way). `a`, `b`: model indices of each vote;
    `score_a`: A's share (1, 0 or 0.5); `counts` (B, n): how often each vote is taken (bootstrap), else once."""
    n = len(a)
    weights = np.ones((1, n)) if counts is None else np.asarray(counts, dtype=float)
    onehot_ab = np.zeros((n, m * m))
    onehot_ba = np.zeros((n, m * m))
    onehot_ab[np.arange(n), np.asarray(a) * m + np.asarray(b)] = score_a
    onehot_ba[np.arange(n), np.asarray(b) * m + np.asarray(a)] = 1.0 - np.asarray(score_a)
    out = (weights @ (onehot_ab + onehot_ba)).reshape(-1, m, m)
    return out[0] if counts is None else out


def fit_bt(wins: np.ndarray, *, prior: float = 0.1, max_iter: int = 100, tol: float = 1e-10) -> np.ndarray:
    """Bradley–Terry θ (centred, natural log-odds) from win matrices W[..., i, j] (any leading batch shape),
    by Newton's method on the log-likelihood plus `prior` virtual wins each way between every two models."""
    wins = np.asarray(wins, dtype=float)
    m = wins.shape[-1]
    if m < 2:
        return np.zeros(wins.shape[:-1])
    off = 1.0 - np.eye(m)
    w = wins * off + prior * off
    n = w + np.swapaxes(w, -1, -2)
    won = w.sum(-1)
    theta = np.zeros(wins.shape[:-1])
    centre = np.full((m, m), 1.0 / m)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(theta[..., :, None] - theta[..., None, :])))
        grad = won - (n * p).sum(-1)
        curv = n * p * (1.0 - p)  # −Hessian off the diagonal is −curv; on it, the row sums
        neg_hess = np.eye(m) * curv.sum(-1)[..., None] - curv + centre  # + 11ᵀ/m: fixes the free shift
        step = np.linalg.solve(neg_hess, grad[..., None])[..., 0]
        step = np.clip(step, -3.0, 3.0)  # a damped first step when a model is far from the rest
        theta = theta + step
        theta = theta - theta.mean(-1, keepdims=True)
        if np.abs(step).max() < tol:
            break
    return theta


def to_rating(theta: np.ndarray | float) -> np.ndarray | float:
    return BASE_RATING + SCALE * np.asarray(theta)


def bootstrap_thetas(a: np.ndarray, b: np.ndarray, score_a: np.ndarray, m: int, *, bootstrap: int,
                     rng: np.random.Generator, prior: float = 0.1) -> np.ndarray:
    """(bootstrap, m) θ fitted on votes resampled with replacement (all samples in one batched fit)."""
    n = len(a)  # each sample: n votes drawn with replacement, as counts per vote
    drawn = rng.integers(0, n, size=(bootstrap, n)) + n * np.arange(bootstrap)[:, None]
    counts = np.bincount(drawn.ravel(), minlength=bootstrap * n).reshape(bootstrap, n)
    return fit_bt(win_matrices(a, b, score_a, m, counts), prior=prior)


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap samples (axis 0), as ratings."""
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return to_rating(low), to_rating(high)


def _indexed(votes: pd.DataFrame, models: Sequence[str] | None):
    fit = votes[votes["outcome"] != "both_bad"]
    names = list(models) if models is not None else sorted(set(votes["model_a"]) | set(votes["model_b"]))
    index = {k: i for i, k in enumerate(names)}
    a = fit["model_a"].map(index).to_numpy()
    b = fit["model_b"].map(index).to_numpy()
    score_a = fit["outcome"].map(SCORE_A).to_numpy(dtype=float)
    return names, a, b, score_a


def bt_ratings(votes: pd.DataFrame, *, bootstrap: int = 1000, level: float = 0.95, seed: int | None = 0,
               prior: float = 0.1, models: Sequence[str] | None = None) -> pd.DataFrame:
    """The leaderboard: per model, its rating with a bootstrap interval (`level`, percentile), votes it took
    part in (both-bad included), wins, losses, ties, both-bad votes and win rate (wins + ½ ties over decisive
    and tied votes). Best first; `rank` 1 is the best."""
    _check_votes(votes)
    if bootstrap < 0:
        raise ValueError(f"bootstrap: {bootstrap} is not allowed; 0 (no interval) or more samples")
    if not 0 < level < 1:
        raise ValueError(f"level: {level} is not allowed; between 0 and 1 (e.g. 0.95)")
    names, a, b, score_a = _indexed(votes, models)
    m = len(names)
    if m == 0:
        return pd.DataFrame(columns=list(RATING_COLUMNS))
    theta = fit_bt(win_matrices(a, b, score_a, m), prior=prior)
    low = high = np.full(m, np.nan)
    if bootstrap and len(a):
        samples = bootstrap_thetas(a, b, score_a, m, bootstrap=bootstrap, rng=np.random.default_rng(seed),
                                   prior=prior)
        low, high = interval(samples, level)
    index = {k: i for i, k in enumerate(names)}
    ia, ib = votes["model_a"].map(index).to_numpy(), votes["model_b"].map(index).to_numpy()
    outcome = votes["outcome"].to_numpy()

    def tally(mine: np.ndarray, who: str) -> np.ndarray:
        return np.bincount(mine[outcome == who], minlength=m) if len(mine) else np.zeros(m, dtype=int)

    wins, losses = tally(ia, "a") + tally(ib, "b"), tally(ia, "b") + tally(ib, "a")
    ties, bad = tally(ia, "tie") + tally(ib, "tie"), tally(ia, "both_bad") + tally(ib, "both_bad")
    games = wins + losses + ties
    with np.errstate(invalid="ignore", divide="ignore"):
        win_rate = np.where(games > 0, (wins + ties / 2) / games, np.nan)
    rows = [{"model_key": name, "rating": float(to_rating(theta[i])), "low": float(low[i]),
             "high": float(high[i]), "votes": int(games[i] + bad[i]), "wins": int(wins[i]),
             "losses": int(losses[i]), "ties": int(ties[i]), "both_bad": int(bad[i]), "win_rate": float(win_rate[i])}
            for i, name in enumerate(names)]
    board = pd.DataFrame(rows).sort_values(["rating", "model_key"], ascending=[False, True]).reset_index(drop=True)
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board[list(RATING_COLUMNS)]


# ---- agreement of the automatic metrics with the votes -----------------------------------------------------
def vote_scores(votes: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Votes (generation_a_id, generation_b_id, outcome) joined to the long score frame (generation_id, metric,
    value): one row per vote and metric scored on both images, with `score_a`, `score_b`."""
    if votes.empty or scores.empty:
        return pd.DataFrame(columns=["metric", "outcome", "score_a", "score_b"])
    values = scores[["generation_id", "metric", "value"]].drop_duplicates(["generation_id", "metric"])
    a = votes.merge(values.rename(columns={"generation_id": "generation_a_id", "value": "score_a"}),
                    on="generation_a_id")
    b = values.rename(columns={"generation_id": "generation_b_id", "value": "score_b"})
    return a.merge(b, on=["generation_b_id", "metric"])


def metric_agreement(votes: pd.DataFrame, scores: pd.DataFrame, ratings: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per metric in `scores`: votes it could judge, pairwise accuracy over the decisive ones, Kendall τ-b of
    (score B − score A) against the vote (+1, 0 tie, −1), and (with `ratings`) the rank τ between the models'
    mean score and their arena rating."""
    joined = vote_scores(votes, scores)
    joined = joined[joined["outcome"] != "both_bad"] if not joined.empty else joined
    rows = []
    for metric in sorted(set(scores["metric"])) if not scores.empty else []:
        mine = joined[joined["metric"] == metric]
        delta = (mine["score_b"] - mine["score_a"]).to_numpy(dtype=float)
        vote = mine["outcome"].map({"b": 1.0, "tie": 0.0, "a": -1.0}).to_numpy(dtype=float)
        decisive = vote != 0
        agree = np.where(np.sign(delta[decisive]) == vote[decisive], 1.0,
                         np.where(delta[decisive] == 0, 0.5, 0.0))
        tau = np.nan
        if len(delta) >= 2 and np.ptp(delta) > 0 and np.ptp(vote) > 0:
            tau = float(stats.kendalltau(delta, vote).statistic)
        rank_tau = np.nan
        if ratings is not None and not ratings.empty:
            means = scores[scores["metric"] == metric].groupby("model_key")["value"].mean()
            both = ratings.set_index("model_key")["rating"].to_frame().join(means, how="inner").dropna()
            if len(both) >= 2 and both["value"].nunique() > 1 and both["rating"].nunique() > 1:
                rank_tau = float(stats.kendalltau(both["value"], both["rating"]).statistic)
        rows.append({"metric": metric, "votes": len(mine), "decisive": int(decisive.sum()),
                     "accuracy": float(agree.mean()) if len(agree) else np.nan, "kendall_tau": tau,
                     "rank_tau": rank_tau})
    return pd.DataFrame(rows, columns=["metric", "votes", "decisive", "accuracy", "kendall_tau", "rank_tau"])


# ---- win rates per prompt category ----------------------------------------------------------------------
def category_win_rates(votes: pd.DataFrame) -> pd.DataFrame:
    """Per model and prompt category (`category` of the voted pair; "(no category)" when none): games (votes
    that were not both bad), wins, ties, losses and win rate (wins + ½ ties) / games."""
    columns = ["model_key", "category", "games", "wins", "ties", "losses", "win_rate"]
    if votes.empty:
        return pd.DataFrame(columns=columns)
    _check_votes(votes)
    played = votes[votes["outcome"] != "both_bad"]
    category = played["category"] if "category" in played.columns else pd.Series(None, index=played.index)
    category = category.fillna("(no category)")
    sides = []
    for me, mine, theirs in (("model_a", "a", "b"), ("model_b", "b", "a")):
        sides.append(pd.DataFrame({"model_key": played[me], "category": category,
                                   "wins": (played["outcome"] == mine).astype(int),
                                   "ties": (played["outcome"] == "tie").astype(int),
                                   "losses": (played["outcome"] == theirs).astype(int)}))
    long = pd.concat(sides, ignore_index=True)
    if long.empty:
        return pd.DataFrame(columns=columns)
    out = long.groupby(["model_key", "category"], as_index=False)[["wins", "ties", "losses"]].sum()
    out["games"] = out["wins"] + out["ties"] + out["losses"]
    out["win_rate"] = (out["wins"] + out["ties"] / 2) / out["games"]
    return out[columns]


# ---- which pair to show next -------------------------------------------------------------------------------
def pick_pair(candidates: pd.DataFrame, votes: pd.DataFrame | None = None, *, voter: str | None = None,
              rng: np.random.Generator | None = None, groups_tried: int = 64) -> tuple[int, int] | None:
    """Two generation ids of one prompt and seed from two different models, (left, right) in random order, or
    None when no prompt and seed has two models. Among a random sample of prompt-and-seed groups, the model pair
    with the fewest votes so far is taken (ratings firm up evenly), never a pair of images `voter` already
    judged. `candidates`: id, model_key, prompt, seed (newest row per model kept); `votes`: generation_a_id,
    generation_b_id, model_a, model_b, voter."""
    rng = rng or np.random.default_rng()
    if candidates.empty:
        return None
    newest = candidates.sort_values("id", ascending=False).drop_duplicates(["prompt", "seed", "model_key"])
    seeds = newest["seed"].fillna(-1)
    groups = [g for _, g in newest.assign(seed=seeds).groupby(["prompt", "seed"], sort=False)
              if g["model_key"].nunique() >= 2]
    if not groups:
        return None
    seen: set[frozenset[int]] = set()
    pair_votes: dict[frozenset[str], int] = {}
    if votes is not None and not votes.empty:
        for row in votes.itertuples(index=False):
            pair_votes[frozenset((row.model_a, row.model_b))] = pair_votes.get(frozenset((row.model_a, row.model_b)), 0) + 1
            if voter is not None and getattr(row, "voter", None) == voter:
                seen.add(frozenset((int(row.generation_a_id), int(row.generation_b_id))))
    order = rng.permutation(len(groups))[:groups_tried]
    best: list[tuple[int, int]] = []
    fewest = None
    for gi in order:
        rows = groups[gi][["id", "model_key"]].to_numpy()
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                ids = (int(rows[i][0]), int(rows[j][0]))
                if frozenset(ids) in seen:
                    continue
                n = pair_votes.get(frozenset((rows[i][1], rows[j][1])), 0)
                if fewest is None or n < fewest:
                    fewest, best = n, [ids]
                elif n == fewest:
                    best.append(ids)
    if not best:
        return None
    left, right = best[int(rng.integers(len(best)))]
    return (left, right) if rng.random() < 0.5 else (right, left)
