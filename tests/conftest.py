"""Shared fixtures: a temporary store and output folder, settings isolated from the developer's `.env`."""
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


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'results.db'}"


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
