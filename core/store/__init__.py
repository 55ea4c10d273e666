"""SQLModel tables and the only code that talks to the database.

SQLite by default (`sqlite:///data/results.db`); PostgreSQL (`postgresql+psycopg://...`) for a store
shared by several machines, through `IGCS_DATABASE_URL` or `--db`; another backend, or a store that cannot be
opened, is one StoreError line (core.store.url). `make_engine` migrates
the schema to the newest revision (core.store.migrate, Alembic) on every start.
SQLite runs with WAL, foreign keys on and a busy timeout, and every transaction starts with
`BEGIN IMMEDIATE`, so the dashboard and a batch run (two processes) can write at once without
"database is locked" errors. Column names carry their units (`denoise_s`, `peak_mem_gb`, `flops_total`).
Nothing outside this package talks to the database.
Schema changes need a migration revision (README: "Migrations").

The package: `tables` (SQLModel tables), `connection` (engines, sessions), `url` (which URLs, one-line errors),
`json_column` (the one JSON encoder, non-finite floats included), `queries` (every query, sorted by table), `migrate`
and `migrations/` (Alembic). `from core.store import X` names any public one of them."""
from __future__ import annotations

from core.store.connection import (  # noqa: F401
    db_url,
    make_engine,
    open_store,
    safe_url,
    session_scope,
)
from core.store.queries import (  # noqa: F401
    VOTE_OUTCOMES,
    add_generation,
    add_run,
    add_scores,
    add_vote,
    annotate_run,
    any_repeats,
    atlas_rows,
    bulk_add_generations,
    count_generations,
    count_missing_scores,
    count_run_prompts,
    count_runs,
    count_votes,
    delete_run,
    done_job_keys,
    find_run,
    finish_run,
    generation_columns,
    generation_frame_rows,
    generation_records,
    generation_tuples,
    generations_by_job_keys,
    generations_missing_score,
    get_device_peak,
    get_flop_count,
    get_generation,
    get_run,
    list_atlas_entries,
    list_runs,
    mean_cost_by_config,
    median_seconds,
    model_keys_in_store,
    put_atlas_entries,
    put_device_peak,
    put_flop_count,
    query_generations,
    query_runs,
    run_counts,
    run_gpu_names,
    run_matrix_rows,
    run_model_summary,
    run_prompts,
    run_seeds,
    run_tags,
    score_rows,
    scores_by_generation,
    to_json,
    update_generations,
    vote_rows,
    weights_in_store,
)
from core.store.tables import (  # noqa: F401
    SQLITE_BUSY_TIMEOUT_MS,
    AtlasEntry,
    DevicePeak,
    FlopCount,
    Generation,
    Run,
    Score,
    Vote,
    utcnow,
)
