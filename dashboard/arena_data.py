"""What the Arena page reads and writes: the images that can be paired, the votes, the leaderboard and the metric
agreement (core.votes over core.arena), cached for a few seconds; storing a vote clears the caches."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core import arena, store, votes
from dashboard import data

CANDIDATE_COLUMNS = ("id", "model_key", "prompt", "seed", "category", "image_path")
BOOTSTRAP = 1000


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def candidates(url: str, weights: str) -> pd.DataFrame:
    """Ok rows with an image of one weights mode: what the arena pairs (one prompt and seed, two models)."""
    with store.session_scope(data._db_engine(url), read_only=True) as s:  # the one engine per URL
        rows = store.generation_columns(session=s, columns=CANDIDATE_COLUMNS, weights=weights, status="ok")
    frame = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    return frame[frame["image_path"].notna()].reset_index(drop=True)


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def vote_frame(url: str, weights: str) -> pd.DataFrame:
    return votes.votes_frame(data._db_engine(url), weights=weights)


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def board(url: str, weights: str) -> pd.DataFrame:
    """The leaderboard of this weights mode's votes (bootstrap 95 % intervals) with mean scores and cost."""
    engine = data._db_engine(url)
    found = vote_frame(url, weights)
    models = sorted(set(found["model_a"]) | set(found["model_b"]))
    return votes.leaderboard(found, votes.model_scores(engine, model_keys=models, weights=weights),
                             votes.model_costs(engine, model_keys=models, weights=weights), bootstrap=BOOTSTRAP)


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def agreement(url: str, weights: str) -> pd.DataFrame:
    return votes.agreement_frame(data._db_engine(url), vote_frame(url, weights), board(url, weights),
                                 weights=weights)


def generation(generation_id: int):
    with store.session_scope(data.db(), read_only=True) as s:
        return store.get_generation(session=s, generation_id=generation_id)


def record_vote(*, voter: str, generation_a_id: int, generation_b_id: int, outcome: str) -> store.Vote:
    """Store one vote (checked: outcome, voter, two different images) and forget the cached queries."""
    arena.check_outcome(outcome)
    with store.session_scope(data.db()) as s:
        vote = store.add_vote(session=s, vote=store.Vote(voter=voter.strip() or "anonymous",
                                                         generation_a_id=generation_a_id,
                                                         generation_b_id=generation_b_id, outcome=outcome))
    data.clear_queries()
    return vote
