"""Arena votes in the store (core.store.Vote, migration 0009), the leaderboard with scores and cost (core.votes),
and `python -m core.bench export votes|ratings`."""
from __future__ import annotations

import pandas as pd
import pytest

from core.cli import export as export_cli
from core import votes
from core.store import (
    Run,
    Score,
    Vote,
    add_run,
    add_scores,
    add_vote,
    bulk_add_generations,
    delete_run,
    session_scope,
    vote_rows,
)
from tests.backends import both_backends


def _store(db) -> dict[str, list[int]]:
    """One run: models x, y, z (tiny weights) over two prompts (categories cats, dogs), seed 0; x costs 0.01 USD."""
    with session_scope(db) as s:
        run = add_run(session=s, run=Run(kind="bench", weights="tiny", status="finished"))
        rows = []
        for p, (prompt, category) in enumerate((("a cat", "cats"), ("a dog", "dogs"))):
            for m, model in enumerate("xyz"):
                rows.append(dict(run_id=run.id, job_key=f"{model}-{p}", model_key=model, weights="tiny",
                                 prompt=prompt, category=category, seed=0, steps=2, width=32, height=32, status="ok",
                                 image_path=f"/nowhere/{model}{p}.png", total_s=0.1 * (m + 1), first_call=False,
                                 cost_usd=0.01 if model == "x" else None, extra={}, profile={}, api_params={},
                                 image_index=0))
        bulk_add_generations(session=s, rows=rows)
        from sqlmodel import select

        from core.store import Generation
        ids: dict[str, list[int]] = {}
        for g in s.exec(select(Generation).order_by(Generation.id)):
            ids.setdefault(g.model_key, []).append(g.id)
    return {"run": run.id, **ids}


@both_backends
def test_votes_are_stored_with_voter_and_read_back_with_both_models(db):
    ids = _store(db)
    with session_scope(db) as s:
        add_vote(session=s, vote=Vote(voter="ann", generation_a_id=ids["x"][0], generation_b_id=ids["y"][0],
                                      outcome="a"))
        add_vote(session=s, vote=Vote(generation_a_id=ids["z"][1], generation_b_id=ids["x"][1], outcome="both_bad"))
        for bad, message in ((dict(outcome="left"), "outcome: 'left' is not allowed; one of a, b, tie, both_bad"),
                             (dict(outcome="a", voter=" "), "voter: empty"),
                             (dict(outcome="a", generation_b_id=ids["x"][0]), "generation_b_id: .* is generation_a_id")):
            with pytest.raises(ValueError, match=message):
                add_vote(session=s, vote=Vote(**{"generation_a_id": ids["x"][0], "generation_b_id": ids["y"][0],
                                                 **bad}))
        rows = vote_rows(session=s)
        assert [(r["voter"], r["model_a"], r["model_b"], r["outcome"], r["category"]) for r in rows] == [
            ("ann", "x", "y", "a", "cats"), ("anonymous", "z", "x", "both_bad", "dogs")]
        assert [r["voter"] for r in vote_rows(session=s, voter="ann")] == ["ann"]
        assert [r["model_b"] for r in vote_rows(session=s, model_keys=["x", "z"])] == ["x"]
        assert vote_rows(session=s, weights="pretrained") == []
        delete_run(session=s, run_id=ids["run"])  # votes go with their generations
        assert vote_rows(session=s) == []


def test_leaderboard_carries_scores_and_cost_and_export_writes_votes_and_ratings(db, db_url, tmp_path, capsys):
    ids = _store(db)
    with session_scope(db) as s:
        for p in (0, 1):  # x beats y twice, y beats z twice, x and z tie once
            add_vote(session=s, vote=Vote(voter="ann", generation_a_id=ids["x"][p], generation_b_id=ids["y"][p],
                                          outcome="a"))
            add_vote(session=s, vote=Vote(voter="bob", generation_a_id=ids["z"][p], generation_b_id=ids["y"][p],
                                          outcome="b"))
        add_vote(session=s, vote=Vote(voter="bob", generation_a_id=ids["x"][0], generation_b_id=ids["z"][0],
                                      outcome="tie"))
        add_scores(session=s, scores=[Score(generation_id=g, metric="clip", value=v, scorer_id="t", scorer_revision="r",
                                            weights="tiny")
                                      for g, v in ((ids["x"][0], 30.0), (ids["x"][1], 28.0), (ids["y"][0], 20.0))])
    board = votes.ratings_frame(db, bootstrap=50).set_index("model_key")
    assert list(board.index) == ["x", "y", "z"]
    assert board.loc["x", "mean_clip"] == pytest.approx(29.0) and board.loc["y", "mean_clip"] == pytest.approx(20.0)
    assert pd.isna(board.loc["z", "mean_clip"]) and board.loc["x", "scorer_weights"] == "tiny"
    assert board.loc["x", "usd_per_image"] == pytest.approx(0.01)
    assert board.loc["z", "mean_s"] == pytest.approx(0.3)
    assert board.loc["x", "wins"] == 2 and board.loc["x", "ties"] == 1 and board.loc["y", "losses"] == 2
    agreement = votes.agreement_frame(db, votes.votes_frame(db), board.reset_index()).set_index("metric")
    assert agreement.loc["clip", "votes"] == 1 and agreement.loc["clip", "accuracy"] == 1.0  # x0 (30) beat y0 (20)
    # the CLI
    out = tmp_path / "votes.csv"
    assert export_cli.main(["votes", "--out", str(out), "--db", db_url, "--voter", "bob"]) == 0
    written = pd.read_csv(out)
    assert len(written) == 3 and set(written["voter"]) == {"bob"} and "wrote 3 votes row(s)" in capsys.readouterr().out
    assert list(written.columns) == list(votes.VOTE_FRAME_COLUMNS)
    out = tmp_path / "ratings.parquet"
    assert export_cli.main(["ratings", "--out", str(out), "--db", db_url, "--bootstrap", "20"]) == 0
    ratings = pd.read_parquet(out)
    assert ratings["model_key"].iloc[0] == "x" and {"rating", "low", "high", "mean_clip", "usd_per_image"} <= set(
        ratings.columns)
    assert export_cli.main(["ratings", "--out", str(out), "--db", db_url, "--status", "ok"]) == 2
    assert "--status: not a filter of ratings" in capsys.readouterr().err
    assert export_cli.main(["summary", "--out", str(tmp_path / "s.csv"), "--db", db_url, "--voter", "ann"]) == 2
    assert "--voter: not a filter of summary" in capsys.readouterr().err
    assert export_cli.main(["ratings", "--out", str(out), "--db", db_url, "--bootstrap", "-1"]) == 2
    assert "--bootstrap: -1 is not allowed" in capsys.readouterr().err
