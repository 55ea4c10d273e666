"""The runner: one job failing fails that job only; a model that cannot load fails its own jobs; repeats,
warm-up and force; the sweep's command line round-trips through the CLI's parser."""
from __future__ import annotations

import pytest
import torch

from core.cli.bench import parser
from core.cli.run import sweep_from_args
from core.prompts import Prompt
from core.registry import get_spec
from core.jobs import Planned
from core.runner import Runner, plan, sweep_requests
from core.jobs import GenerationRequest
from core.store import Generation, Run, session_scope
from core.sweep import Sweep, prepare
from sqlmodel import select
from tests.backends import both_backends


def _rows(db) -> list[Generation]:
    with session_scope(db, read_only=True) as s:
        return list(s.exec(select(Generation).order_by(Generation.id)))


def test_an_open_model_that_fails_at_one_size_still_runs_its_other_sizes(tiny_engine, db, out_dir):
    # The tiny U-Net runs out of memory above 48 px, as a real model does at a size too large for its card.
    model = tiny_engine.load("sd21")
    factor = model.pipe.vae_scale_factor

    def too_big(module, args):
        if args[0].shape[-1] * factor > 48:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    model.pipe.unet.register_forward_pre_hook(too_big)
    items = [Planned(GenerationRequest(model="sd21", prompt=p, seed=0, width=w, height=w))
             for w in (32, 64, 40) for p in ("a cat", "a dog")]
    summary = Runner(tiny_engine, db=db, output_dir=out_dir, mode="dev").run(plan(tiny_engine, items))
    rows = _rows(db)
    assert [(r.width, r.status) for r in rows] == [(32, "ok"), (32, "ok"), (64, "failed"), (64, "failed"),
                                                    (40, "ok"), (40, "ok")]
    assert all("OutOfMemoryError" in r.error for r in rows if r.status == "failed")
    assert summary.ok == 4 and summary.failed == 2 and summary.status == "finished"


def test_a_model_that_cannot_load_fails_its_jobs_and_the_next_model_runs(tiny_engine, db, out_dir, monkeypatch,
                                                                         tmp_path):
    from core.generation import Engine

    models = tmp_path / "models"
    (models / "sdxl").mkdir(parents=True)  # an empty download: from_pretrained fails
    monkeypatch.setenv("IGCS_MODELS_DIR", str(models))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from core.settings import get_settings

    get_settings.cache_clear()
    engine = Engine(weights="pretrained", device="cpu", **Engine.caches_for(db))
    items = [Planned(GenerationRequest(model="sdxl", prompt=p, seed=0, width=256, height=256, steps=2))
             for p in ("a", "b")]
    jobs = plan(engine, items)
    summary = Runner(engine, db=db, output_dir=out_dir).run(jobs)
    rows = _rows(db)
    assert [r.status for r in rows] == ["failed", "failed"]
    assert all(r.error.startswith("load failed:") for r in rows)
    assert summary.status == "failed"  # nothing came out of the run
    with session_scope(db, read_only=True) as s:
        assert [r.status for r in s.exec(select(Run))] == ["failed"]


@both_backends
def test_repeats_are_stored_each_and_resume_skips_them(tiny_engine, db, out_dir):
    specs = [get_spec("sd21")]
    items = sweep_requests(specs, [Prompt("a cat")], [0, 1], repeats=3)
    jobs = plan(tiny_engine, items)
    assert len(jobs) == 6 and len({j.key for j in jobs}) == 6
    assert {j.repeat for j in jobs} == {0, 1, 2}
    first = Runner(tiny_engine, db=db, output_dir=out_dir, warmup=1).run(jobs)
    assert first.ok == 6
    rows = _rows(db)
    assert sorted(r.repeat for r in rows) == [0, 0, 1, 1, 2, 2]
    assert not any(r.first_call for r in rows)  # the warm-up call took the first-call cost, and is not stored
    assert sum(r.load_s is not None for r in rows) == 1  # the load time is on the first stored row (once)
    again = Runner(tiny_engine, db=db, output_dir=out_dir).run(jobs)
    assert again.status == "nothing to do" and len(_rows(db)) == 6
    forced = Runner(tiny_engine, db=db, output_dir=out_dir, force=True).run(jobs)
    assert forced.ok == 6 and len(_rows(db)) == 12  # measured again, as new rows
    assert len({r.job_key for r in _rows(db)}) == 12


def test_every_bad_field_is_reported_at_once(tiny_engine):
    from core.runner import PlanError

    items = [Planned(GenerationRequest(model="sd21", prompt=" ", seed=0, width=33, steps=0)),
             Planned(GenerationRequest(model="flux-dev", prompt="x", negative_prompt="blurry", seed=0))]
    with pytest.raises(PlanError) as err:
        plan(tiny_engine, items)
    fields = {key: sorted(e.field for e in errs) for key, errs in err.value.errors.items()}
    assert fields == {"sd21": ["prompt", "steps", "width"], "flux-dev": ["negative_prompt"]}


def test_sweep_command_line_round_trips_through_the_cli_parser():
    sweep = Sweep(models="sd21,flux-dev", prompts_file="data/prompts/smoke.txt", prompts=("a cat", "two dogs"),
                  seeds=(0, 5), steps=4, guidance=2.5, size=(64, 48), negative_prompt="blurry", weights="tiny",
                  batch_size=2, repeats=3, warmup=1, force=True, images=2, params=("gpt-image-1.5.quality=high",), mode="dev",
                  max_cost=1.5, allow_slow=True, score=("clip", "pick"), scorer_weights="tiny",
                  recipes=("eager", "compile", "compile+cache"), name="my run", db="sqlite:///x.db", out="outs",
                  device="cpu", executor="ray", ray_address="ray://head:10001")
    assert sweep_from_args(parser().parse_args(sweep.argv()[3:])) == sweep
    assert sweep_from_args(parser().parse_args(Sweep().argv()[3:])) == Sweep()


def test_prepare_refuses_tiny_twins_at_real_sizes_unless_asked(tmp_path):
    from core.errors import CaseStudyError

    base = dict(models="sd21", prompts=("a cat",), weights="tiny", size=(1024, 1024), db=str(tmp_path / "r.db"))
    with pytest.raises(CaseStudyError, match="size: tiny twins at real sizes"):
        prepare(Sweep(**base))
    assert prepare(Sweep(**base, allow_slow=True)).warnings


def test_a_tiny_sweep_with_score_stores_scores_for_every_ok_image(tmp_path):
    from core.cli.bench import main
    from core.store import Score, make_engine

    db = tmp_path / "r.db"
    argv = ["--models", "sd21,pixart-sigma", "--weights", "tiny", "--prompt", "a red cube", "--prompt", "a cat",
            "--score", "clip,aesthetic", "--db", str(db), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 0
    engine = make_engine(f"sqlite:///{db}")
    with session_scope(engine, read_only=True) as s:
        ok = [g.id for g in s.exec(select(Generation).where(Generation.status == "ok"))]
        scores = list(s.exec(select(Score)))
    assert len(ok) == 4
    assert sorted((sc.generation_id, sc.metric) for sc in scores) == sorted(
        (g, m) for g in ok for m in ("aesthetic", "clip"))
    assert all(sc.weights == "tiny" for sc in scores)  # labelled as tiny-weight scores


def test_a_retired_api_model_is_refused_with_its_replacement_before_keys_are_asked(tmp_path):
    from core.errors import CaseStudyError

    with pytest.raises(CaseStudyError, match="dall-e-3.*retired.*gpt-image-2"):
        prepare(Sweep(models="dall-e-3", prompts=("a cat",), db=str(tmp_path / "r.db")))
