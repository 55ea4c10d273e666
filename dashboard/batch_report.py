"""What a finished batch did, kept in view on the Benchmark page: p50/p90 seconds and images per second per
model × configuration, mean scores per model and metric, and for a failed or interrupted run the reason (its
error rows, else the last error in its log)."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from core import store
from core.explain import explain_error
from dashboard import data, scores

LOG_TAIL_LINES = 40
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)|[\w.]+\.errors?\.\w+)\b.*", re.M)


@dataclass(frozen=True)
class BatchResult:
    """A run's result: the per-configuration table, mean scores (one row per model, a column per metric), and
    images per second over the run's wall time."""

    table: pd.DataFrame
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    scorer: str | None = None
    images_per_s: float | None = None


# The columns a batch's result shows (Charts' p50/p90 table has them all), with headers that fit at 1024 px.
SHOWN = {"model": "model", "configuration": "configuration", "n": "n", "p50_s": "p50 s", "p90_s": "p90 s",
         "images_per_s": "img/s", "first_n": "first calls", "failed": "failed", "USD/image (list)": "USD/image",
         "USD/image (estimate)": "USD/image (est.)"}


def _per_configuration(frame: pd.DataFrame) -> pd.DataFrame:
    """Charts' p50/p90 table of the run: the columns that say something (no all-zero or empty ones)."""
    table = data.config_summary(frame)
    if table.empty:
        return table
    keep = [c for c in SHOWN if c in table.columns
            and (c in ("model", "configuration", "n", "p50_s", "p90_s") or table[c].fillna(0).astype(bool).any())]
    return table[keep].rename(columns=SHOWN)


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def batch_result(url: str, run_id: int, weights: str | None, seconds: float | None, ok: int) -> BatchResult:
    """The result of run `run_id` (steady state: first calls after a load left out of the times, as in Charts)."""
    frame = data.chart_frame(url, weights, (run_id,))
    table = _per_configuration(frame)
    stored = scores.scorer_weights_in_store(url)
    found, scorer = pd.DataFrame(), None
    for scorer_weights in stored:  # pretrained first; tiny-scorer scores only when no pretrained ones
        rows = scores.score_frame(url, weights, scorer_weights, (run_id,))
        if not rows.empty:
            found = (rows.groupby(["model_key", "metric"])["value"].mean().unstack("metric")
                     .rename(columns=lambda m: scores.METRIC_LABELS.get(m, m)).reset_index()
                     .rename(columns={"model_key": "model"}))
            scorer = scorer_weights
            break
    rate = ok / seconds if seconds and ok else None
    return BatchResult(table=table, scores=found, scorer=scorer, images_per_s=rate)


def _log_error(path: str | None) -> tuple[str | None, str]:
    """The last exception line of a batch log (explained) and the log's tail."""
    if not path:
        return None, ""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None, ""
    tail = "\n".join(lines[-LOG_TAIL_LINES:])
    last = None
    for last in _EXCEPTION_LINE.finditer("\n".join(lines)):
        pass
    return (explain_error(last.group(0))[0] if last else None), tail


def failure_reason(url: str, run_id: int, log: str | None) -> tuple[str | None, str]:
    """Why a run failed or stopped: its error rows' most common explained errors, else the last error in its
    log. Returns (one line or None, the log's tail)."""
    with store.session_scope(data._db_engine(url), read_only=True) as s:  # noqa: SLF001 - one engine per URL
        rows = store.generation_columns(session=s, columns=("model_key", "error"), run_id=run_id, status="failed",
                                        limit=500)
    line, tail = _log_error(log)
    errors = Counter(explain_error(r["error"])[0] for r in rows if r.get("error"))
    if errors:
        parts = [f"{n} job(s): {text}" for text, n in errors.most_common(3)]
        more = len(errors) - 3
        return " · ".join(parts) + (f" · and {more} other error(s)" if more > 0 else ""), tail
    return line, tail
