"""Export generations and the per-configuration summary to CSV or Parquet.

    python -m core.bench export generations --out gens.parquet --models sdxl,flux-dev --status ok
    python -m core.bench export summary --out summary.csv --weights pretrained --since 2026-01-01
    python -m core.bench export votes --out votes.csv --voter ann
    python -m core.bench export ratings --out ratings.parquet --weights pretrained --bootstrap 2000

Generations: every column of every row that matches the History filters (models, status, prompt text, run,
dates, weights), oldest first; JSON columns (`extra`, `profile`, `api_params`) as JSON text. `read()` gives the
rows back as the store holds them. Summary: p50/p90/mean seconds per model × configuration (steady state: first
calls after load left out), with mean USD per image (list price, or the open models' GPU-time estimate).
Votes: the Arena's votes (voter, both generations and models, outcome, prompt, seed, category), oldest first.
Ratings: the Bradley–Terry leaderboard of those votes with bootstrap 95 % intervals, mean scores and cost per
model (core.votes). --models, --since, --until and --weights filter votes; --voter only votes and ratings.
"""
from __future__ import annotations

import io
import json
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from core import pricing, stats, store
from core.store.json_column import is_json
from core.settings import get_settings

FORMATS = ("csv", "parquet")
WHAT = ("generations", "summary", "votes", "ratings")
GENERATION_ONLY = ("status", "prompt", "run")  # filters that votes and ratings do not take
JSON_COLUMNS = tuple(c.name for c in store.Generation.__table__.columns if is_json(c))
DATETIME_COLUMNS = ("created_at",)
COLUMNS = tuple(store.Generation.__table__.columns.keys())


def filters(*, models: Iterable[str] | None = None, status: str | None = None, prompt: str | None = None,
            run: int | None = None, since: date | None = None, until: date | None = None,
            weights: str | None = None, task: str | None = None) -> dict[str, Any]:
    """History's filters as store keyword arguments; `until` is inclusive (the whole day)."""
    return {"task": task or None,
        "model_keys": list(models) if models else None, "status": status or None,
        "prompt_contains": prompt or None, "run_id": run, "weights": weights or None,
        "since": datetime.combine(since, time.min, timezone.utc) if since else None,
        "until": datetime.combine(until + timedelta(days=1), time.min, timezone.utc) if until else None,
    }


def generations_frame(engine, **store_filters) -> pd.DataFrame:
    """Every column of the filtered generations, oldest first; JSON columns as JSON text."""
    with store.session_scope(engine, read_only=True) as s:
        rows = list(store.generation_records(session=s, **store_filters))
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    for column in JSON_COLUMNS:
        frame[column] = [None if v is None else json.dumps(v, sort_keys=True, default=str) for v in frame[column]]
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def summary_frame(engine, **store_filters) -> pd.DataFrame:
    """core.stats.config_table of the filtered rows: p50/p90 per model × configuration (first calls apart, failures
    counted), with USD per image (list price, or the open models' GPU-time estimate)."""
    columns = tuple(dict.fromkeys(("id",) + stats.CONFIG_COLUMNS + stats.STAT_COLUMNS))
    with store.session_scope(engine, read_only=True) as s:
        rows = store.generation_tuples(session=s, columns=columns, **store_filters)
        frame = pd.DataFrame.from_records(rows, columns=list(columns))
        gpus = store.run_gpu_names(session=s, run_ids=frame["run_id"].dropna().astype(int).unique().tolist())
    if frame.empty:
        return stats.config_table(frame)
    return stats.config_table(pricing.with_cost_estimate(frame, gpus, get_settings().gpu_hour_usd))


def to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The frame as CSV (UTF-8) or Parquet bytes (for a download button)."""
    _check_format(fmt)
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def write(frame: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    path = Path(path)
    fmt = fmt or format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(frame, fmt))
    return path


def read(path: str | Path) -> list[dict[str, Any]]:
    """An exported generations file back as rows like the store's: JSON columns parsed, times as datetimes,
    missing values as None."""
    path = Path(path)
    frame = pd.read_parquet(path) if format_of(path) == "parquet" else pd.read_csv(path, keep_default_na=False,
                                                                                   na_values=[""])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    rows = []
    for record in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        for column in JSON_COLUMNS:
            record[column] = json.loads(record[column]) if record.get(column) is not None else None
        record["created_at"] = record["created_at"].to_pydatetime() if record["created_at"] is not None else None
        rows.append(record)
    return rows


def format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    fmt = {"pq": "parquet"}.get(suffix, suffix)
    _check_format(fmt, f"--out: cannot tell the format of {path.name}; end it in .csv or .parquet, or pass --format")
    return fmt


def _check_format(fmt: str, message: str | None = None) -> None:
    if fmt not in FORMATS:
        raise ValueError(message or f"format: {fmt!r} is not allowed; one of {', '.join(FORMATS)}")
