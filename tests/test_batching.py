"""Several prompts per pipeline call: the same images as one call each, job keys unchanged."""
import sqlite3

import numpy as np
import pytest

from core.cli.bench import main
from core.jobs import GenerationRequest


def _max_diff(a, b) -> int:
    return int(np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max())


@pytest.mark.parametrize("key", ["sd21", "flux-dev", "qwen-image", "stable-cascade"])
def test_a_batch_gives_each_prompt_its_own_seeded_image(key, tiny_engine):
    neg = "blurry" if tiny_engine.spec_for(key).supports_negative else None
    reqs = [tiny_engine.prepare(GenerationRequest(model=key, prompt=p, seed=s, negative_prompt=neg))
            for p, s in (("a red cat", 3), ("two blue dogs on a table", 9), ("a green tree", 11))]
    batch = tiny_engine.generate_batch(reqs)
    singles = [tiny_engine.generate(r) for r in reqs]
    assert all(o.ok for o in batch), batch[0].error
    assert [o.request for o in batch] == reqs
    for got, alone in zip(batch, singles):
        assert len(got.images) == 1
        assert _max_diff(got.images[0], alone.images[0]) <= 1  # batched matmuls may round differently
        assert got.profile["batch_size"] == 3
        assert got.total_s == pytest.approx(got.profile["batch_total_s"] / 3)
    assert _max_diff(batch[0].images[0], batch[1].images[0]) > 1  # different prompts, different images


def test_families_that_cannot_batch_run_one_call_each(tiny_engine):
    reqs = [tiny_engine.prepare(GenerationRequest(model="hidream-dev", prompt=p, seed=1)) for p in ("a", "b")]
    outs = tiny_engine.generate_batch(reqs)
    assert all(o.ok and "batch_size" not in o.profile for o in outs)


def test_requests_with_other_parameters_are_not_batched(tiny_engine):
    reqs = [tiny_engine.prepare(GenerationRequest(model="sd21", prompt="a", seed=1, steps=2)),
            tiny_engine.prepare(GenerationRequest(model="sd21", prompt="b", seed=1, steps=3))]
    outs = tiny_engine.generate_batch(reqs)
    assert all(o.ok and "batch_size" not in o.profile for o in outs)


def test_cli_batch_size_keeps_job_keys(tmp_path, capsys):
    db = tmp_path / "r.db"
    base = ["--models", "sd21,hidream-dev", "--weights", "tiny", "--prompt", "a cat", "--prompt", "a dog",
            "--prompt", "a fox", "--seeds", "0", "1", "--db", str(db), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main([*base, "--batch-size", "4"]) == 0
    assert "12 generated, 0 failed" in capsys.readouterr().out
    with sqlite3.connect(db) as con:
        sizes = dict(con.execute("SELECT model_key, max(json_extract(profile, '$.batch_size')) FROM generation "
                                 "GROUP BY model_key"))
    assert sizes == {"sd21": 4, "hidream-dev": None}
    assert main([*base, "--batch-size", "1"]) == 0  # the same jobs, however they were batched
    assert "0 generated, 0 failed, 12 already stored" in capsys.readouterr().out
    assert main([*base, "--batch-size", "0"]) == 2
    assert "batch-size: 0 is not allowed" in capsys.readouterr().err
