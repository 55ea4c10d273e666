"""The one JSON encoding of every JSON column in the store: non-finite floats survive both backends.

JSON has no spelling for infinity or NaN. Python's `json` writes them as the bare words `Infinity`,
`-Infinity` and `NaN`, which SQLite stores but PostgreSQL refuses ("invalid input syntax for type
json"); some schedulers hold one in their config (PixArt, Sana and UniDiffuser:
`lambda_min_clipped: -inf`). `StoreJSON` (a SQLAlchemy `TypeDecorator` over `JSON`, used by every JSON
column in core.store) writes each non-finite float as a tagged object, valid JSON on every backend:

    float("-inf")  ->  {"$float": "-Infinity"}      float("inf") -> {"$float": "Infinity"}
    float("nan")   ->  {"$float": "NaN"}

and turns the tag back into the float when the row is read, so a value reads back as it was written.
An object with exactly the one key "$float" holding one of those three words is the tag: such an
object is reserved. Stores written before this encoding (SQLite rows with bare `-Infinity`) still read,
since Python's `json` reads the bare words. The columns' DDL is plain JSON: no migration.
"""
from __future__ import annotations

import math
from typing import Any

from sqlalchemy.types import JSON, TypeDecorator

TAG = "$float"
_SPELLING = {math.inf: "Infinity", -math.inf: "-Infinity"}
_VALUES = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}


def encode(value: Any) -> Any:
    """`value` with every non-finite float replaced by its tag (containers copied only where one is found)."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {TAG: "NaN" if math.isnan(value) else _SPELLING[value]}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """`value` with every tag turned back into its float."""
    if isinstance(value, dict):
        if len(value) == 1 and TAG in value and value[TAG] in _VALUES:
            return _VALUES[value[TAG]]
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class StoreJSON(TypeDecorator):
    """JSON whose non-finite floats round-trip on SQLite and PostgreSQL (see the module docstring)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> Any:
        return None if value is None else encode(value)

    def process_result_value(self, value: Any, dialect) -> Any:
        return None if value is None else decode(value)


def is_json(column) -> bool:
    """Whether a table column holds JSON (a StoreJSON column, or a plain JSON one)."""
    return isinstance(column.type, (StoreJSON, JSON))
