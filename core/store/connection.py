"""Connecting to the store: the engine for a URL (SQLite pragmas, PostgreSQL pre-ping), migrated to head on
first use; one handle per process; sessions (read-only ones take no write lock)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import (
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, NoSuchModuleError
from sqlmodel import Session, create_engine

from core.store import migrate
from core.store import url as store_url
from core.store.tables import (
    SQLITE_BUSY_TIMEOUT_MS,
)


# ---- engine --------------------------------------------------------------------------------------
def make_engine(url: str) -> Engine:
    """An engine for `url`, its schema migrated to head. SQLite files get WAL, foreign keys and a busy
    timeout; PostgreSQL connections are checked before use (a restarted server is reconnected)."""
    store_url.check(url)  # sqlite or postgresql, else StoreError (one line, the password hidden)
    is_sqlite = url.startswith("sqlite")
    try:
        if is_sqlite and ":///" in url and not url.endswith(":memory:"):
            path = url.split(":///", 1)[1]
            if path:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        if is_sqlite:
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                      "check_same_thread": False})
        else:  # a host that does not answer fails in seconds, not after the system's TCP timeout
            connect_args = {} if "connect_timeout" in url else {"connect_timeout": 10}
            engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except (ImportError, NoSuchModuleError) as exc:
        raise store_url.driver_error(url, exc) from exc
    except OSError as exc:
        raise store_url.unreachable(url, exc) from exc
    if is_sqlite:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # pragma: no cover
            # Writers take the write lock up front: a deferred transaction that upgrades from read to
            # write fails at once with SQLITE_BUSY instead of waiting for the busy timeout. Sessions
            # opened read_only (dashboard queries) begin deferred and never block a writer under WAL.
            if conn.get_execution_options().get("read_only"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        migrate.upgrade(engine)
    except DBAPIError as exc:  # the server is down, refuses us, or the database does not exist
        engine.dispose()
        raise store_url.unreachable(url, exc) from exc
    return engine


_OPEN: dict[str, Engine] = {}


def open_store(url: str) -> Engine:
    """The one store handle of this process for `url` (made on first use): the runner, the recorder, the
    engine's FLOP cache and the device-peak measurement all share it."""
    if url not in _OPEN:
        _OPEN[url] = make_engine(url)
    return _OPEN[url]


def db_url(text: str) -> str:
    """A SQLAlchemy URL, or a path taken as a SQLite file."""
    return text if "://" in text else f"sqlite:///{text}"


def safe_url(text: str) -> str:
    """The URL with its password masked (`***`): what logs, summaries and stored run parameters show."""
    return store_url.shown(db_url(text))


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session; `read_only=True` for queries that write nothing: no write lock taken on SQLite, a READ
    ONLY transaction on PostgreSQL (a write in it fails instead of slipping through)."""
    bind = engine
    if read_only:
        bind = engine.execution_options(read_only=True)
        if engine.dialect.name == "postgresql":
            bind = bind.execution_options(postgresql_readonly=True)
    with Session(bind, expire_on_commit=False) as session:
        yield session
