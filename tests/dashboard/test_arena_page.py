"""The Arena page through AppTest: a blind pair of one prompt and seed, votes stored with the voter, the names
revealed, the leaderboard and agreement tables; and the arena chart builders."""
from __future__ import annotations

import pandas as pd
from sqlmodel import select

from core.store import Generation, Score, Vote, add_scores, session_scope


def _no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(at, kind: str = "markdown") -> str:
    return "\n".join(str(e.value) for e in getattr(at, kind))


def test_arena_votes_reveal_names_and_fill_the_leaderboard(page, db, seeded):
    with session_scope(db) as s:
        ok = list(s.exec(select(Generation).where(Generation.weights == "tiny", Generation.status == "ok")))
        add_scores(session=s, scores=[Score(generation_id=g.id, metric="clip", value=20.0 + g.id, scorer_id="t",
                                            scorer_revision="r", weights="tiny") for g in ok])
    at = page("arena").run()
    _no_exception(at)
    assert at.selectbox(key="arena_weights").value == "pretrained"  # preferred when stored
    assert "No pair left to judge among the pretrained images" in _texts(at, "info")  # one model only there
    at.selectbox(key="arena_weights").set_value("tiny").run()
    at.text_input(key="arena_voter").input("ann").run()
    _no_exception(at)
    assert "No votes on tiny images yet." in _texts(at, "info")
    seen = set()
    for i, outcome in enumerate(["a", "b", "tie", "both_bad", "a", "b"]):
        at.button(key=f"arena_{outcome}").click().run()
        _no_exception(at)
        reveal = _texts(at, "success")
        assert "A was **" in reveal and "B was **" in reveal
        seen.add(reveal.split("A was **")[1].split("**")[0])
    assert seen <= {"sd21", "flux-dev"}
    with session_scope(db) as s:
        stored = list(s.exec(select(Vote).order_by(Vote.id)))
    assert [v.outcome for v in stored] == ["a", "b", "tie", "both_bad", "a", "b"] and {v.voter for v in stored} == {"ann"}
    # one prompt and seed, two models, never the same pair twice for one voter
    with session_scope(db) as s:
        rows = {g.id: g for g in s.exec(select(Generation))}
    for v in stored:
        a, b = rows[v.generation_a_id], rows[v.generation_b_id]
        assert (a.prompt, a.seed) == (b.prompt, b.seed) and a.model_key != b.model_key
    assert len({frozenset((v.generation_a_id, v.generation_b_id)) for v in stored}) == 6
    # six pairs in the seeded store (5 in the bench run, 1 in the generate run), all judged by ann: none left
    assert "No pair left to judge among the tiny images" in _texts(at, "info")
    assert "**6** vote(s) by **1** voter(s) · 1 both bad · top rated: **" in _texts(at)
    board = at.dataframe[0].value
    assert set(board["model"]) == {"sd21", "flux-dev"} and list(board["rank"]) == [1, 2]
    assert board["votes"].tolist() == [6, 6] and "CLIPScore" in board.columns
    assert "USD / image" not in board.columns and "no USD / image stored" in _texts(at, "caption")  # CPU rows: no price
    agreement = at.dataframe[1].value.set_index("metric")
    assert {"accuracy", "τ (votes)", "τ (ranking)"} <= set(agreement.columns)
    assert agreement.loc["CLIPScore (tiny scorer)", "votes scored"] == 5  # both-bad left out
    assert len(at.get("plotly_chart")) == 2
    # Charts: the arena rating is one more quality axis
    charts = page("charts", timeout=120)
    charts.query_params["charts_section"] = "Quality"
    charts.run()
    charts.selectbox(key="charts_weights").set_value("tiny").run()
    charts.toggle(key="charts_tiny_scores").set_value(True).run()
    assert "arena" in charts.selectbox(key="charts_metric").options[-1].lower()
    charts.selectbox(key="charts_metric").set_value("arena").run()
    _no_exception(charts)
    titles = [c.proto.spec for c in charts.get("plotly_chart")]
    assert any("Arena rating against seconds" in t for t in titles) and any("win rate per model" in t for t in titles)
    # another voter gets pairs again
    at.text_input(key="arena_voter").input("bob").run()
    at.button(key="arena_b").click().run()
    _no_exception(at)
    with session_scope(db) as s:
        assert [v.voter for v in s.exec(select(Vote).order_by(Vote.id))][-1] == "bob"


def test_arena_charts():
    from core import arena
    from dashboard import chart_arena

    board = pd.DataFrame({"model_key": ["sd21", "sdxl", "flux-dev"], "rating": [1050.0, 990.0, 960.0],
                          "low": [1000.0, 950.0, 900.0], "high": [1100.0, 1030.0, 1010.0], "votes": [10, 12, 8],
                          "mean_s": [0.5, 1.0, 2.0], "mean_tflop": [1.0, 2.0, 3.0], "usd_per_image": [None] * 3})
    fig = chart_arena.rating_vs_cost(board, "seconds")
    points = [t for t in fig.data if t.name in set(board["model_key"])]
    assert len(points) == 3 and fig.layout.title.text.startswith("<b>Arena rating against seconds")
    sd21 = next(t for t in points if t.name == "sd21")
    assert list(sd21.error_y.array) == [50.0] and list(sd21.error_y.arrayminus) == [50.0]
    assert not any(t.name == "front" for t in fig.data)  # sd21 is cheapest and best: no front of several
    empty = chart_arena.rating_vs_cost(board, "usd")
    assert not empty.data and "no rated model has a mean USD per image" in empty.layout.annotations[0].text
    votes = pd.DataFrame({"model_a": ["sd21", "sd21", "sdxl"], "model_b": ["sdxl", "sdxl", "sd21"],
                          "outcome": ["a", "tie", "a"], "category": ["animals", "animals", "text"]})
    heat = chart_arena.category_win_rates(arena.category_win_rates(votes))
    z = pd.DataFrame(heat.data[0].z, index=heat.data[0].y, columns=heat.data[0].x)
    assert z.loc["sd21", "animals"] == 0.75 and z.loc["sdxl", "text"] == 1.0
    assert not chart_arena.category_win_rates(pd.DataFrame()).data
    import pytest
    with pytest.raises(ValueError, match="cost: 'watts' is not allowed; choose one of seconds, tflop, usd"):
        chart_arena.rating_vs_cost(board, "watts")
