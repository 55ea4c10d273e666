import pytest

from core.errors import RequestError
from core.generation import Engine
from core.jobs import GenerationRequest


@pytest.fixture
def engine():
    return Engine(weights="pretrained", device="cpu")


def _err(engine, **kw) -> RequestError:
    with pytest.raises(RequestError) as err:
        engine.prepare(GenerationRequest(**kw))
    return err.value


def test_defaults_are_filled_from_the_model(engine):
    req = engine.prepare(GenerationRequest(model="sdxl", prompt="a cat", seed=3))
    assert (req.width, req.height, req.steps, req.guidance, req.seed) == (1024, 1024, 30, 5.0, 3)
    req = engine.prepare(GenerationRequest(model="lumina2", prompt="a cat"))
    assert req.extra["cfg_trunc_ratio"] == 0.25 and 0 <= req.seed < 2**32


@pytest.mark.parametrize("kw, field, fragment", [
    (dict(model="sd21", prompt="  "), "prompt", "non-empty"),
    (dict(model="sana-600m", prompt="x", width=500), "width", "multiples of 32 from 256 to 1024"),
    (dict(model="sdxl", prompt="x", height=4096), "height", "to 2048"),
    (dict(model="sdxl", prompt="x", steps=0), "steps", "from 1 to 200"),
    (dict(model="sdxl", prompt="x", guidance=-1.0), "guidance", "from 0.0 to 30.0"),
    (dict(model="sdxl", prompt="x", seed=-5), "seed", "integer from 0"),
    (dict(model="sdxl", prompt="x", seed="abc"), "seed", "integer from 0"),
    (dict(model="flux-dev", prompt="x", negative_prompt="blurry"), "negative_prompt", "takes no negative prompt"),
    (dict(model="sdxl", prompt="x", num_images=9), "num_images", "from 1 to 4"),
])
def test_bad_requests_name_field_value_and_allowed(engine, kw, field, fragment):
    err = _err(engine, **kw)
    assert err.field == field
    assert str(err).startswith(f"{field}: ") and fragment in str(err)


def test_job_key_is_stable_and_covers_every_parameter(engine):
    a = engine.prepare(GenerationRequest(model="sdxl", prompt="a cat", seed=1))
    b = engine.prepare(GenerationRequest(model="sdxl", prompt="a cat", seed=1))
    assert a.job_key("tiny") == b.job_key("tiny")
    variants = [GenerationRequest(model="sdxl", prompt="a cat", seed=2),
                GenerationRequest(model="sdxl", prompt="a dog", seed=1),
                GenerationRequest(model="sdxl", prompt="a cat", seed=1, steps=31),
                GenerationRequest(model="sdxl", prompt="a cat", seed=1, guidance=5.5),
                GenerationRequest(model="sdxl", prompt="a cat", seed=1, width=768),
                GenerationRequest(model="sdxl", prompt="a cat", seed=1, negative_prompt="blur")]
    keys = {engine.prepare(v).job_key("tiny") for v in variants} | {a.job_key("tiny"), a.job_key("pretrained")}
    assert len(keys) == len(variants) + 2


def test_tiny_twins_accept_small_sizes_but_keep_the_multiple():
    tiny = Engine(weights="tiny", device="cpu")
    req = tiny.prepare(GenerationRequest(model="sd21", prompt="a cat", seed=0))
    assert req.width == 32 and req.steps == 2
    with pytest.raises(RequestError):
        tiny.prepare(GenerationRequest(model="sana-600m", prompt="a cat", seed=0, width=48))
