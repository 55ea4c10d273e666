"""Speed recipes through the runner on tiny twins (CPU; torch.compile's "eager" backend via the compile_backend
setting): jobs and keys carry the recipe, eager keys are unchanged, rows store the recipe, its report, compile_s and
the delta against eager; bad recipes are plan errors; CUDA-graph step marks on the denoiser."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from sqlmodel import select

from core import recipes
from core.errors import RecipeError
from core.families import get_family
from core.generation import Engine, Outcome
from core.prompts import Prompt
from core.recipe_jobs import Done, compile_seconds, configuration, eager_keys
from core.recipes import apply_recipe
from core.registry import get_spec
from core.jobs import GenerationRequest
from core.jobs import Job, Planned, job_key
from core.runner import PlanError, Runner, plan, sweep_requests
from core.scoring.compare import pixel_delta
from core.settings import Settings
from core.store import Generation, session_scope
from tests.backends import both_backends


@pytest.fixture
def engine():
    engine = Engine(weights="tiny", device="cpu", settings=Settings(compile_backend="eager"))
    yield engine
    engine.unload_all()
    torch._dynamo.reset()


@pytest.fixture
def lossy_cache(monkeypatch):
    """FLUX's first-block cache with a threshold so high that every step after the first reuses: a changed image."""
    family = get_family("flux")
    monkeypatch.setattr(family, "speed", dataclasses.replace(family.speed, cache_threshold=1e9))


def _rows(db) -> list[Generation]:
    with session_scope(db, read_only=True) as s:
        return list(s.exec(select(Generation).order_by(Generation.id)))


# ---- planning ------------------------------------------------------------------------------------------------
def test_recipes_plan_per_model_eager_first_with_the_same_requests(engine):
    items = sweep_requests([get_spec("flux-dev"), get_spec("sdxl")], [Prompt("a cat")], [0, 1],
                           recipes=("compile", "eager"))
    assert [(i.request.model, i.recipe) for i in items][:4] == [("flux-dev", "eager")] * 2 + [("flux-dev", "compile")] * 2
    jobs = plan(engine, items)
    eager = [j for j in jobs if j.recipe == "eager"]
    compiled = [j for j in jobs if j.recipe == "compile"]
    assert [j.request for j in eager] == [j.request for j in compiled]
    for job in eager:  # the key stores made before recipes hold
        assert job.key == job.request.job_key("tiny")
    for job in compiled:
        assert job.key == job.request.job_key("tiny") + "~compile"
    assert job_key(compiled[0].request, weights="tiny", repeat=2, recipe="compile").endswith("~compile#r2")


def test_a_drawn_seed_is_the_same_for_every_recipe(engine):
    request = GenerationRequest(model="flux-dev", prompt="a cat", seed=None)
    jobs = plan(engine, [Planned(request, recipe="eager"), Planned(request, recipe="compile")])
    assert jobs[0].request.seed == jobs[1].request.seed is not None


def test_recipe_errors_are_plan_errors_before_anything_loads(engine):
    items = [Planned(GenerationRequest(model="pixart-alpha", prompt="x", seed=0), recipe="compile"),
             Planned(GenerationRequest(model="flux-dev", prompt="x", seed=0), recipe="fp8"),
             Planned(GenerationRequest(model="sdxl", prompt="x", seed=0), recipe="compil")]
    with pytest.raises(PlanError) as err:
        plan(engine, items)
    text = {key: " ".join(map(str, errs)) for key, errs in err.value.errors.items()}
    assert "no speed settings" in text["pixart-alpha"] and "models it supports: " in text["pixart-alpha"]
    assert "compute capability >= 9.0" in text["flux-dev"] and "device is 'cpu'" in text["flux-dev"]
    assert "Did you mean 'compile'?" in text["sdxl"]
    assert engine.resident == {}


def test_the_cli_refuses_an_unknown_recipe_with_a_suggestion(capsys):
    from core.cli.bench import main

    with pytest.raises(SystemExit) as exit_:
        main(["--models", "flux-dev", "--weights", "tiny", "--prompt", "a cat", "--recipe", "eager,compil"])
    assert exit_.value.code == 2 and "Did you mean 'compile'?" in capsys.readouterr().err


# ---- running -------------------------------------------------------------------------------------------------
@both_backends
def test_recipes_run_through_the_runner_and_rows_carry_them(engine, db, out_dir, lossy_cache):
    items = sweep_requests([get_spec("flux-dev")], [Prompt("a red bicycle")], [3, 4], steps=3,
                           recipes=("eager", "compile", "cache"))
    summary = Runner(engine, db=db, output_dir=out_dir).run(plan(engine, items))
    assert summary.ok == 6 and summary.failed == 0
    rows = _rows(db)
    by = {(r.recipe, r.seed): r for r in rows}
    assert [r.recipe for r in rows] == ["eager"] * 2 + ["compile"] * 2 + ["cache"] * 2
    assert by["compile", 3].job_key == by["eager", 3].job_key + "~compile"
    # each group's first call after load or recipe is stored as one, and the next one's time is subtracted
    assert [r.first_call for r in rows] == [True, False] * 3
    for recipe in ("compile", "cache"):
        first, steady = by[recipe, 3], by[recipe, 4]
        assert first.compile_s == steady.compile_s == pytest.approx(max(0.0, first.total_s - steady.total_s))
    assert by["eager", 3].compile_s is None and by["eager", 4].compile_s is None  # eager compiles nothing
    # the recipe's report on its rows; eager rows have none
    assert "recipe" not in by["eager", 3].profile
    assert "regions of transformer" in by["compile", 3].profile["recipe"]["applied"]["compile"]
    assert "first-block cache" in by["cache", 4].profile["recipe"]["applied"]["cache"]
    # the delta against the eager image of the same job
    assert by["eager", 3].psnr_db is None and by["eager", 3].ssim is None
    for seed in (3, 4):
        cached, eager = by["cache", seed], by["eager", seed]
        assert math.isfinite(cached.psnr_db) and cached.ssim < 1.0  # the skipped blocks changed the image
        expected = pixel_delta(*(_png(r) for r in (cached, eager)))
        assert cached.psnr_db == pytest.approx(expected.psnr_db) and cached.ssim == pytest.approx(expected.ssim)
        assert cached.profile["recipe_delta"]["against"] == eager.id
        assert by["compile", seed].psnr_db > 40  # lossless: bf16 rounding at most


def _png(row):
    from PIL import Image

    with Image.open(row.image_path) as im:
        return im.convert("RGB")


def test_a_lossy_rerun_compares_with_the_stored_eager_row(engine, db, out_dir, lossy_cache):
    items = sweep_requests([get_spec("flux-dev")], [Prompt("a red bicycle")], [3], steps=3)
    Runner(engine, db=db, output_dir=out_dir).run(plan(engine, items))
    eager_id = _rows(db)[0].id
    again = sweep_requests([get_spec("flux-dev")], [Prompt("a red bicycle")], [3], steps=3, recipes=("cache",))
    Runner(engine, db=db, output_dir=out_dir, force=True, warmup=1).run(plan(engine, again))
    cached = _rows(db)[-1]
    assert cached.recipe == "cache" and cached.job_key.endswith("~cache@2")
    assert cached.profile["recipe_delta"]["against"] == eager_id and math.isfinite(cached.psnr_db)
    # the warm-up call took the first call (after the recipe: the model was resident); the timed job is steady
    assert not cached.first_call and cached.compile_s is not None and cached.compile_s >= 0.0


def test_warm_up_calls_give_compile_s_to_every_row(engine, db, out_dir):
    items = sweep_requests([get_spec("sana15-1.6b")], [Prompt("a cat")], [0, 1], recipes=("compile",))
    Runner(engine, db=db, output_dir=out_dir, warmup=1).run(plan(engine, items))
    rows = _rows(db)
    assert [r.recipe for r in rows] == ["compile", "compile"] and not any(r.first_call for r in rows)
    assert rows[0].compile_s is not None and rows[0].compile_s == rows[1].compile_s >= 0.0


def test_a_model_on_another_recipe_is_loaded_afresh(engine, db, out_dir):
    model = engine.load("flux-dev")
    apply_recipe(model, "compile", backend="eager")
    items = sweep_requests([get_spec("flux-dev")], [Prompt("a cat")], [0], steps=2)
    Runner(engine, db=db, output_dir=out_dir, mode="dev").run(plan(engine, items))
    assert engine.resident["flux-dev"] is not model and engine.resident["flux-dev"].recipe == "eager"
    assert _rows(db)[0].first_call


def test_compile_s_is_the_first_call_minus_the_steady_median():
    spec = get_spec("flux-dev")

    def done(seed, total, first, row_id):
        request = GenerationRequest(model="flux-dev", prompt="p", seed=seed, width=64, height=64, steps=2)
        row = Generation(id=row_id, run_id=1, job_key=str(row_id), model_key="flux-dev")
        outcome = Outcome(spec=spec, request=request, images=[object()], total_s=total, first_call=first)
        return Done(Job(spec=spec, request=request, key=str(row_id), recipe="compile"), outcome, [row])

    group = [done(0, 9.0, True, 1), done(1, 1.0, False, 2), done(2, 3.0, False, 3), done(3, 2.0, False, 4)]
    assert compile_seconds(group, {}) == {i: {"compile_s": 7.0} for i in (1, 2, 3, 4)}
    assert compile_seconds(group[:1], {}) == {}  # nothing steady to subtract
    warm = {configuration(group[1].job.request): 4.0}  # the first warm-up call of that configuration
    assert compile_seconds(group[1:], warm) == {i: {"compile_s": 2.0} for i in (2, 3, 4)}


def test_eager_keys_of_a_recipe_job():
    spec, request = get_spec("flux-dev"), GenerationRequest(model="flux-dev", prompt="p", seed=0)
    job = Job(spec=spec, request=request, key="abc~cache#r2@7", repeat=2, recipe="cache")
    assert eager_keys(job, 7) == ["abc#r2@7", "abc#r2", "abc@7", "abc"]


# ---- CUDA graphs: one step per denoiser call ----------------------------------------------------------------
def test_cudagraph_mode_marks_a_step_at_each_denoiser_call_and_clones_its_output(engine, monkeypatch):
    marks = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    request = engine.prepare(GenerationRequest(model="sdxl", prompt="a red bicycle", seed=3, steps=3))
    eager = engine.generate(request)
    model = engine.resident["sdxl"]
    assert model.family.speed.compile_mode == recipes.CUDAGRAPHS
    outputs = []
    monkeypatch.setattr(recipes, "_on_cuda", lambda module: True)  # the hooks' logic, as on a GPU
    report = apply_recipe(model, "compile", backend="eager")
    assert "marks a CUDA-graph step" in report.applied["compile"]
    unet = model.pipe.unet
    raw = []
    unet.register_forward_hook(lambda m, a, out: raw.append(out[0] if isinstance(out, tuple) else out.sample),
                               prepend=True)  # runs before the clone
    unet.register_forward_hook(lambda m, a, out: outputs.append(out[0] if isinstance(out, tuple) else out.sample))
    compiled = engine.generate(request)
    assert compiled.ok, compiled.error
    assert len(marks) == 3 == unet._igcs_cudagraph_steps.steps  # CFG runs in one batch: one call a step
    assert all(o is not r and torch.equal(o, r) for o, r in zip(outputs, raw))
    assert pixel_delta(compiled.images[0], eager.images[0]).psnr_db > 40
    assert recipes.install_step_marks(unet) is unet._igcs_cudagraph_steps  # installed once


def test_on_a_cpu_the_compile_recipe_says_nothing_of_cuda_graphs(engine, caplog):
    """Issue 21, bug 11: CUDA graphs need a GPU; on a CPU the default mode runs and no CUDA-graph line is logged."""
    model = engine.load("sdxl")
    assert model.family.speed.compile_mode == recipes.CUDAGRAPHS
    with caplog.at_level("INFO", logger="core.recipes"):
        report = apply_recipe(model, "compile", backend="eager")
    assert "mode default" in report.applied["compile"]
    assert "CUDA-graph" not in caplog.text and "reduce-overhead" not in caplog.text and "applied" in caplog.text
    assert not hasattr(model.pipe.unet, "_igcs_cudagraph_steps")


def test_cudagraphs_stay_off_with_the_first_block_cache(engine):
    model = engine.load("flux-dev")
    report = apply_recipe(model, "compile+cache", backend="eager", overrides={"compile_mode": recipes.CUDAGRAPHS})
    assert "first-block cache" in report.skipped["cudagraphs"]
    assert "mode default" in report.applied["compile"]
    assert not hasattr(model.pipe.transformer, "_igcs_cudagraph_steps")


def test_a_recipe_that_fails_to_apply_fails_its_jobs_only(engine, db, out_dir, monkeypatch):
    def broken(model, speed, backend):
        raise RuntimeError("no kernels today")

    monkeypatch.setitem(recipes._STEP_FUNCS, "compile", broken)
    items = sweep_requests([get_spec("flux-dev")], [Prompt("a cat")], [0], steps=2, recipes=("eager", "compile"))
    summary = Runner(engine, db=db, output_dir=out_dir).run(plan(engine, items))
    rows = _rows(db)
    assert [(r.recipe, r.status) for r in rows] == [("eager", "ok"), ("compile", "failed")]
    assert rows[1].error == "recipe compile failed: RuntimeError: no kernels today"
    assert summary.ok == 1 and summary.failed == 1


def test_recipe_error_names_the_recipe():
    with pytest.raises(RecipeError, match="recipe: 'fp8' cannot run"):
        recipes.check_recipe("fp8", get_spec("sana15-1.6b"), "cpu")
