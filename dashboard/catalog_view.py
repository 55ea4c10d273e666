"""The model catalog table (Generate and Benchmark): the facts people compare first (here, size, steps, guidance,
VRAM, parameters) right after the key, short headers with the long meaning in each header's tooltip, and widths
that fit the page at 1440 px; at 1024 px every number is in view and only kind, licence, name and why are left to
scroll to."""
from __future__ import annotations

import streamlit as st

from dashboard import model_facts

COLUMNS = {
    "key": st.column_config.TextColumn("key", width=110, pinned=True),
    "available here": st.column_config.CheckboxColumn("here", width=44,
                                                      help="whether it runs on this machine with these weights"),
    "default size": st.column_config.TextColumn("size", width=64, help="default size (W×H) of these weights"),
    "steps": st.column_config.NumberColumn("steps", width=50, help="default denoising steps"),
    "guidance": st.column_config.NumberColumn("guid.", width=50, format="%g", help="default guidance"),
    "VRAM GB (full model, approx.)": st.column_config.NumberColumn(
        "VRAM GB", width=68, format="%g", help="GPU memory of the full model, approximate"),
    "params B (full model)": st.column_config.NumberColumn("params B", width=68, format="%g",
                                                           help="parameters of the full model, billions"),
    "gated": st.column_config.CheckboxColumn("gated", width=50, help="gated on the Hugging Face Hub"),
    "negative prompt": st.column_config.CheckboxColumn("neg.", width=42, help="takes a negative prompt"),
    "license": st.column_config.TextColumn("license", width=80),
    "name": st.column_config.TextColumn("name", width=120),
    "why": st.column_config.TextColumn("why", width=110, help="why it is or is not available here"),
    "kind": st.column_config.TextColumn("kind", width=64),
}


def show_catalog(weights: str) -> None:
    st.caption(model_facts.catalog_note(weights))
    st.dataframe(model_facts.model_catalog(weights), hide_index=True, width="stretch", column_config=COLUMNS,
                 column_order=list(COLUMNS))
