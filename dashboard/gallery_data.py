"""History's grid and run annotations: the cached queries they read and the one write (annotate a run).

Queries go through core.store on the cached engine of dashboard.data; results are cached a few seconds and
cleared after a write, like every other page query.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd
import streamlit as st
from PIL import Image

from core import stats, store
from dashboard import data, grid

# Columns the grid reads: its axes, what a cell shows, and what picks one row per cell.
GRID_COLUMNS = tuple(dict.fromkeys(
    ("id", "run_id", "created_at", "model_key", "prompt", "category", "seed", "steps", "guidance", "recipe", "weights",
     "width", "height", "status", "error", "image_path", "image_index", "first_call", "total_s")
    # every axis of a configuration (core.stats): a model run in two configurations is two cells, never one
    + tuple(c for c in stats.CONFIG_COLUMNS if c in store.Generation.__table__.columns)))
GRID_LIMIT = 5_000  # rows a grid reads at most (the newest)


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def run_tags(url: str) -> list[str]:
    """Every tag some run carries (the tag pickers)."""
    with store.session_scope(data._db_engine(url), read_only=True) as s:  # noqa: SLF001 - the cached engine
        return store.run_tags(session=s)


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def grid_frame(url: str, run_ids: tuple[int, ...], tag: str | None = None, models: tuple[str, ...] = (),
               limit: int = GRID_LIMIT) -> pd.DataFrame:
    """The newest `limit` generations of these runs (or of the runs carrying `tag`), the grid's columns, with the
    size (`WxH`) and the configuration's label (core.stats: what the CLI summary and Charts call it)."""
    with store.session_scope(data._db_engine(url), read_only=True) as s:  # noqa: SLF001
        rows = store.generation_columns(session=s, columns=GRID_COLUMNS, limit=limit, run_ids=list(run_ids) or None,
                                        tag=tag, model_keys=list(models) or None)
    frame = pd.DataFrame(rows, columns=list(GRID_COLUMNS))
    for column in ("total_s", "guidance"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return grid.with_size(stats.with_config(frame))


def load_image(row: dict) -> Image.Image | None:
    """A cell's image for the PNG sheet (only files inside the output folder), or None."""
    path = data.image_file(row.get("image_path"))
    if not path:
        return None
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError:
        return None


def annotate_run(run_id: int, *, name: str | None = None, notes: str | None = None,
                 tags: Sequence[str] | None = None) -> None:
    """Rename a run, set its notes and tags (core.run_notes checks them: RequestError names the field)."""
    with store.session_scope(data.db()) as s:
        if store.annotate_run(session=s, run_id=run_id, name=name, notes=notes, tags=tags) is None:
            raise LookupError(f"run: {run_id} is not in the store (deleted?)")
    data.clear_queries()
