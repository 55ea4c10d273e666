"""core.jobs: one definition of a request's key and configuration; the task axis's refusals."""
import dataclasses
import hashlib
import json

import pytest

from core.errors import RequestError
from core.generation import Engine
from core.jobs import (EDIT, Configuration, GenerationRequest, InputImage, Job, job_key, labels, validate_request)
from core.spec import ModelSpec

EDITOR = ModelSpec(key="editor", name="Editor", kind="open", tasks=("edit",), max_input_images=1)
BOTH = ModelSpec(key="both", name="Both", kind="open", tasks=("text-to-image", "edit"), max_input_images=3)


def test_a_text_to_image_key_is_the_key_stored_before_tasks_existed():
    req = GenerationRequest(model="sdxl", prompt="a cat", seed=3, steps=30, guidance=5.0, width=1024, height=1024)
    # The payload earlier releases hashed: every field of the request as it was, plus the weights.
    old = {"model": "sdxl", "prompt": "a cat", "negative_prompt": None, "seed": 3, "steps": 30, "guidance": 5.0,
           "width": 1024, "height": 1024, "num_images": 1, "extra": {}, "weights": "tiny"}
    expected = hashlib.sha256(json.dumps(old, sort_keys=True, default=str).encode()).hexdigest()[:32]
    assert req.job_key("tiny") == expected


def test_an_edit_key_hashes_the_source_bytes_not_the_path(tmp_path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"one"), b.write_bytes(b"one"), c.write_bytes(b"two")
    base = dict(model="editor", prompt="make it red", seed=0, steps=20, guidance=7.5, width=512, height=512, task=EDIT)
    key = lambda p: GenerationRequest(**base, inputs=(InputImage.from_path(p),)).job_key("tiny")  # noqa: E731
    assert key(a) == key(b)  # same bytes elsewhere: the same job
    assert key(a) != key(c)  # other bytes: another job
    assert key(a) != GenerationRequest(**{**base, "task": "text-to-image"}).job_key("tiny")


def test_a_missing_input_file_names_the_field(tmp_path):
    with pytest.raises(RequestError) as err:
        InputImage.from_path(tmp_path / "nope.png")
    assert err.value.field == "inputs" and "nope.png" in str(err.value)


@pytest.mark.parametrize("spec, kw, field, fragment", [
    (ModelSpec(key="t2i", name="T", kind="open"), dict(task=EDIT, inputs=1), "task", "t2i takes text-to-image"),
    (EDITOR, dict(task="text-to-image"), "task", "editor takes edit"),
    (EDITOR, dict(task=EDIT, inputs=2), "inputs", "takes one input image"),
    (EDITOR, dict(task=EDIT, inputs=0), "inputs", "needs a source image"),
    (BOTH, dict(task="text-to-image", inputs=1), "inputs", "no input image for text-to-image"),
    (BOTH, dict(task=EDIT, inputs=4), "inputs", "1 to 3 input images"),
    (BOTH, dict(task="inpaint"), "task", "one of text-to-image, edit"),
])
def test_a_request_the_model_cannot_take_is_refused_naming_the_field(spec, kw, field, fragment):
    images = tuple(InputImage(path=f"{i}.png", sha256=f"{i:064x}") for i in range(kw.pop("inputs", 0)))
    req = GenerationRequest(model=spec.key, prompt="x", seed=0, steps=20, guidance=5.0, width=512, height=512,
                            inputs=images, **kw)
    with pytest.raises(RequestError) as err:
        validate_request(req, spec)
    assert err.value.field == field and fragment in str(err.value)


def test_configuration_is_the_same_from_a_job_and_from_its_row():
    engine = Engine(weights="tiny", device="cpu")
    spec = engine.spec_for("sdxl")
    req = engine.prepare(GenerationRequest(model="sdxl", prompt="a cat", seed=1, extra={"x": 1}))
    job = Job(spec=spec, request=req, key="k", recipe="compile")
    row = {"model_key": "sdxl", "weights": "tiny", "task": "text-to-image", "width": req.width, "height": req.height,
           "steps": req.steps, "guidance": req.guidance, "scheduler": "EulerDiscreteScheduler", "dtype": "torch.float32",
           "recipe": "compile", "batch_size": 2, "images_per_call": 1, "extra": {"x": 1}, "input_images": None}
    from_job = Configuration.of_job(job, weights="tiny", batch_size=2, dtype="float32", scheduler="EulerDiscreteScheduler")
    assert from_job == Configuration.of_row(row)


def test_no_two_configurations_share_a_label():
    base = Configuration(model="sdxl", weights="tiny", width=512, height=512, steps=4, guidance=5.0)
    configs = [base, dataclasses.replace(base, guidance=7.5), dataclasses.replace(base, recipe="compile"),
               dataclasses.replace(base, weights="random"), dataclasses.replace(base, scheduler="DDIMScheduler"),
               dataclasses.replace(base, options='{"a": 1}'), dataclasses.replace(base, batch_size=4),
               dataclasses.replace(base, inputs="ab" * 32), dataclasses.replace(base, task=EDIT)]
    out = labels(configs)
    assert len(set(out.values())) == len(configs)
    assert "512×512 · 4 steps · cfg 5" in out[base]
    assert "cfg 7.5" in out[configs[1]] and "compile" in out[configs[2]]


def test_job_key_adds_recipe_and_repeat():
    req = GenerationRequest(model="sdxl", prompt="a", seed=0, steps=1, guidance=1.0, width=512, height=512)
    base = req.job_key("tiny")
    assert job_key(req, weights="tiny") == base
    assert job_key(req, weights="tiny", recipe="compile", repeat=2) == f"{base}~compile#r2"
