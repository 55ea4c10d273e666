"""Readable tables for the pages: nested records (a run's environment, a profile) as field/value rows."""
from __future__ import annotations

from typing import Any

import pandas as pd


def show(value: Any) -> str:
    """A value as a table cell reads it: floats to 4 significant digits, lists joined, None as blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return ", ".join(show(v) for v in value)
    return str(value)


def flatten(record: dict[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c": [1, 2]} → {"a · b": 1, "c": [1, 2]}; lists of records get their index."""
    out: dict[str, Any] = {}
    for key, value in (record or {}).items():
        name = f"{prefix} · {key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        elif isinstance(value, (list, tuple)) and value and any(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                out.update(flatten(item, f"{name} [{i}]") if isinstance(item, dict) else {f"{name} [{i}]": item})
        else:
            out[name] = value
    return out


def key_values(values: dict[str, Any], *, skip_empty: bool = True) -> pd.DataFrame:
    """A two-column field/value table (empty values left out unless asked)."""
    items = [(k, show(v)) for k, v in values.items() if not (skip_empty and (v is None or v == "" or v == {}))]
    return pd.DataFrame(items, columns=["field", "value"])
