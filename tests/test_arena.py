"""core.arena: Bradley–Terry ratings recover a simulated voter's ranking, their bootstrap intervals cover the truth
about 95 % of the time, metric agreement, category win rates, and the next pair to show."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core import arena

MODELS = [f"m{i}" for i in range(6)]
TRUTH = np.array([-2.0, -1.2, -0.4, 0.4, 1.2, 2.0])  # natural log-odds, 0.8 apart; m5 is the best


def simulate(n: int, rng: np.random.Generator, *, tie: float = 0.0, both_bad: float = 0.1) -> pd.DataFrame:
    """A voter who prefers B with probability σ(θ_B − θ_A), calls a tie with probability `tie` and both bad with
    `both_bad` (noise votes)."""
    a = rng.integers(0, 6, n)
    b = (a + rng.integers(1, 6, n)) % 6  # never the same model
    p_b = 1.0 / (1.0 + np.exp(-(TRUTH[b] - TRUTH[a])))
    u = rng.random(n)
    outcome = np.where(rng.random(n) < p_b, "b", "a")
    outcome = np.where(u < tie, "tie", outcome)
    outcome = np.where((u >= tie) & (u < tie + both_bad), "both_bad", outcome)
    return pd.DataFrame({"model_a": np.array(MODELS)[a], "model_b": np.array(MODELS)[b], "outcome": outcome})


def test_ratings_recover_the_ranking_of_a_noisy_simulated_voter():
    for seed in range(10):
        votes = simulate(500, np.random.default_rng(seed), tie=0.1, both_bad=0.1)
        board = arena.bt_ratings(votes, bootstrap=200, seed=seed)
        rating = board.set_index("model_key").loc[MODELS, "rating"].to_numpy()
        tau = stats.kendalltau(rating, TRUTH).statistic
        assert tau >= 0.9, (seed, board)
        assert list(board["rank"]) == [1, 2, 3, 4, 5, 6]
        assert (board["low"] <= board["rating"]).all() and (board["rating"] <= board["high"]).all()
        assert board["votes"].sum() == 2 * len(votes)
        assert board["both_bad"].sum() == 2 * int((votes["outcome"] == "both_bad").sum())


def test_bootstrap_intervals_cover_the_truth_about_95_percent_of_the_time():
    # 200 simulated voters of 500 votes each, 200 bootstrap samples per interval: the path bt_ratings takes
    # (bootstrap_thetas, then interval), on arrays, so the 40,000 fits stay fast
    rng = np.random.default_rng(20)
    truth = arena.to_rating(TRUTH - TRUTH.mean())
    index = {k: i for i, k in enumerate(MODELS)}
    covered = []
    for _ in range(200):
        votes = simulate(500, rng)
        votes = votes[votes["outcome"] != "both_bad"]
        a, b = votes["model_a"].map(index).to_numpy(), votes["model_b"].map(index).to_numpy()
        samples = arena.bootstrap_thetas(a, b, votes["outcome"].map(arena.SCORE_A).to_numpy(), 6, bootstrap=200,
                                         rng=rng)
        low, high = arena.interval(samples, 0.95)
        covered.append((low <= truth) & (truth <= high))
    coverage = float(np.mean(covered))
    print(f"coverage {coverage:.3f}")
    assert 0.88 <= coverage <= 0.99, coverage
    # bt_ratings gives the same interval from the same seed
    votes = simulate(500, np.random.default_rng(3))
    board = arena.bt_ratings(votes, bootstrap=200, seed=7).set_index("model_key").loc[MODELS]
    played = votes[votes["outcome"] != "both_bad"]
    samples = arena.bootstrap_thetas(played["model_a"].map(index).to_numpy(), played["model_b"].map(index).to_numpy(),
                                     played["outcome"].map(arena.SCORE_A).to_numpy(), 6, bootstrap=200,
                                     rng=np.random.default_rng(7))
    low, high = arena.interval(samples)
    assert board["low"].to_numpy() == pytest.approx(low) and board["high"].to_numpy() == pytest.approx(high)


def test_fit_matches_the_closed_form_of_two_models():
    # two models, 30 wins to 10: θ1 − θ0 = ln 3 (plus the weak prior's pull)
    wins = np.array([[0.0, 10.0], [30.0, 0.0]])
    theta = arena.fit_bt(wins, prior=0.0)
    assert theta[1] - theta[0] == pytest.approx(np.log(3.0), abs=1e-9)
    assert theta.sum() == pytest.approx(0.0, abs=1e-12)
    # a model that won everything stays finite with the prior
    assert np.isfinite(arena.fit_bt(np.array([[0.0, 0.0], [5.0, 0.0]]))).all()
    # ties are half a win each way: 10 ties alone rate the two equal
    votes = pd.DataFrame({"model_a": ["x"] * 10, "model_b": ["y"] * 10, "outcome": ["tie"] * 10})
    board = arena.bt_ratings(votes, bootstrap=0)
    assert board["rating"].tolist() == pytest.approx([1000.0, 1000.0])
    assert board["ties"].tolist() == [10, 10] and board["win_rate"].tolist() == [0.5, 0.5]


def test_bad_votes_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="outcome: 'left' is not allowed; one of a, b, tie, both_bad"):
        arena.check_outcome("left")
    with pytest.raises(ValueError, match="outcome 'maybe' is not allowed"):
        arena.bt_ratings(pd.DataFrame({"model_a": ["x"], "model_b": ["y"], "outcome": ["maybe"]}))
    with pytest.raises(ValueError, match="columns \\['outcome'\\] are missing"):
        arena.bt_ratings(pd.DataFrame({"model_a": ["x"], "model_b": ["y"]}))
    with pytest.raises(ValueError, match="model_a and model_b are both 'x'"):
        arena.bt_ratings(pd.DataFrame({"model_a": ["x"], "model_b": ["x"], "outcome": ["a"]}))
    with pytest.raises(ValueError, match="level: 95 is not allowed"):
        arena.bt_ratings(pd.DataFrame({"model_a": ["x"], "model_b": ["y"], "outcome": ["a"]}), level=95)
    assert arena.bt_ratings(pd.DataFrame(columns=["model_a", "model_b", "outcome"])).empty


def test_metric_agreement_accuracy_and_kendall_tau():
    # four votes over generations 1..8; "good" agrees with every vote, "bad" with none, "flat" cannot tell
    votes = pd.DataFrame({"generation_a_id": [1, 3, 5, 7], "generation_b_id": [2, 4, 6, 8],
                          "model_a": ["x", "y", "x", "y"], "model_b": ["y", "x", "y", "x"],
                          "outcome": ["a", "b", "b", "tie"]})
    ids = np.arange(1, 9)
    good = [2.0, 1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
    rows = []
    for metric, values in (("good", good), ("bad", [-v for v in good]), ("flat", [1.0] * 8)):
        rows += [{"generation_id": i, "metric": metric, "value": v, "model_key": "x" if i in (1, 4, 5, 8) else "y"}
                 for i, v in zip(ids, values)]
    scores = pd.DataFrame(rows)
    ratings = arena.bt_ratings(votes, bootstrap=0)
    found = arena.metric_agreement(votes, scores, ratings).set_index("metric")
    assert found.loc["good", "accuracy"] == 1.0 and found.loc["bad", "accuracy"] == 0.0
    assert found.loc["flat", "accuracy"] == 0.5  # a metric tie counts half
    assert found.loc["good", "decisive"] == 3 and found.loc["good", "votes"] == 4
    assert found.loc["good", "kendall_tau"] == pytest.approx(1.0)
    assert found.loc["bad", "kendall_tau"] == pytest.approx(-1.0)
    assert np.isnan(found.loc["flat", "kendall_tau"])  # no variation: τ is undefined, not 0


def test_category_win_rates_leave_out_both_bad():
    votes = pd.DataFrame({"model_a": ["x", "x", "x", "y"], "model_b": ["y", "y", "y", "x"],
                          "outcome": ["a", "tie", "both_bad", "a"], "category": ["cats", "cats", "cats", None]})
    found = arena.category_win_rates(votes).set_index(["model_key", "category"])
    assert found.loc[("x", "cats"), "games"] == 2 and found.loc[("x", "cats"), "win_rate"] == 0.75
    assert found.loc[("y", "cats"), "win_rate"] == 0.25
    assert found.loc[("y", "(no category)"), "win_rate"] == 1.0
    assert found.loc[("x", "(no category)"), "losses"] == 1


def test_pick_pair_takes_one_prompt_and_seed_two_models_and_skips_what_the_voter_judged():
    cands = pd.DataFrame({"id": [1, 2, 3, 4, 5], "model_key": ["x", "y", "x", "z", "x"],
                          "prompt": ["p", "p", "q", "q", "r"], "seed": [0, 0, 0, 0, 0]})
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        pair = arena.pick_pair(cands, rng=rng)
        assert pair is not None and set(pair) in ({1, 2}, {3, 4})
        seen.add(pair)
    assert (1, 2) in seen and (2, 1) in seen  # both sides in random order
    votes = pd.DataFrame({"generation_a_id": [1], "generation_b_id": [2], "model_a": ["x"], "model_b": ["y"],
                          "voter": ["ann"], "outcome": ["a"]})
    for _ in range(10):
        assert set(arena.pick_pair(cands, votes, voter="ann", rng=rng)) == {3, 4}
    assert set(arena.pick_pair(cands, votes, voter="bob", rng=rng)) == {3, 4}  # x-y has a vote: x-z next
    both = pd.concat([votes, votes.assign(generation_a_id=3, generation_b_id=4, model_b="z")])
    assert arena.pick_pair(cands, both, voter="ann", rng=rng) is None  # all judged
    assert arena.pick_pair(cands[cands["prompt"] == "r"], rng=rng) is None  # one model only
