"""The model catalog table (Generate and Benchmark): every column with a short header and a width that fits the
page at 1024 and 1440 px; the long explanations are in each header's tooltip."""
from __future__ import annotations

import streamlit as st

from dashboard import data

COLUMNS = {
    "key": st.column_config.TextColumn("key", width="small", pinned=True),
    "name": st.column_config.TextColumn("name", width="medium"),
    "kind": st.column_config.TextColumn("kind", width="small"),
    "available here": st.column_config.CheckboxColumn("here", width="small",
                                                      help="whether it runs on this machine with these weights"),
    "why": st.column_config.TextColumn("why", width="medium", help="why it is or is not available here"),
    "default size": st.column_config.TextColumn("size", width="small", help="default size (W×H) of these weights"),
    "steps": st.column_config.NumberColumn("steps", width="small", help="default denoising steps"),
    "guidance": st.column_config.NumberColumn("guid.", width="small", format="%g", help="default guidance"),
    "VRAM GB (full model, approx.)": st.column_config.NumberColumn(
        "VRAM GB", width="small", format="%g", help="GPU memory of the full model, approximate"),
    "params B (full model)": st.column_config.NumberColumn("params B", width="small", format="%g",
                                                           help="parameters of the full model, billions"),
    "gated": st.column_config.CheckboxColumn("gated", width="small", help="gated on the Hugging Face Hub"),
    "negative prompt": st.column_config.CheckboxColumn("neg.", width="small", help="takes a negative prompt"),
    "license": st.column_config.TextColumn("license", width="small"),
}


def show_catalog(weights: str) -> None:
    st.caption(data.catalog_note(weights))
    st.dataframe(data.model_catalog(weights), hide_index=True, width="stretch", column_config=COLUMNS)
