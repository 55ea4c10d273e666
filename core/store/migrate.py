"""Schema migrations (Alembic), configured in code: no alembic.ini.

`upgrade(engine)` brings a store to the newest revision; `core.store.make_engine` calls it on every
start, so every command and page runs on an up-to-date schema. A store written before migrations
existed (tables present, no `alembic_version`) is stamped at the first revision, whose schema it
has, and upgraded in place with its rows kept. Two processes starting at once cannot both migrate:
on SQLite the upgrade runs in one `BEGIN IMMEDIATE` transaction (the second process waits for the
write lock, then finds the store at head); on PostgreSQL under a transaction-scoped advisory lock.

The command line is core/cli/db.py (`python -m core.cli.db ...`, dispatched as `python -m core.bench db ...`).
"""
from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"
# The key of the PostgreSQL advisory lock every process of this project takes around an upgrade.
PG_LOCK_KEY = 1_300_213_013
LEGACY_TABLE = "run"  # present in every store the release before migrations wrote

logging.getLogger("alembic").setLevel(logging.WARNING)  # no "Context impl SQLiteImpl." on every start


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head()


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _up_to_date(engine: Engine, head_rev: str) -> bool:
    """A read (no write lock) that answers whether anything is to do: the common case on every start."""
    with engine.execution_options(read_only=True).connect() as conn:
        return current(conn) == head_rev


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one process at a time holds, for running migrations."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # A table rebuild (batch mode) drops and recreates tables: with foreign keys on, dropping
            # `run` would cascade into `generation`. The pragma only takes effect outside a transaction,
            # so it goes to the driver connection before SQLAlchemy begins one.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():  # SQLite: BEGIN IMMEDIATE (core.store), so one process migrates at a time
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left rows whose foreign key points nowhere: {broken[:5]}")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine) -> str:
    """Migrate the store to head (stamping a pre-migration store first); returns the revision it is at."""
    head_rev = head()
    if _up_to_date(engine, head_rev):
        return head_rev
    with _migrating(engine) as conn:
        cfg = config(conn)
        if current(conn) is None and inspect(conn).has_table(LEGACY_TABLE):
            command.stamp(cfg, FIRST_REVISION)
        command.upgrade(cfg, "head")
        return current(conn)


def downgrade(engine: Engine, revision: str) -> str | None:
    """Migrate the store back to `revision` (developers and tests; no command runs this)."""
    with _migrating(engine) as conn:
        command.downgrade(config(conn), revision)
        return current(conn)


def _next_rev_id() -> str:
    """One past the highest numbered revision (numbers may skip: a branch's revision keeps the number it was given)."""
    revisions = list(ScriptDirectory.from_config(config()).walk_revisions())
    return f"{max((int(r.revision) for r in revisions if r.revision.isdigit()), default=0) + 1:04d}"


def autogenerate(message: str) -> str:
    """Write a new revision with what the models add to head, diffed against a scratch SQLite store."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            with engine.begin() as conn:
                cfg = config(conn)
                command.upgrade(cfg, "head")
                script = command.revision(cfg, message=message, autogenerate=True, rev_id=_next_rev_id())
        finally:
            engine.dispose()
    return script.path
