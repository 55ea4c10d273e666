"""The engine opens no store: its FLOP and device-peak caches are handed to it (issue 17)."""

from core.generation import Engine
from core.store import FlopCount, session_scope
from core.jobs import GenerationRequest


def test_an_engine_opens_no_store_and_keeps_its_caches_in_memory(tmp_path, monkeypatch):
    target = tmp_path / "never.db"
    monkeypatch.setenv("IGCS_DATABASE_URL", f"sqlite:///{target}")
    from core.settings import get_settings

    get_settings.cache_clear()
    engine = Engine(weights="tiny", device="cpu")
    outcome = engine.generate(engine.prepare(GenerationRequest(model="sd21", prompt="a cat", seed=0, steps=2)))
    assert outcome.ok and outcome.flops_total
    assert not target.exists()  # a Ray worker no longer makes a scratch SQLite file


def test_caches_handed_in_keep_flop_counts_in_that_store(db):
    engine = Engine(weights="tiny", device="cpu", **Engine.caches_for(db))
    engine.generate(engine.prepare(GenerationRequest(model="sd21", prompt="a cat", seed=0, steps=2)))
    with session_scope(db, read_only=True) as s:
        assert s.query(FlopCount).filter(FlopCount.model_key == "sd21").count() > 0
