"""Every query of the store: keyword-only functions taking a session (the only code that talks to the database).
Longer than 400 lines on purpose: every query in one place, sorted by table (runs, generations, FLOP cache, the
dashboard's reads, device peaks and the atlas, scores, ...)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import (
    Text,
    MetaData,
    String,
    Table,
    cast,
    func,
    insert,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, delete, select

from core import run_notes
from core.store.json_column import StoreJSON, is_json
from core.store.tables import (
    AtlasEntry,
    DevicePeak,
    FlopCount,
    Generation,
    Run,
    Score,
    Vote,
    utcnow,
)


# ---- runs ----------------------------------------------------------------------------------------
def add_run(*, session: Session, run: Run) -> Run:
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def finish_run(*, session: Session, run_id: int, status: str) -> Run | None:
    run = session.get(Run, run_id)
    if run is None:
        return None
    run.status = status
    run.finished_at = utcnow()
    session.add(run)
    session.commit()
    return run


def get_run(*, session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def list_runs(*, session: Session, limit: int = 100, offset: int = 0, kind: str | None = None) -> list[Run]:
    stmt = select(Run).order_by(Run.id.desc()).offset(offset).limit(limit)
    if kind:
        stmt = stmt.where(Run.kind == kind)
    return list(session.exec(stmt))


def run_counts(*, session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{run_id: {status: count}} for the given runs."""
    if not run_ids:
        return {}
    stmt = (select(Generation.run_id, Generation.status, func.count())
            .where(Generation.run_id.in_(run_ids)).group_by(Generation.run_id, Generation.status))
    out: dict[int, dict[str, int]] = {}
    for run_id, status, n in session.exec(stmt):
        out.setdefault(run_id, {})[status] = n
    return out


def delete_run(*, session: Session, run_id: int) -> list[str]:
    """Delete a run and its generations; returns the image paths that belonged to it."""
    paths = [p for p in session.exec(select(Generation.image_path).where(Generation.run_id == run_id)) if p]
    session.exec(delete(Generation).where(Generation.run_id == run_id))
    session.exec(delete(Run).where(Run.id == run_id))
    session.commit()
    return paths


# ---- generations ---------------------------------------------------------------------------------
def add_generation(*, session: Session, generation: Generation) -> Generation:
    session.add(generation)
    session.commit()
    session.refresh(generation)
    return generation


def done_job_keys(*, session: Session, keys: Iterable[str] | None = None) -> set[str]:
    """Job keys already stored with status ok (all of them, or those among `keys`)."""
    stmt = select(Generation.job_key).where(Generation.status == "ok")
    if keys is None:
        return set(session.exec(stmt))
    keys = list(keys)
    found: set[str] = set()
    for i in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
        found.update(session.exec(stmt.where(Generation.job_key.in_(keys[i:i + 500]))))
    return found


def generations_by_job_keys(*, session: Session, keys: Sequence[str]) -> list[Generation]:
    """The ok rows (image 0) stored under these job keys."""
    out: list[Generation] = []
    keys = list(keys)
    for i in range(0, len(keys), 500):
        stmt = select(Generation).where(Generation.status == "ok", Generation.job_key.in_(keys[i:i + 500]))
        out.extend(session.exec(stmt))
    return out


def update_generations(*, session: Session, updates: dict[int, dict[str, Any]]) -> list[Generation]:
    """Set some columns of stored rows ({generation id: {column: value}}), e.g. a recipe's compile_s and delta."""
    rows = []
    for generation_id, values in updates.items():
        row = session.get(Generation, generation_id)
        if row is None:
            continue
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        rows.append(row)
    session.commit()
    for row in rows:
        session.refresh(row)
    return rows


def median_seconds(*, session: Session, weights: str, limit: int = 50_000) -> dict[tuple[str, int, int], float]:
    """Median seconds per (model, width, height) of the latest ok, steady-state rows in a weights mode."""
    stmt = (select(Generation.model_key, Generation.width, Generation.height, Generation.total_s)
            .where(Generation.status == "ok", Generation.weights.in_([weights, "api"]),
                   Generation.first_call.is_(False), Generation.total_s.is_not(None))
            .order_by(Generation.id.desc()).limit(limit))
    groups: dict[tuple[str, int, int], list[float]] = {}
    for model, width, height, seconds in session.exec(stmt):
        groups.setdefault((model, width, height), []).append(seconds)
    return {k: sorted(v)[len(v) // 2] for k, v in groups.items()}


def _scored_ids(metric: str, scorer_weights: str | None, low: float | None = None, high: float | None = None):
    """Ids of generations with a `metric` score by scorers of `scorer_weights` (any when None) in [low, high]."""
    stmt = select(Score.generation_id).where(Score.metric == metric)
    if scorer_weights:
        stmt = stmt.where(Score.weights == scorer_weights)
    if low is not None:
        stmt = stmt.where(Score.value >= low)
    if high is not None:
        stmt = stmt.where(Score.value <= high)
    return stmt


def _filtered(stmt, *, model_keys=None, status=None, prompt_contains=None, run_id=None,
              since: datetime | None = None, until: datetime | None = None, weights: str | None = None,
              score_metric: str | None = None, score_weights: str | None = None, score_min: float | None = None,
              score_max: float | None = None, tag: str | None = None, category: Sequence[str] | None = None,
              task: str | None = None):
    if task:  # text-to-image or edit
        stmt = stmt.where(Generation.task == task)
    if tag:  # generations of runs carrying this tag
        stmt = stmt.where(Generation.run_id.in_(_run_filtered(select(Run.id), tag=tag)))
    if category:  # prompt categories ("" or None: prompts without one)
        named = [c for c in category if c]
        found = Generation.category.in_(named)
        stmt = stmt.where(found | Generation.category.is_(None) if len(named) < len(category) else found)
    if score_metric:  # a score of this metric (by scorers of score_weights) within [score_min, score_max]
        stmt = stmt.where(Generation.id.in_(_scored_ids(score_metric, score_weights, score_min, score_max)))
    if weights:
        stmt = stmt.where(Generation.weights == weights)
    if model_keys:
        stmt = stmt.where(Generation.model_key.in_(list(model_keys)))
    if status:
        stmt = stmt.where(Generation.status == status)
    if prompt_contains:
        # case-insensitive on every backend (SQLite's LIKE is, PostgreSQL's is not); % and _ are literal
        stmt = stmt.where(Generation.prompt.icontains(prompt_contains, autoescape=True))
    if run_id is not None:
        stmt = stmt.where(Generation.run_id == run_id)
    if since is not None:
        stmt = stmt.where(Generation.created_at >= since)
    if until is not None:
        stmt = stmt.where(Generation.created_at < until)
    return stmt


def query_generations(*, session: Session, limit: int = 50, offset: int = 0, **filters) -> list[Generation]:
    """One page of generations, newest first, filtered by model, status, prompt text, run, dates."""
    stmt = _filtered(select(Generation), **filters).order_by(Generation.id.desc()).offset(offset).limit(limit)
    return list(session.exec(stmt))


def count_generations(*, session: Session, **filters) -> int:
    return session.exec(_filtered(select(func.count()).select_from(Generation), **filters)).one()


def generation_frame_rows(*, session: Session, limit: int = 200_000, **filters) -> list[dict[str, Any]]:
    """Flat dicts of generations for charts (JSON columns left out)."""
    cols = [c for c in Generation.__table__.columns if not is_json(c)]
    stmt = _filtered(select(*cols), **filters).order_by(Generation.id.desc()).limit(limit)
    return [dict(row._mapping) for row in session.exec(stmt)]


def model_keys_in_store(*, session: Session) -> list[str]:
    return sorted(session.exec(select(Generation.model_key).distinct()))


# ---- FLOP cache ----------------------------------------------------------------------------------
def get_flop_count(*, session: Session, key: str) -> FlopCount | None:
    return session.get(FlopCount, key)


def _upsert(session: Session, rows: Sequence[SQLModel]) -> None:
    """Insert or replace rows by primary key in one statement (INSERT ... ON CONFLICT DO UPDATE): two
    processes storing the same key at once both succeed, where a read-then-write (session.merge) could
    raise a duplicate-key error on PostgreSQL."""
    if not rows:
        return
    table = type(rows[0]).__table__
    dialect = session.get_bind().dialect.name
    make_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if make_insert is None:  # another backend: the portable read-then-write
        for row in rows:
            session.merge(row)
        return
    keys = [c.name for c in table.primary_key.columns]
    by_key = {tuple(getattr(row, k) for k in keys): row for row in rows}  # one statement may not hit a key twice
    values = [{c.name: getattr(row, c.name) for c in table.columns} for row in by_key.values()]
    stmt = make_insert(table).values(values)
    stmt = stmt.on_conflict_do_update(index_elements=keys,
                                      set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys})
    session.execute(stmt)


def put_flop_count(*, session: Session, count: FlopCount) -> FlopCount:
    _upsert(session, [count])
    session.commit()
    return count


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)


# ---- dashboard queries (paged runs, one run's matrix and summary, chart columns, bulk insert) ------
def _tagged(tag: str):
    """Runs whose tag list holds `tag`: the JSON text holds it quoted. Tags have no quotes or backslashes
    (core.run_notes), so `"tag"` is how every JSON encoder writes it, on SQLite and PostgreSQL alike."""
    return cast(Run.tags, String).contains(f'"{run_notes.check_tag(tag)}"', autoescape=True)


def _run_filtered(stmt, *, kind: str | None = None, status: str | None = None, name: str | None = None,
                  tag: str | None = None):
    if tag:
        stmt = stmt.where(_tagged(tag))
    if kind:
        stmt = stmt.where(Run.kind == kind)
    if status:
        stmt = stmt.where(Run.status == status)
    if name is not None:
        stmt = stmt.where(Run.name == name)
    return stmt


def query_runs(*, session: Session, limit: int = 50, offset: int = 0, kind: str | None = None,
               status: str | None = None, name: str | None = None, tag: str | None = None) -> list[Run]:
    """One page of runs, newest first, filtered by kind, status, exact name and tag."""
    stmt = _run_filtered(select(Run), kind=kind, status=status, name=name, tag=tag)
    return list(session.exec(stmt.order_by(Run.id.desc()).offset(offset).limit(limit)))


def count_runs(*, session: Session, kind: str | None = None, status: str | None = None,
               name: str | None = None, tag: str | None = None) -> int:
    stmt = _run_filtered(select(func.count()).select_from(Run), kind=kind, status=status, name=name, tag=tag)
    return session.exec(stmt).one()


def annotate_run(*, session: Session, run_id: int, name: str | None = None, notes: str | None = None,
                 tags: Sequence[str] | None = None) -> Run | None:
    """Rename a run, set its notes or its tags (checked by core.run_notes); None leaves a field as it is, ""
    (or no tags) clears it. Returns the run, or None when there is no such run."""
    run = session.get(Run, run_id)
    if run is None:
        return None
    if name is not None:
        run.name = run_notes.clean_name(name)
    if notes is not None:
        run.notes = run_notes.clean_notes(notes)
    if tags is not None:
        run.tags = run_notes.clean_tags(tags)
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def run_tags(*, session: Session) -> list[str]:
    """Every tag some run carries, sorted (for tag pickers)."""
    found: set[str] = set()
    for tags in session.exec(select(Run.tags).where(Run.tags.is_not(None))):
        found.update(tags or [])
    return sorted(found)


def find_run(*, session: Session, name: str) -> Run | None:
    """The newest run with exactly this name (a batch started in the background is found by its name)."""
    runs = query_runs(session=session, name=name, limit=1)
    return runs[0] if runs else None


def get_generation(*, session: Session, generation_id: int) -> Generation | None:
    return session.get(Generation, generation_id)


def run_model_summary(*, session: Session, run_id: int) -> list[dict[str, Any]]:
    """Per model of one run: ok and failed counts, mean seconds per call, peak memory, cost."""
    stmt = (select(Generation.model_key, Generation.status, func.count(), func.avg(Generation.total_s),
                   func.avg(Generation.denoise_s), func.max(Generation.peak_mem_gb), func.sum(Generation.cost_usd),
                   func.min(Generation.id))
            .where(Generation.run_id == run_id).group_by(Generation.model_key, Generation.status))
    out: dict[str, dict[str, Any]] = {}
    for model_key, status, n, total_s, denoise_s, peak, cost, first_id in session.exec(stmt):
        row = out.setdefault(model_key, {"model_key": model_key, "ok": 0, "failed": 0, "skipped": 0,
                                         "mean_total_s": None, "mean_denoise_s": None, "peak_mem_gb": None,
                                         "cost_usd": None, "_first": first_id})
        row[status] = row.get(status, 0) + n
        row["_first"] = min(row["_first"], first_id)
        if status == "ok":
            row.update(mean_total_s=total_s, mean_denoise_s=denoise_s, peak_mem_gb=peak, cost_usd=cost)
    rows = sorted(out.values(), key=lambda r: r.pop("_first"))
    return rows


def run_prompts(*, session: Session, run_id: int, limit: int = 20, offset: int = 0) -> list[str]:
    """The distinct prompts of one run, in the order the run first used them."""
    first = func.min(Generation.id)
    stmt = (select(Generation.prompt, first).where(Generation.run_id == run_id).group_by(Generation.prompt)
            .order_by(first).offset(offset).limit(limit))
    return [prompt for prompt, _ in session.exec(stmt)]


def count_run_prompts(*, session: Session, run_id: int) -> int:
    stmt = select(func.count(func.distinct(Generation.prompt))).where(Generation.run_id == run_id)
    return session.exec(stmt).one()


def run_seeds(*, session: Session, run_id: int) -> list[int]:
    stmt = select(Generation.seed).where(Generation.run_id == run_id, Generation.seed.is_not(None)).distinct()
    return sorted(session.exec(stmt))


def run_matrix_rows(*, session: Session, run_id: int, prompts: Sequence[str], seed: int | None = None,
                    ) -> list[dict[str, Any]]:
    """Generations of one run for the given prompts (one seed, or all): the cells of a prompt x model matrix."""
    if not prompts:
        return []
    cols = [Generation.id, Generation.model_key, Generation.prompt, Generation.seed, Generation.status,
            Generation.error, Generation.image_path, Generation.image_index, Generation.total_s, Generation.first_call,
            Generation.repeat, Generation.weights, Generation.task, Generation.width, Generation.height,
            Generation.steps, Generation.guidance, Generation.scheduler, Generation.dtype, Generation.recipe,
            Generation.batch_size, Generation.images_per_call, Generation.extra, Generation.input_images]
    stmt = select(*cols).where(Generation.run_id == run_id, Generation.prompt.in_(list(prompts)))
    if seed is not None:
        stmt = stmt.where(Generation.seed == seed)
    return [dict(row._mapping) for row in session.exec(stmt.order_by(Generation.id))]


def _columns_stmt(columns: Sequence[str], *, weights: str | None = None, run_ids: Sequence[int] | None = None,
                  **filters):
    table = Generation.__table__
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        raise ValueError(f"columns: unknown {unknown}; known: {', '.join(table.columns.keys())}")
    stmt = _filtered(select(*(table.columns[c] for c in columns)), weights=weights, **filters)
    if run_ids:
        stmt = stmt.where(Generation.run_id.in_(list(run_ids)))
    return stmt


def generation_columns(*, session: Session, columns: Sequence[str], limit: int = 200_000, offset: int = 0,
                       weights: str | None = None, run_ids: Sequence[int] | None = None,
                       sort_score: tuple[str, str | None, bool] | None = None, **filters) -> list[dict[str, Any]]:
    """Only the named columns of the filtered generations, newest first (what tables need, fast); with
    `sort_score=(metric, scorer weights or None, descending)` by that score first (unscored rows last)."""
    stmt = _columns_stmt(columns, weights=weights, run_ids=run_ids, **filters)
    if sort_score is not None:
        metric, scorer_weights, descending = sort_score
        best = _scored_ids(metric, scorer_weights).with_only_columns(
            Score.generation_id, func.max(Score.value).label("v")).group_by(Score.generation_id).subquery()
        stmt = stmt.outerjoin(best, best.c.generation_id == Generation.id)
        value = best.c.v.desc() if descending else best.c.v.asc()
        stmt = stmt.order_by(best.c.v.is_(None), value, Generation.id.desc())
    else:
        stmt = stmt.order_by(Generation.id.desc())
    stmt = stmt.offset(offset).limit(limit)
    return [dict(row._mapping) for row in session.exec(stmt)]


def generation_records(*, session: Session, batch: int = 5_000, **filters) -> Iterator[dict[str, Any]]:
    """Every column of the filtered generations (JSON columns as Python values), oldest first, streamed in
    batches: for exports of any size."""
    table = Generation.__table__
    stmt = _filtered(select(table), **filters).order_by(Generation.id)
    result = session.connection().execution_options(yield_per=batch).execute(stmt)
    for row in result:
        yield dict(row._mapping)


def any_repeats(*, session: Session) -> bool:
    """Whether some job was timed more than once (a row with repeat > 0)."""
    return session.execute(select(Generation.id).where(Generation.repeat > 0).limit(1)).first() is not None


def mean_cost_by_config(*, session: Session, weights: str | None = "api", run_ids: Sequence[int] | None = None,
                        model_keys: Sequence[str] | None = None) -> list[tuple]:
    """(model_key, width, height, steps, mean cost_usd, n) of ok rows with a price: the APIs' list prices per
    configuration, aggregated in the database (one row per configuration, not one per image)."""
    stmt = (select(Generation.model_key, Generation.width, Generation.height, Generation.steps,
                   func.avg(Generation.cost_usd), func.count())
            .where(Generation.status == "ok", Generation.cost_usd.is_not(None)))
    stmt = _filtered(stmt, weights=weights, model_keys=model_keys)
    if run_ids:
        stmt = stmt.where(Generation.run_id.in_(list(run_ids)))
    stmt = stmt.group_by(Generation.model_key, Generation.width, Generation.height, Generation.steps)
    return [tuple(row) for row in session.execute(stmt)]


def generation_tuples(*, session: Session, columns: Sequence[str], limit: int = 200_000,
                      weights: str | None = None, run_ids: Sequence[int] | None = None,
                      **filters) -> list[tuple]:
    """The named columns of the filtered generations as plain tuples, in no particular order: the fastest way
    to many rows (charts and summaries build a DataFrame from them). JSON columns come as their stored JSON text,
    not decoded (core.jobs.Configuration reads either; decoding 100k small objects is most of a chart's read)."""
    table = Generation.__table__
    stmt = _columns_stmt(columns, weights=weights, run_ids=run_ids, **filters).limit(limit)
    raw = [cast(table.columns[c], Text) if isinstance(table.columns[c].type, StoreJSON) else table.columns[c]
           for c in columns]
    stmt = stmt.with_only_columns(*raw, maintain_column_froms=True)
    return [tuple(row) for row in session.execute(stmt)]


def weights_in_store(*, session: Session, status: str | None = None,
                     modes: Sequence[str] | None = None) -> list[str]:
    """Weights modes present (only among rows of `status` when given: charts offer only modes with ok rows).
    With `modes`, each is looked up on its own (stops at its first row: fast on a big store)."""
    if modes is not None:
        found = []
        for mode in modes:
            stmt = select(Generation.id).where(Generation.weights == mode)
            if status:
                stmt = stmt.where(Generation.status == status)
            if session.execute(stmt.limit(1)).first() is not None:
                found.append(mode)
        return sorted(found)
    stmt = select(Generation.weights).distinct()
    if status:
        stmt = stmt.where(Generation.status == status)
    return sorted(session.exec(stmt))


def run_gpu_names(*, session: Session, run_ids: Sequence[int]) -> dict[int, str | None]:
    """{run_id: GPU name} of the given runs (the GPU-hour price of an open model's estimate depends on it)."""
    out: dict[int, str | None] = {}
    ids = list(dict.fromkeys(run_ids))
    for i in range(0, len(ids), 500):
        out.update(session.exec(select(Run.id, Run.gpu_name).where(Run.id.in_(ids[i:i + 500]))).all())
    return out


def bulk_add_generations(*, session: Session, rows: Sequence[dict[str, Any]], chunk: int = 5_000) -> int:
    """Insert many generation rows (dicts of column values) with executemany; for seeding and imports."""
    table = Generation.__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:  # executemany needs the same keys in every row; absent keys take the column defaults
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        for i in range(0, len(group), chunk):
            session.execute(insert(table), group[i:i + chunk])
    session.commit()
    return len(rows)


def atlas_rows(*, session: Session, table_name: str = "atlasentry", limit: int = 100_000) -> list[dict[str, Any]]:
    """Rows of the compute atlas table, or [] while no atlas has been stored (the table may not exist)."""
    conn = session.connection()  # the session's own connection: a second one would wait for its lock
    if not inspect(conn).has_table(table_name):
        return []
    table = SQLModel.metadata.tables.get(table_name)
    if table is None:  # stored by a newer version of the code than this process imported
        table = Table(table_name, MetaData(), autoload_with=conn)
    # rows, not scalars: sqlmodel's exec() of a one-table select yields the first column only
    return [dict(row._mapping) for row in conn.execute(table.select().limit(limit))]


# ---- device peaks and the compute atlas ------------------------------------------------------------
def get_device_peak(*, session: Session, name: str) -> DevicePeak | None:
    return session.get(DevicePeak, name)


def put_device_peak(*, session: Session, peak: DevicePeak) -> DevicePeak:
    _upsert(session, [peak])
    session.commit()
    return peak


def put_atlas_entries(*, session: Session, entries: Sequence[AtlasEntry]) -> int:
    """Insert or replace atlas entries (by key)."""
    for i in range(0, len(entries), 200):  # stay under the bound-parameter limits (25 columns a row)
        _upsert(session, entries[i:i + 200])
    session.commit()
    return len(entries)


def list_atlas_entries(*, session: Session, model_keys: Sequence[str] | None = None) -> list[AtlasEntry]:
    stmt = select(AtlasEntry).order_by(AtlasEntry.model_key, AtlasEntry.width, AtlasEntry.steps)
    if model_keys:
        stmt = stmt.where(AtlasEntry.model_key.in_(list(model_keys)))
    return list(session.exec(stmt))


# ---- quality scores (core.scoring) -------------------------------------------------------------------
def add_scores(*, session: Session, scores: Sequence[Score]) -> int:
    """Insert scores; one already stored for the same (generation, metric, scorer revision) is left as it is.
    Returns how many were inserted."""
    if not scores:
        return 0
    rows = [s.model_dump(exclude={"id"}) for s in scores]
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    make_insert = dialects.get(session.get_bind().dialect.name)
    if make_insert is None:  # pragma: no cover - other databases: a plain insert, where a duplicate raises
        stmt = Score.__table__.insert()
    else:  # RETURNING the id of a new row, nothing for one left as it was (rowcount is -1 on PostgreSQL here)
        stmt = make_insert(Score.__table__).on_conflict_do_nothing(
            index_elements=["generation_id", "metric", "scorer_revision"]).returning(Score.__table__.c.id)
    inserted = 0
    for row in rows:  # one statement per row
        result = session.execute(stmt, row)
        inserted += (result.rowcount or 0) if make_insert is None else len(result.all())
    session.commit()
    return inserted


def _unscored(stmt, *, metric: str, scorer_revision: str | None, scorer_weights: str | None, run_id: int | None,
              generation_ids: Sequence[int] | None, task: str | None = None):
    scored = select(Score.generation_id).where(Score.metric == metric)
    if scorer_revision is not None:
        scored = scored.where(Score.scorer_revision == scorer_revision)
    if scorer_weights is not None:
        scored = scored.where(Score.weights == scorer_weights)
    stmt = stmt.where(Generation.status == "ok", Generation.image_path.is_not(None),
                      Generation.id.not_in(scored))
    if run_id is not None:
        stmt = stmt.where(Generation.run_id == run_id)
    if generation_ids is not None:
        stmt = stmt.where(Generation.id.in_(list(generation_ids)))
    if task is not None:
        stmt = stmt.where(Generation.task == task)
    return stmt


def generations_missing_score(*, session: Session, metric: str, scorer_revision: str | None = None,
                              scorer_weights: str | None = None, run_id: int | None = None,
                              generation_ids: Sequence[int] | None = None, limit: int | None = None,
                              task: str | None = None) -> list[Generation]:
    """Ok generations with an image that have no `metric` score (narrowed to scores of `scorer_revision` and of
    scorers with `scorer_weights` when given, and to rows of `task`), oldest first: what a backfill still has to
    score."""
    stmt = _unscored(select(Generation), metric=metric, scorer_revision=scorer_revision, scorer_weights=scorer_weights,
                     run_id=run_id, generation_ids=generation_ids, task=task).order_by(Generation.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt))


def count_missing_scores(*, session: Session, metric: str, scorer_revision: str | None = None,
                         scorer_weights: str | None = None, run_id: int | None = None,
                         generation_ids: Sequence[int] | None = None, task: str | None = None) -> int:
    stmt = _unscored(select(func.count()).select_from(Generation), metric=metric, scorer_revision=scorer_revision,
                     scorer_weights=scorer_weights, run_id=run_id, generation_ids=generation_ids, task=task)
    return session.exec(stmt).one()


def score_rows(*, session: Session, generation_ids: Sequence[int] | None = None,
               run_ids: Sequence[int] | None = None, metrics: Sequence[str] | None = None,
               limit: int = 500_000) -> list[dict[str, Any]]:
    """Flat score rows (generation id, run id, model key, metric, value, scorer id and revision, weights, seconds,
    created_at), for History and Charts; newest first."""
    cols = [Score.generation_id, Generation.run_id, Generation.model_key, Score.metric, Score.value,
            Score.scorer_id, Score.scorer_revision, Score.weights, Score.seconds, Score.created_at]
    stmt = select(*cols).join(Generation, Generation.id == Score.generation_id)
    if generation_ids is not None:
        stmt = stmt.where(Score.generation_id.in_(list(generation_ids)))
    if run_ids is not None:
        stmt = stmt.where(Generation.run_id.in_(list(run_ids)))
    if metrics:
        stmt = stmt.where(Score.metric.in_(list(metrics)))
    stmt = stmt.order_by(Score.created_at.desc(), Score.id.desc()).limit(limit)
    return [dict(row._mapping) for row in session.exec(stmt)]


def scores_by_generation(*, session: Session, generation_ids: Sequence[int],
                         metrics: Sequence[str] | None = None) -> dict[int, dict[str, dict[str, Any]]]:
    """{generation id: {metric: {value, weights, scorer_revision}}}: per metric, the newest score by pretrained
    scorer weights, else the newest by tiny or random ones (labelled by `weights`). For cards and History rows."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    ids = list(generation_ids)
    for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        for row in score_rows(session=session, generation_ids=ids[i:i + 500], metrics=metrics):
            per_metric = out.setdefault(row["generation_id"], {})
            kept = per_metric.get(row["metric"])  # rows come newest first
            if kept is None or (kept["weights"] != "pretrained" and row["weights"] == "pretrained"):
                per_metric[row["metric"]] = {k: row[k] for k in ("value", "weights", "scorer_revision")}
    return out


# ---- arena votes (core.arena) ------------------------------------------------------------------------------
VOTE_OUTCOMES = ("a", "b", "tie", "both_bad")


def add_vote(*, session: Session, vote: Vote) -> Vote:
    """Store one vote; an unknown outcome or an empty voter is refused naming the field."""
    if vote.outcome not in VOTE_OUTCOMES:
        raise ValueError(f"outcome: {vote.outcome!r} is not allowed; one of {', '.join(VOTE_OUTCOMES)}")
    if not (vote.voter or "").strip():
        raise ValueError("voter: empty; a name, an email or 'anonymous'")
    if vote.generation_a_id == vote.generation_b_id:
        raise ValueError(f"generation_b_id: {vote.generation_b_id} is generation_a_id too; a vote compares two images")
    session.add(vote)
    session.commit()
    session.refresh(vote)
    return vote


def vote_rows(*, session: Session, voter: str | None = None, model_keys: Sequence[str] | None = None,
              weights: str | None = None, since: datetime | None = None, until: datetime | None = None,
              limit: int = 1_000_000) -> list[dict[str, Any]]:
    """Votes with both generations' model, weights, prompt, seed and category (from A's row), oldest first:
    id, created_at, voter, generation_a_id, generation_b_id, outcome, model_a, model_b, weights_a, weights_b,
    prompt, seed, category. `model_keys`: both models among them; `weights`: both rows of that weights mode."""
    gen_a, gen_b = aliased(Generation), aliased(Generation)
    stmt = (select(Vote.id, Vote.created_at, Vote.voter, Vote.generation_a_id, Vote.generation_b_id, Vote.outcome,
                   gen_a.model_key.label("model_a"), gen_b.model_key.label("model_b"),
                   gen_a.weights.label("weights_a"), gen_b.weights.label("weights_b"), gen_a.prompt, gen_a.seed,
                   gen_a.category)
            .join(gen_a, gen_a.id == Vote.generation_a_id).join(gen_b, gen_b.id == Vote.generation_b_id))
    if voter is not None:
        stmt = stmt.where(Vote.voter == voter)
    if model_keys:
        stmt = stmt.where(gen_a.model_key.in_(list(model_keys)), gen_b.model_key.in_(list(model_keys)))
    if weights:
        stmt = stmt.where(gen_a.weights == weights, gen_b.weights == weights)
    if since is not None:
        stmt = stmt.where(Vote.created_at >= since)
    if until is not None:
        stmt = stmt.where(Vote.created_at < until)
    stmt = stmt.order_by(Vote.id).limit(limit)
    return [dict(row._mapping) for row in session.exec(stmt)]


def count_votes(*, session: Session) -> int:
    return session.exec(select(func.count()).select_from(Vote)).one()
