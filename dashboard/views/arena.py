"""Arena: blind A/B votes between two models' images of one prompt and seed (names hidden, sides random), the
Bradley–Terry leaderboard with bootstrap intervals beside each model's automatic scores and cost, each metric's
agreement with the votes, and the arena charts. Statistics: core.arena; rows: core.votes, dashboard.arena_data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import arena, export
from dashboard import arena_data, chart_arena, data
from dashboard.chart_scores import METRIC_LABELS
from dashboard.login import current_user

st.title("Arena")
st.caption("Two images of one prompt and seed from two models, names hidden and sides drawn at random. Say which "
           "is better; the names are revealed and the next pair comes. The votes rank the models (Bradley–Terry).")
url = data.db_url()
BUTTONS = (("a", "A is better"), ("b", "B is better"), ("tie", "Tie"), ("both_bad", "Both bad"))


def _next_pair(weights: str, voter: str) -> tuple[int, int] | None:
    return arena.pick_pair(arena_data.candidates(url, weights), arena_data.vote_frame(url, weights), voter=voter,
                           rng=np.random.default_rng())


def _voter() -> str:
    """The login's user, else the name typed (read when the vote is cast: a name typed just before counts)."""
    return current_user() or str(st.session_state.get("arena_voter") or "").strip() or "anonymous"


def _vote(outcome: str, weights: str) -> None:
    """Button callback: store the vote, reveal the names, draw the next pair."""
    pair = st.session_state.get("arena_pair")
    if not pair:
        return
    voter = _voter()
    left, right, _ = pair
    arena_data.record_vote(voter=voter, generation_a_id=left, generation_b_id=right, outcome=outcome)
    a, b = arena_data.generation(left), arena_data.generation(right)
    st.session_state["arena_reveal"] = {"outcome": outcome, "model_a": a.model_key if a else "?",
                                        "model_b": b.model_key if b else "?"}
    nxt = _next_pair(weights, voter)
    st.session_state["arena_pair"] = (*nxt, weights) if nxt else None


def _image_side(where, generation_id: int, label: str) -> None:
    row = arena_data.generation(generation_id)
    where.markdown(f"#### {label}")
    image = data.image_file(row.image_path) if row is not None else None
    if image:
        where.image(image, width="stretch")
    else:
        where.warning("image missing or outside the output folder")


stored = [w for w in data.weights_in_store(url, status="ok")]
if not stored:
    st.info("No images stored yet: generate some (Generate page, or `python -m core.bench --models ... --prompts "
            "FILE`) with at least two models over the same prompts and seeds.")
    st.stop()
c_w, c_v = st.columns([1, 2], vertical_alignment="bottom")
weights = c_w.selectbox("Weights", stored, index=stored.index("pretrained") if "pretrained" in stored else 0,
                        key="arena_weights", help="votes compare images of one weights mode")
user = current_user()
if user is not None:
    voter = user
    c_v.caption(f"Voting as **{user}** (login)")
else:
    voter = c_v.text_input("Your name", key="arena_voter", placeholder="anonymous",
                           help="stored with each vote; empty: anonymous").strip() or "anonymous"
if weights == "tiny":
    st.caption("Tiny-weight images are noise: votes on them only try the arena out.")

pair = st.session_state.get("arena_pair")
if pair is None or pair[2] != weights:
    found = _next_pair(weights, voter)
    pair = st.session_state["arena_pair"] = (*found, weights) if found else None
reveal = st.session_state.pop("arena_reveal", None)
if reveal:
    st.success(f"Your vote: {arena.OUTCOME_LABELS[reveal['outcome']]}. A was **{reveal['model_a']}**, "
               f"B was **{reveal['model_b']}**.", icon=":material/how_to_vote:")
if pair is None:
    st.info(f"No pair left to judge among the {weights} images: the arena needs one prompt and seed made by two "
            "models (or you have judged every pair).")
else:
    left, right, _ = pair
    first = arena_data.generation(left)
    with st.container(border=True):
        st.markdown(f"**{first.prompt}** · seed {first.seed}" if first is not None else "")
        c_a, c_b = st.columns(2)
        _image_side(c_a, left, "A")
        _image_side(c_b, right, "B")
        for col, (outcome, label) in zip(st.columns(4), BUTTONS):
            col.button(label, key=f"arena_{outcome}", width="stretch", type="primary" if outcome in "ab" else "secondary",
                       on_click=_vote, args=(outcome, weights))

# ---- leaderboard ---------------------------------------------------------------------------------------------
st.header("Leaderboard")
votes = arena_data.vote_frame(url, weights)
board = arena_data.board(url, weights)
if board.empty:
    st.info(f"No votes on {weights} images yet.")
    st.stop()
top = board.iloc[0]
interval = f" (95 % CI {top['low']:.0f}–{top['high']:.0f})" if pd.notna(top["low"]) else ""
st.markdown(f"**{len(votes)}** vote(s) by **{votes['voter'].nunique()}** voter(s) · "
            f"{int((votes['outcome'] == 'both_bad').sum())} both bad · top rated: **{top['model_key']}** at "
            f"{top['rating']:.0f}{interval}")
metrics = [c.removeprefix("mean_") for c in board.columns if c.startswith("mean_") and c not in ("mean_s", "mean_tflop")]
shown = pd.DataFrame({
    "rank": board["rank"], "model": board["model_key"], "rating": board["rating"],
    "95% CI": [f"{lo:.0f} – {hi:.0f}" if pd.notna(lo) else "–" for lo, hi in zip(board["low"], board["high"])],
    **{METRIC_LABELS.get(m, m): board[f"mean_{m}"] for m in metrics},
    **{label: pd.to_numeric(board[column], errors="coerce") if column in board.columns else float("nan")
       for label, column in (("mean s", "mean_s"), ("TFLOP", "mean_tflop"), ("USD / image", "usd_per_image"))},
    "votes": board["votes"], "W / L / T": [f"{w} / {lo} / {t}" for w, lo, t in zip(board["wins"], board["losses"],
                                                                                   board["ties"])],
    "both bad": board["both_bad"], "win rate": board["win_rate"]})
unpriced = [c for c in ("mean s", "TFLOP", "USD / image") if shown[c].isna().all()]
shown = shown.drop(columns=unpriced)  # a column of blanks says nothing: the caption names what is missing
tiny = "tiny" in set(board.get("scorer_weights", pd.Series(dtype=object)).dropna().str.split(",").explode())
st.dataframe(shown, hide_index=True, width="stretch", column_config={
    "rating": st.column_config.NumberColumn(format="%.0f"), "win rate": st.column_config.NumberColumn(format="percent"),
    **{METRIC_LABELS.get(m, m): st.column_config.NumberColumn(format="%.3f") for m in metrics},
    "mean s": st.column_config.NumberColumn(format="%.3f"), "TFLOP": st.column_config.NumberColumn(format="%.3g"),
    "USD / image": st.column_config.NumberColumn(format="%.4f")})
st.caption(f"Bradley–Terry ratings (1000 + 400·θ/ln 10: 400 points are 10:1 odds), ties as half a win, both-bad "
           f"votes left out of the fit; 95 % CI: percentile bootstrap over the votes ({arena_data.BOOTSTRAP:,} "
           f"resamples). Scores: mean over each model's {weights} images"
           + (" (tiny scorer: noise scores)" if tiny else "") + "; seconds: steady state; USD: list price or "
           "GPU-time estimate" + (f"; no {', '.join(unpriced)} stored for these models" if unpriced else "") + ".")

st.subheader("Automatic metrics against the votes")
agree = arena_data.agreement(url, weights)
if agree.empty:
    st.caption("No scores on the voted images: score them (`python -m core.bench score --all`).")
else:
    st.dataframe(agree.assign(metric=[METRIC_LABELS.get(m, m) + (" (tiny scorer)" if w == "tiny" else "")
                                      for m, w in zip(agree["metric"], agree["scorer_weights"])])
                 .drop(columns="scorer_weights")
                 .rename(columns={"votes": "votes scored", "decisive": "decisive", "accuracy": "accuracy",
                                  "kendall_tau": "τ (votes)", "rank_tau": "τ (ranking)"}),
                 hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("accuracy", "τ (votes)", "τ (ranking)")})
    st.caption("Accuracy (pairwise): of the decisive votes whose two images the metric scored, the share where the "
               "voted-for image scored higher (a metric tie counts half). τ (votes): Kendall τ-b between the score "
               "difference (B − A) and the vote (+1, 0 tie, −1). τ (ranking): Kendall τ between the models' mean "
               "score and their arena rating.")

st.subheader("Charts")
c_cost, c_log = st.columns([3, 1], vertical_alignment="bottom")
cost = c_cost.radio("Cost", list(chart_arena.COSTS), horizontal=True, key="arena_cost",
                    format_func={"seconds": "seconds", "tflop": "FLOPs", "usd": "USD"}.get)
log = c_log.toggle("log x", key="arena_log")
st.plotly_chart(chart_arena.rating_vs_cost(board, cost, log=log), width="stretch")
st.plotly_chart(chart_arena.category_win_rates(arena.category_win_rates(votes)), width="stretch")

c_votes, c_ratings = st.columns(2)
c_votes.download_button("Votes (CSV)", export.to_bytes(votes, "csv"), file_name=f"votes-{weights}.csv",
                        key="arena_dl_votes")
c_ratings.download_button("Ratings (CSV)", export.to_bytes(board, "csv"), file_name=f"ratings-{weights}.csv",
                          key="arena_dl_ratings")
