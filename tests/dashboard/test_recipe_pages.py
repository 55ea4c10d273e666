"""Speed recipes on the Generate and Benchmark pages (AppTest): a recipe choice, eager by default; combinations a
model or this device cannot run are the plan's errors, shown before anything loads."""
from __future__ import annotations

import pytest
from sqlmodel import select

from core.settings import get_settings
from core.store import Generation, session_scope


def _rows(db):
    with session_scope(db, read_only=True) as s:
        return list(s.exec(select(Generation).order_by(Generation.id)))


def _texts(at, kind="markdown") -> str:
    return "\n".join(e.value for e in at.get(kind))


@pytest.fixture
def eager_backend(monkeypatch):
    """torch.compile's "eager" backend: the recipe's logic on a CPU without inductor's C++ builds."""
    monkeypatch.setenv("IGCS_COMPILE_BACKEND", "eager")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    import torch

    torch._dynamo.reset()


@pytest.fixture(autouse=True)
def _no_resident_models():
    from dashboard import data

    def empty():
        engine = data.current_dev_engine()
        if engine is not None:
            engine.unload_all()

    empty()
    yield
    empty()


def test_generate_runs_each_recipe_of_each_model_side_by_side(page, db, eager_backend):
    at = page("generate", timeout=180).run()
    assert at.multiselect(key="gen_recipes").value == ["eager"]
    at.multiselect(key="gen_open_models").set_value(["flux-dev"]).run()
    at.multiselect(key="gen_recipes").set_value(["compile", "eager"]).run()
    at.text_area(key="gen_prompt").input("a red cat")
    at.radio(key="gen_seed_mode").set_value("fixed").run()
    at.button(key="gen_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("image")) == 2
    captions = _texts(at)
    assert "**flux-dev**" in captions and "**flux-dev · compile**" in captions
    rows = _rows(db)
    assert [r.recipe for r in rows] == ["eager", "compile"]
    assert rows[1].job_key == rows[0].job_key + "~compile" and rows[1].psnr_db > 40


def test_generate_shows_recipe_errors_before_loading(page, db):
    at = page("generate").run()
    at.multiselect(key="gen_open_models").set_value(["pixart-alpha", "flux-dev"]).run()
    at.multiselect(key="gen_recipes").set_value(["eager", "compile", "fp8"]).run()
    at.text_area(key="gen_prompt").input("a cat")
    at.button(key="gen_go").click().run()
    assert not at.exception
    (error,) = at.error
    assert "pixart-alpha" in error.value and "no speed settings" in error.value
    assert "compute capability >= 9.0" in error.value  # fp8 on this CPU
    assert _rows(db) == []


def test_benchmark_takes_recipes_and_shows_what_cannot_run(page, db):
    at = page("benchmark").run()
    assert at.multiselect(key="bench_recipes").value == ["eager"]
    at.multiselect(key="bench_models").set_value(["flux-dev", "sdxl"]).run()
    at.multiselect(key="bench_recipes").set_value(["cache", "eager"]).run()
    assert not at.exception
    error = "\n".join(e.value for e in at.error)
    assert "would not start" in error and "sdxl (family sdxl) does not take cache" in error
    assert at.button(key="bench_start").disabled
    at.multiselect(key="bench_models").set_value(["flux-dev"]).run()
    assert not at.error and not at.button(key="bench_start").disabled
    assert "**4** job(s)" in _texts(at)  # smoke.txt's 2 prompts x eager and cache
    at.multiselect(key="bench_recipes").set_value([]).run()
    assert any("recipes: choose at least one" in e.value for e in at.error)
