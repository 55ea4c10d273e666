"""What the pages share: the cached database engine and dev-mode Engine, and the cached store queries.

Split by job: model facts for the pickers live in dashboard/model_facts.py, background batches in
dashboard/batches.py, number formatting in dashboard/formatting.py. Queries go through core.store (the only code that
talks to the database); results are cached for a few seconds with `st.cache_data`, keyed by the database URL, and
cleared after the dashboard writes. Longer than 400 lines because every page's cached queries live here, sorted by
page section (resources, filters, queries, chart data, writes); no logic the CLI needs is here.
"""
from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

import pandas as pd
import streamlit as st

from core import export, stats, outputs, pricing, run_notes, store
from core.generation import Engine
from core.loading import WEIGHTS
from core.registry import get_spec
from core.errors import StoreError
from core.settings import Settings, get_settings

QUERY_TTL_S = 10
PAGE_SIZES = (25, 50, 100, 200)
LOCAL_ADDRESSES = ("localhost", "127.0.0.1", "::1")
WEIGHT_MODES = (*WEIGHTS, "api")

# Columns charts read (JSON columns never leave the database for charts).
CHART_COLUMNS = tuple(dict.fromkeys(stats.CONFIG_COLUMNS + (
    "run_id", "status", "first_call", "total_s", "text_encode_s", "denoise_s", "decode_s", "prior_s", "decoder_s",
    "peak_mem_gb", "flops_total", "mfu", "cost_usd", "compile_s", "psnr_db", "ssim")))
# Read only when some job was repeated: the spread over repeats needs the job (prompt and seed).
REPEAT_COLUMNS = tuple(c for c in ("repeat", "prompt", "seed") if "repeat" in store.Generation.__table__.columns)
# Columns of the History table, in the order shown.
TABLE_COLUMNS = ("id", "created_at", "run_id", "model_key", "status", "prompt", "seed", "steps", "guidance",
                 "width", "height", "total_s", "denoise_s", "peak_mem_gb", "flops_total", "cost_usd", "error",
                 "recipe", "first_call", "compile_s", "psnr_db", "ssim", "batch_size", "task")


def settings() -> Settings:
    return get_settings()


def db_url() -> str:
    return settings().database_url


# ---- resources ---------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _open_store(url: str):
    return store.make_engine(url)


def _db_engine(url: str):
    """The one place pages open the store: one that cannot be opened stops the page with one error line (the URL,
    password hidden, what failed, what to check), never a traceback."""
    try:
        return _open_store(url)
    except StoreError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()


def db():
    """The SQLAlchemy engine of the configured store (one per URL, shared by every session)."""
    return _db_engine(db_url())


@st.cache_resource(show_spinner=False)
def _engine_slot() -> dict[str, Any]:
    return {"engine": None, "lock": threading.Lock(), "unloads": []}  # unloads: (n, session, what)


def _session_id() -> str:
    """This browser tab (a token in its session state)."""
    return st.session_state.setdefault("_tab_id", secrets.token_hex(6))


def note_unload(what: str) -> None:
    """Record that this session unloaded shared models (the other tabs are told: `unloads_by_others`)."""
    slot = _engine_slot()
    with slot["lock"]:
        slot["unloads"].append((len(slot["unloads"]) + 1, _session_id(), what))
        del slot["unloads"][:-50]


def unloads_by_others(since: int) -> tuple[list[str], int]:
    """What other sessions unloaded after event `since`, and the newest event number."""
    events = list(_engine_slot()["unloads"])
    me = _session_id()
    return [what for n, who, what in events if n > since and who != me], (events[-1][0] if events else 0)


def dev_engine(weights: str):
    """The dev-mode Engine (models stay resident between generations), shared by every session.

    One Engine per process: switching the weights mode unloads the resident models of the old one, so
    two sets of pipelines never sit in GPU memory at once.
    """
    slot = _engine_slot()
    with slot["lock"]:
        engine = slot["engine"]
        if engine is None or engine.weights != weights:
            if engine is not None:
                resident = ", ".join(engine.resident)
                engine.unload_all()
                if resident:
                    slot["unloads"].append((len(slot["unloads"]) + 1, _session_id(),
                                            f"{resident} ({engine.weights} weights; {weights} weights were chosen)"))
            engine = Engine(weights=weights, settings=settings(), **Engine.caches_for(db()))
            slot["engine"] = engine
        return engine


def current_dev_engine():
    """The dev Engine if one was created (for the residency panel), else None."""
    return _engine_slot()["engine"]


def clear_queries() -> None:
    """Forget cached query results (after the dashboard wrote or deleted rows)."""
    st.cache_data.clear()


# ---- filters -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """History filters, hashable so cached queries can key on them (the export takes the same ones)."""

    models: tuple[str, ...] = ()
    status: str | None = None
    prompt: str | None = None
    run_id: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    weights: str | None = None
    task: str | None = None  # text-to-image or edit
    score_metric: str | None = None  # rows with a score of this metric (by scorers of score_weights) ...
    score_weights: str | None = None
    score_min: float | None = None  # ... within [score_min, score_max]
    score_max: float | None = None
    tag: str | None = None  # generations of runs carrying this tag

    def kwargs(self) -> dict[str, Any]:
        out = export.filters(models=self.models, status=self.status, prompt=self.prompt, run=self.run_id,
                             since=self.since, until=self.until, weights=self.weights, task=self.task)
        if self.tag:
            out["tag"] = self.tag
        if self.score_metric:
            out.update(score_metric=self.score_metric, score_weights=self.score_weights, score_min=self.score_min,
                       score_max=self.score_max)
        return out


# ---- cached queries ----------------------------------------------------------------------------------
_NUMERIC = ("total_s", "text_encode_s", "denoise_s", "decode_s", "prior_s", "decoder_s", "load_s", "peak_mem_gb",
            "flops_total", "tflops_per_s", "mfu", "cost_usd", "guidance", "compile_s", "psnr_db", "ssim")


def _frame(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows → DataFrame; measurement columns are floats even when every value is missing (NaN, not None)."""
    frame = pd.DataFrame(rows, columns=list(columns) if columns and not rows else None)
    if columns and rows:
        frame = frame[[c for c in columns if c in frame.columns]]
    for column in _NUMERIC:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def model_keys(url: str) -> list[str]:
    with store.session_scope(_db_engine(url), read_only=True) as s:
        return store.model_keys_in_store(session=s)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def weights_in_store(url: str, status: str | None = None) -> list[str]:
    """Weights modes in the store (the three open-model modes and api); `status="ok"`: those with something
    to chart."""
    with store.session_scope(_db_engine(url), read_only=True) as s:
        return store.weights_in_store(session=s, status=status, modes=WEIGHT_MODES)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def count_generations(url: str, filters: Filters) -> int:
    with store.session_scope(_db_engine(url), read_only=True) as s:
        return store.count_generations(session=s, **filters.kwargs())


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def generations_page(url: str, filters: Filters, limit: int, offset: int,
                     sort_score: tuple[str, str | None, bool] | None = None) -> pd.DataFrame:
    """One page of generations (flat columns, newest first, or by `sort_score` = (metric, scorer weights,
    descending)), with `cost_est_usd` for open models on a GPU."""
    with store.session_scope(_db_engine(url), read_only=True) as s:
        rows = store.generation_columns(session=s, columns=TABLE_COLUMNS + ("image_path", "weights", "input_images"),
                                        limit=limit, offset=offset, sort_score=sort_score, **filters.kwargs())
        frame = _frame(rows, TABLE_COLUMNS + ("image_path", "weights", "input_images"))
        gpus = store.run_gpu_names(session=s, run_ids=frame["run_id"].dropna().astype(int).unique().tolist()) \
            if not frame.empty else {}
    return pricing.with_cost_estimate(frame, gpus, settings().gpu_hour_usd)


def export_generations(url: str, filters: Filters, fmt: str) -> bytes:
    """Every generation matching the filters (not one page), as CSV or Parquet bytes (core.export)."""
    return export.to_bytes(export.generations_frame(_db_engine(url), **filters.kwargs()), fmt)


def estimate_for(total_s: float | None, gpu_name: str | None) -> tuple[float | None, float | None]:
    """(USD per image, USD per GPU-hour used) for an open model's generation on `gpu_name`."""
    rate = pricing.rate_for(gpu_name, settings().gpu_hour_usd)
    return pricing.usd_per_image(total_s, rate), rate


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def generation_detail(url: str, generation_id: int) -> dict[str, Any] | None:
    with store.session_scope(_db_engine(url), read_only=True) as s:
        gen = store.get_generation(session=s, generation_id=generation_id)
        if gen is None:
            return None
        run = store.get_run(session=s, run_id=gen.run_id)
        return {"generation": gen.model_dump(mode="json"), "run": run.model_dump(mode="json") if run else None}


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def count_runs(url: str, kind: str | None = None, status: str | None = None, tag: str | None = None) -> int:
    with store.session_scope(_db_engine(url), read_only=True) as s:
        return store.count_runs(session=s, kind=kind, status=status, tag=tag)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def runs_frame(url: str, limit: int = 50, offset: int = 0, kind: str | None = None,
               status: str | None = None, tag: str | None = None) -> pd.DataFrame:
    """One page of runs with their generation counts (ok, failed), progress and annotations (tags, notes)."""
    columns = ["id", "created_at", "name", "kind", "status", "weights", "mode", "models", "ok", "failed",
               "jobs_total", "device", "gpu_name", "finished_at", "seconds", "output_dir", "pid", "hostname",
               "tags", "notes", "prompt", "label"]
    with store.session_scope(_db_engine(url), read_only=True) as s:
        runs = store.query_runs(session=s, limit=limit, offset=offset, kind=kind, status=status, tag=tag)
        counts = store.run_counts(session=s, run_ids=[r.id for r in runs])
    rows = []
    for r in runs:
        c = counts.get(r.id, {})
        models = (r.params or {}).get("models") if isinstance(r.params, dict) else None
        prompt = (r.params or {}).get("prompt") if isinstance(r.params, dict) else None  # a Generate run's
        rows.append({"id": r.id, "created_at": r.created_at, "name": r.name, "kind": r.kind, "status": r.status,
                     "weights": r.weights, "mode": r.mode, "models": ", ".join(models) if models else None,
                     "ok": c.get("ok", 0), "failed": c.get("failed", 0) + c.get("skipped", 0),
                     "jobs_total": r.jobs_total, "device": r.device, "gpu_name": r.gpu_name,
                     "finished_at": r.finished_at,
                     "seconds": (r.finished_at - r.created_at).total_seconds() if r.finished_at else None,
                     "output_dir": r.output_dir, "pid": r.pid, "hostname": r.hostname, "tags": list(r.tags or []),
                     "notes": r.notes, "prompt": prompt,
                     "label": run_notes.run_label(name=r.name, kind=r.kind, weights=r.weights, prompt=prompt)})
    return pd.DataFrame(rows, columns=columns)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def run_labels(url: str, limit: int = 200) -> pd.DataFrame:
    """id, name, kind of the newest runs: what a run picker shows (no generation counts: those scan the store)."""
    with store.session_scope(_db_engine(url), read_only=True) as s:
        runs = store.query_runs(session=s, limit=limit)
    return pd.DataFrame([{"id": r.id, "name": r.name, "kind": r.kind} for r in runs], columns=["id", "name", "kind"])


def _run_summary(url: str, run_id: int) -> pd.DataFrame:
    with store.session_scope(_db_engine(url), read_only=True) as s:
        frame = pd.DataFrame(store.run_model_summary(session=s, run_id=run_id),
                             columns=["model_key", "ok", "failed", "skipped", "mean_total_s", "mean_denoise_s",
                                      "peak_mem_gb", "cost_usd"])
    for column in ("mean_total_s", "mean_denoise_s", "peak_mem_gb", "cost_usd"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


run_summary = st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)(_run_summary)


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """A run summary for display: readable headers; measurements nobody has (and zero skips) left out."""
    frame = summary.copy()
    for column in ("mean_total_s", "mean_denoise_s", "peak_mem_gb", "cost_usd"):
        if frame[column].isna().all():
            frame = frame.drop(columns=column)
    if "skipped" in frame.columns and not frame["skipped"].any():
        frame = frame.drop(columns="skipped")
    return frame.rename(columns={"model_key": "model", "mean_total_s": "mean s/call", "mean_denoise_s": "mean denoise s",
                                 "peak_mem_gb": "peak GB", "cost_usd": "USD"})


def run_summary_live(run_id: int) -> pd.DataFrame:
    """Uncached per-model summary, for a batch in progress."""
    return _run_summary(db_url(), run_id)


def run_progress(run_id: int) -> tuple[dict[str, int], Any]:
    """Uncached: {status: count} and the Run row, for live progress."""
    with store.session_scope(db(), read_only=True) as s:
        counts = store.run_counts(session=s, run_ids=[run_id]).get(run_id, {})
        return counts, store.get_run(session=s, run_id=run_id)


def find_run(name: str):
    with store.session_scope(db(), read_only=True) as s:
        return store.find_run(session=s, name=name)


def running_runs():
    """Uncached: runs whose status is still 'running' (batches and generations in progress)."""
    with store.session_scope(db(), read_only=True) as s:
        return store.query_runs(session=s, status="running", limit=50)


def latest_generations(run_id: int, limit: int = 8) -> pd.DataFrame:
    """Uncached: the newest generations of a run (results arriving)."""
    with store.session_scope(db(), read_only=True) as s:
        rows = store.generation_columns(session=s, columns=TABLE_COLUMNS + ("image_path",), limit=limit,
                                        run_id=run_id)
    return _frame(rows, TABLE_COLUMNS + ("image_path",))


def _chart_rows(engine, weights: str | None, run_ids: tuple[int, ...], models: tuple[str, ...],
                limit: int = 200_000) -> pd.DataFrame:
    with store.session_scope(engine, read_only=True) as s:
        columns = CHART_COLUMNS + (REPEAT_COLUMNS if REPEAT_COLUMNS and store.any_repeats(session=s) else ())
        rows = store.generation_tuples(session=s, columns=columns, limit=limit, weights=weights,
                                       run_ids=list(run_ids) or None, model_keys=list(models) or None, status="ok")
        frame = _frame_from_tuples(rows, columns)
        gpus = store.run_gpu_names(session=s, run_ids=frame["run_id"].dropna().astype(int).unique().tolist())
    return stats.with_config(pricing.with_cost_estimate(frame, gpus, settings().gpu_hour_usd))


def _api_prices(engine, run_ids: tuple[int, ...], models: tuple[str, ...]) -> pd.DataFrame:
    with store.session_scope(engine, read_only=True) as s:
        rows = store.mean_cost_by_config(session=s, weights="api", run_ids=list(run_ids) or None,
                                         model_keys=list(models) or None)
    frame = pd.DataFrame.from_records(rows, columns=["model_key", "width", "height", "steps", "cost_usd", "n"])
    return frame.assign(status="ok", weights="api", cost_usd=frame["cost_usd"].astype(float))


@st.cache_data(ttl=30, show_spinner=False)
def chart_frame(url: str, weights: str | None = None, run_ids: tuple[int, ...] = (),
                models: tuple[str, ...] = (), limit: int = 200_000) -> pd.DataFrame:
    """Successful generations, only the columns charts read, with `cost_est_usd` for open models (first calls
    are kept: the charts leave them out of steady-state statistics and say how many)."""
    return _chart_rows(_db_engine(url), weights, run_ids, models, limit)


@st.cache_data(ttl=30, show_spinner=False)
def api_cost_frame(url: str, run_ids: tuple[int, ...] = (), models: tuple[str, ...] = ()) -> pd.DataFrame:
    """The API models' mean list price per configuration (`n` priced images each): what the cost chart reads."""
    return _api_prices(_db_engine(url), run_ids, models)


@st.cache_data(ttl=30, show_spinner=False)
def chart_frames(url: str, weights: str, run_ids: tuple[int, ...] = (), models: tuple[str, ...] = (),
                 with_api_prices: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """`chart_frame` and, when asked, `api_cost_frame`, read at the same time on two connections (SQLite
    releases the GIL while it reads: the Charts page opens that much sooner)."""
    engine = _db_engine(url)
    if not with_api_prices:
        return _chart_rows(engine, weights, run_ids, models), None
    with ThreadPoolExecutor(max_workers=2) as pool:  # store code only in the thread, no Streamlit calls
        prices = pool.submit(_api_prices, engine, run_ids, models)
        rows = _chart_rows(engine, weights, run_ids, models)
        return rows, prices.result()


def config_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """p50/p90 seconds per model × configuration (core.stats: steady state, first calls apart), with mean USD per
    image, for a table."""
    table = stats.config_table(frame)
    if table.empty:
        return table
    keep = ["model_key", "config", "n", "p50_s", "p90_s", "first_n", "first_s", "failed", "images_per_s",
            *(c for c in ("repeats", "repeat_spread_s", "usd_list", "usd_estimate") if c in table.columns)]
    return table[keep].rename(columns={"model_key": "model", "config": "configuration", "usd_list": "USD/image (list)",
                                       "usd_estimate": "USD/image (estimate)"})


def _frame_from_tuples(rows: list[tuple], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for column in _NUMERIC:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


@st.cache_data(ttl=60, show_spinner=False)
def atlas_frame(url: str) -> pd.DataFrame:
    """The compute atlas as stored, or an empty frame while there is none."""
    with store.session_scope(_db_engine(url), read_only=True) as s:
        return pd.DataFrame(store.atlas_rows(session=s))


def atlas_choices(atlas: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Views of the atlas with one row per model: at each model's default size and steps, then per stored size."""

    if atlas.empty:
        return {}
    frame = atlas.copy()
    if "negative_prompt" in frame.columns:  # prefer the entries counted without a negative prompt
        frame = frame.sort_values("negative_prompt", kind="stable")
    if "created_at" in frame.columns:
        frame = frame.sort_values("created_at", ascending=False, kind="stable")

    def is_default(row) -> bool:
        try:
            spec = get_spec(row["model_key"])
        except Exception:  # noqa: BLE001 - a model no longer in the registry
            return False
        return (row.get("width"), row.get("height"), row.get("steps")) == (spec.width, spec.height, spec.steps)

    out: dict[str, pd.DataFrame] = {}
    defaults = frame[[is_default(r) for _, r in frame.iterrows()]].drop_duplicates("model_key")
    if not defaults.empty:
        out["each model's default size and steps"] = defaults
    if {"width", "height"} <= set(frame.columns):
        sizes = frame[["width", "height"]].dropna().drop_duplicates().sort_values(["width", "height"])
        for _, (w, h) in sizes.iterrows():
            rows = frame[(frame["width"] == w) & (frame["height"] == h)].drop_duplicates("model_key")
            out[f"{int(w)}×{int(h)} ({len(rows)} models)"] = rows
    if not out:
        out["all entries"] = frame
    return out


# ---- writes ------------------------------------------------------------------------------------------
def delete_allowed() -> tuple[bool, str]:
    """(allowed, why): IGCS_ALLOW_DELETE when set, else allowed only while the server is bound to this machine."""
    setting = settings().allow_delete
    if setting is not None:
        return setting, "IGCS_ALLOW_DELETE=" + ("true" if setting else "false")
    address = str(st.get_option("server.address") or "")
    local = address in LOCAL_ADDRESSES
    return local, ("the dashboard serves this machine only" if local else
                   f"the dashboard serves {address or 'every address'}: set IGCS_ALLOW_DELETE=true to allow deleting")


def delete_run(run_id: int) -> tuple[int, list[str]]:
    """Delete a run's rows and, inside the output folder only, its image files, generation_config.json, batch
    log and prompts file. Returns (image files removed, problems: paths refused or not removable)."""
    allowed, why = delete_allowed()
    if not allowed:
        return 0, [f"deleting runs is switched off ({why})"]
    with store.session_scope(db()) as s:
        run = store.get_run(session=s, run_id=run_id)
        output_dir, name, params = (run.output_dir, run.name, run.params) if run else (None, None, None)
        paths = store.delete_run(session=s, run_id=run_id)
    removed, problems = outputs.remove_run_files(root=settings().output_dir, image_paths=paths, run_dir=output_dir,
                                                 run_name=name, params=params if isinstance(params, dict) else None)
    clear_queries()
    return removed, problems


def stored_generations(job_keys: Sequence[str]) -> list:
    """Uncached: the ok rows of these job keys (what the Generate page shows instead of running them again)."""
    with store.session_scope(db(), read_only=True) as s:
        return store.generations_by_job_keys(session=s, keys=job_keys)


def image_file(path: str | None) -> str | None:
    """A stored image path to show: only a file inside the output folder (a shared store can point anywhere)."""
    found = outputs.readable_file(path, settings().output_dir)
    return str(found) if found else None


def finish_run(run_id: int, status: str) -> None:
    with store.session_scope(db()) as s:
        store.finish_run(session=s, run_id=run_id, status=status)
    clear_queries()


