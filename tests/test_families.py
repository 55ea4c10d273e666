"""Every family's tiny twin generates end to end through the engine into a temporary store."""
import json

import pytest
from PIL import Image

from core.recording import Recorder
from core.outputs import read_png_params
from core.registry import OPEN_MODELS
from core.jobs import GenerationRequest
from core.store import Generation, session_scope
from sqlmodel import select


@pytest.mark.parametrize("key", [s.key for s in OPEN_MODELS if "text-to-image" in s.tasks])
def test_tiny_twin_end_to_end(key, tiny_engine, db, out_dir):
    spec = tiny_engine.spec_for(key)
    negative = "blurry" if spec.supports_negative else None
    req = tiny_engine.prepare(GenerationRequest(model=key, prompt="a red cat on a blue table", seed=7,
                                                negative_prompt=negative))
    outcome = tiny_engine.generate(req)
    assert outcome.ok, outcome.error
    assert len(outcome.images) == 1 and outcome.images[0].size == (req.width, req.height)
    assert outcome.load_s is not None and outcome.first_call and outcome.total_s > 0
    assert outcome.stage_s.get("denoise", 0) > 0 or outcome.stage_s.get("prior", 0) > 0
    assert sum(outcome.params.values()) > 0

    # Same seed → same image (the generator is on the CPU, whatever the device).
    again = tiny_engine.generate(req)
    assert not again.first_call and again.load_s is None
    assert again.images[0].tobytes() == outcome.images[0].tobytes()

    rec = Recorder(db=db, output_dir=out_dir, kind="generate", mode="dev", weights="tiny", device="cpu")
    rows = rec.record(outcome, job_key=req.job_key("tiny"))
    rec.finish("finished")
    with session_scope(db) as s:
        stored = s.exec(select(Generation)).all()
    assert [r.id for r in stored] == [r.id for r in rows]
    row = stored[0]
    assert row.status == "ok" and row.model_key == key and row.seed == 7 and row.weights == "tiny"
    with Image.open(row.image_path) as im:
        assert im.size == (req.width, req.height)
    assert read_png_params(row.image_path)["prompt"] == "a red cat on a blue table"
    config = json.loads((rec.run_dir / "generation_config.json").read_text())
    assert config["run"]["status"] == "finished"
    assert [g["image_path"] for g in config["generations"]] == [row.image_path]


def test_stable_cascade_times_prior_and_decoder_apart(tiny_engine):
    req = tiny_engine.prepare(GenerationRequest(model="stable-cascade", prompt="a red cat", seed=1))
    outcome = tiny_engine.generate(req)
    assert outcome.ok, outcome.error
    prior, decoder = outcome.stage_s["prior"], outcome.stage_s["decoder"]
    assert prior > 0 and decoder > 0
    assert outcome.stage_s["denoise"] == pytest.approx(prior + decoder)
    assert outcome.calls["prior.prior"] >= req.steps and outcome.calls["decoder.decoder"] >= req.extra["decoder_steps"]
