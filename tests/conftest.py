"""Shared fixtures: a temporary store and output folder, settings isolated from the developer's `.env`.

`db_url` / `db` are a SQLite store; a test marked `@both_backends` (tests/backends.py) runs once on
SQLite and once on a PostgreSQL database of its own, on a server the session starts (tests/pgserver.py).
"""
from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: one thread is fastest and steadiest on 2 cores
warnings.filterwarnings("ignore", category=FutureWarning)


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Every test gets its own database and output folder; no `.env` or real keys leak in."""
    from core.settings import get_settings

    monkeypatch.chdir(tmp_path)  # a `.env` in the repo is not read
    monkeypatch.setenv("IGCS_DATABASE_URL", f"sqlite:///{tmp_path / 'results.db'}")
    monkeypatch.setenv("IGCS_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("IGCS_DEVICE", "cpu")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the whole session, stopped at the end; the tests skip without its binaries."""
    from tests.pgserver import PgServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin): scripts/install.sh --test installs "
                    "Debian's postgresql")
    server = PgServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture
def db_url(request, tmp_path, monkeypatch) -> str:
    """The test's store: SQLite, or (parametrized indirectly with "postgresql") a fresh PostgreSQL database.
    IGCS_DATABASE_URL names it too, so commands and pages use it by default."""
    from core.settings import get_settings

    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'results.db'}"
    elif backend == "postgresql":
        server = request.getfixturevalue("pg_server")
        name = server.create_database()
        request.addfinalizer(lambda: server.drop_database(name))
        url = server.url(name)
    else:
        raise ValueError(f"db_url: unknown backend {backend!r}; known: sqlite, postgresql")
    monkeypatch.setenv("IGCS_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def db(db_url):
    from core.store import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def out_dir(tmp_path):
    path = tmp_path / "outputs"
    path.mkdir()
    return path


@pytest.fixture
def tiny_engine():
    from core.generation import Engine

    engine = Engine(weights="tiny", device="cpu")
    yield engine
    engine.unload_all()
