"""Filters kept in the page's URL, so a link reopens the same view.

Most widgets bind themselves (`bind="query-params"`: the widget's key is the parameter). Run pickers show
"run 3 · name" but keep the run id in the URL (`?charts_runs=3&charts_runs=5`): a renamed run keeps its links.
`seed` puts the URL's ids into the widget's state before it draws; `keep` (its `on_change`) writes them back.
"""
from __future__ import annotations

from typing import Sequence

import streamlit as st


def seed(key: str, options: Sequence[int], *, multi: bool) -> None:
    """The ids in `?key=` that are among `options` become the widget's value, on the page's first draw only."""
    if key in st.session_state or key not in st.query_params:
        return
    wanted = st.query_params.get_all(key)
    chosen = [o for o in options if str(o) in wanted]
    if multi:
        st.session_state[key] = chosen
    elif chosen:
        st.session_state[key] = chosen[0]


def keep(key: str, default=None) -> None:
    """`on_change` of a run picker: the chosen ids into the URL (none, or the default: the parameter goes)."""
    value = st.session_state.get(key)
    if value is None or value == [] or value == default:
        st.query_params.pop(key, None)
    elif isinstance(value, (list, tuple)):
        st.query_params[key] = [str(v) for v in value]
    else:
        st.query_params[key] = str(value)
