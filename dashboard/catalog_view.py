"""The model catalog table (Generate and Benchmark): the facts people compare first (here, size, steps, guidance,
VRAM, parameters) right after the key, short headers with the long meaning in each header's tooltip, and widths
that fit the page at 1440 px; at 1024 px every number is in view and only kind, licence, name and why are left to
scroll to."""
from __future__ import annotations

import streamlit as st

from dashboard import data

COLUMNS = {
    "key": st.column_config.TextColumn("key", width=118, pinned=True),
    "available here": st.column_config.CheckboxColumn("here", width=48,
                                                      help="whether it runs on this machine with these weights"),
    "default size": st.column_config.TextColumn("size", width=78, help="default size (W×H) of these weights"),
    "steps": st.column_config.NumberColumn("steps", width=52, help="default denoising steps"),
    "guidance": st.column_config.NumberColumn("guid.", width=52, format="%g", help="default guidance"),
    "VRAM GB (full model, approx.)": st.column_config.NumberColumn(
        "VRAM GB", width=72, format="%g", help="GPU memory of the full model, approximate"),
    "params B (full model)": st.column_config.NumberColumn("params B", width=72, format="%g",
                                                           help="parameters of the full model, billions"),
    "gated": st.column_config.CheckboxColumn("gated", width=52, help="gated on the Hugging Face Hub"),
    "negative prompt": st.column_config.CheckboxColumn("neg.", width=44, help="takes a negative prompt"),
    "kind": st.column_config.TextColumn("kind", width=64),
    "license": st.column_config.TextColumn("license", width=88),
    "name": st.column_config.TextColumn("name", width=150),
    "why": st.column_config.TextColumn("why", width=150, help="why it is or is not available here"),
}


def show_catalog(weights: str) -> None:
    st.caption(data.catalog_note(weights))
    st.dataframe(data.model_catalog(weights), hide_index=True, width="stretch", column_config=COLUMNS,
                 column_order=list(COLUMNS))
