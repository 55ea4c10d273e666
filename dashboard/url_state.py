"""Page state in the URL, for the values Streamlit's own binding (`bind="query-params"`) cannot carry well:
a picker whose options are ids shown with long labels (a run, a generation), or a list of ids.

`take(param, key, parse)` before the widget: a URL value the page did not write itself (a shared link, a
reload) goes into the widget's session state. `put(param, text)` after the widget: its value into the URL
(removed when empty). Widgets with plain options bind themselves (`bind="query-params"`, key = parameter).
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

_SEEN = "_url_seen"  # {param: the text this page last read or wrote}


def take(param: str, key: str, parse: Callable[[str], Any]) -> bool:
    """Put the URL's `param` (parsed) into `st.session_state[key]` when it is new to this session; a value that
    does not parse is left out of the URL. Returns True when the state was set."""
    raw = st.query_params.get(param)
    seen = st.session_state.setdefault(_SEEN, {})
    if raw is None or seen.get(param) == raw:
        return False
    seen[param] = raw
    try:
        st.session_state[key] = parse(raw)
    except (ValueError, TypeError):
        st.query_params.pop(param, None)
        seen.pop(param, None)
        return False
    return True


def put(param: str, text: str | None) -> None:
    """Write a widget's value into the URL (None or "" removes the parameter)."""
    seen = st.session_state.setdefault(_SEEN, {})
    if text is None or text == "":
        if param in st.query_params:
            st.query_params.pop(param)
        seen.pop(param, None)
        return
    if st.query_params.get(param) != text:
        st.query_params[param] = text
    seen[param] = text


def ints(text: str) -> tuple[int, ...]:
    """`3,7` → (3, 7) (ValueError for anything else)."""
    values = tuple(int(v) for v in text.split(",") if v.strip())
    if any(v < 0 for v in values):
        raise ValueError(text)
    return values


def joined(values) -> str:
    return ",".join(str(v) for v in values)
