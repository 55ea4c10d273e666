"""The batch CLI with API models against the fakes: rows, files, the cost guard, skipped providers, and
no key anywhere in the store, the output folder or the logs."""
from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from core.cli.bench import main
from core.outputs import read_png_params

FAST_ENV = {"IGCS_API_TIMEOUT_S": "5", "IGCS_API_DEADLINE_S": "20", "IGCS_API_BACKOFF_S": "0.01",
            "IGCS_API_BACKOFF_MAX_S": "0.05", "IGCS_API_POLL_INTERVAL_S": "0.01"}


@pytest.fixture
def api_env(monkeypatch, openai_fake, kling_fake):
    """Keys and base URLs in the environment, as a user sets them; returns the secrets to look for."""
    from core.settings import get_settings

    env = {"OPENAI_API_KEY": openai_fake.api_key, "OPENAI_BASE_URL": openai_fake.base_url,
           "KLING_ACCESS_KEY": kling_fake.access_key, "KLING_SECRET_KEY": kling_fake.secret_key,
           "KLING_BASE_URL": kling_fake.base_url, **FAST_ENV}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return [openai_fake.api_key, kling_fake.access_key, kling_fake.secret_key]


def _rows(db: Path) -> list[dict]:
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM generation ORDER BY id")]


def _assert_nowhere(secrets: list[str], *, db: Path, out: Path, texts: list[str], pngs: bool = True) -> None:
    blobs: dict[str, bytes] = {}
    for path in db.parent.glob(db.name + "*"):  # the database and its -wal / -shm files
        blobs[str(path)] = path.read_bytes()
    with sqlite3.connect(db) as con:  # every table, every column, as text
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            blobs[f"table {table}"] = json.dumps(con.execute(f"SELECT * FROM {table}").fetchall(), default=str).encode()
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "generation_config.json" for p in files)
    assert any(p.suffix == ".png" for p in files) == pngs
    for path in files:
        blobs[str(path)] = path.read_bytes()
        if path.suffix == ".png" and path.parent.name != "inputs":  # outputs carry their parameters; sources not
            blobs[f"{path} text chunk"] = json.dumps(read_png_params(path)).encode()
    for i, text in enumerate(texts):
        blobs[f"text {i}"] = text.encode()
    for secret in secrets:
        for where, blob in blobs.items():
            assert secret.encode() not in blob, f"a key was found in {where}"


def test_batch_cli_runs_api_models_and_keeps_keys_out(api_env, openai_fake, kling_fake, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    db, out = tmp_path / "api.db", tmp_path / "out"
    openai_fake.scenarios.extend(["rate_limit", "ok"])  # one retry along the way
    argv = ["--models", "gpt-image-1.5,kling-v1", "--prompt", "a red cube on a wooden table", "--seeds", "0", "1",
            "--size", "1024x768", "--db", str(db), "--out", str(out), "--no-progress", "--max-cost", "1.00"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "API cost estimate: 0.410 USD" in printed.err  # gpt-image-1.5 1536 auto(high) 0.2 x2 + kling 0.005 x2

    rows = _rows(db)
    assert [(r["model_key"], r["status"]) for r in rows] == [("gpt-image-1.5", "ok")] * 2 + [("kling-v1", "ok")] * 2
    for r in rows:
        assert r["provider"] == {"gpt-image-1.5": "openai", "kling-v1": "kling"}[r["model_key"]]
        assert r["request_id"] and Path(r["image_path"]).is_file()
        assert r["cost_usd"] == pytest.approx({"gpt-image-1.5": 0.2, "kling-v1": 0.005}[r["model_key"]])
        params = json.loads(r["api_params"])
        if r["model_key"] == "gpt-image-1.5":
            assert params["size"] == "1536x1024" and params["quality"] == "auto"
            assert r["request_id"].startswith("req_")
        else:
            assert params["aspect_ratio"] == "4:3" and params["model_name"] == "kling-v1"
    assert len(openai_fake.api_requests()) == 3 and len(kling_fake.claims) >= 6

    # a rerun sends nothing: every job is stored
    sent_before = len(openai_fake.requests) + len(kling_fake.requests)
    assert main(argv) == 0
    assert len(openai_fake.requests) + len(kling_fake.requests) == sent_before
    printed2 = capsys.readouterr()
    _assert_nowhere(api_env, db=db, out=out,
                    texts=[caplog.text, printed.out, printed.err, printed2.out, printed2.err])


def test_failures_are_rows_with_the_provider_error(api_env, openai_fake, kling_fake, tmp_path, caplog, capsys,
                                                   monkeypatch):
    caplog.set_level(logging.DEBUG)
    db, out = tmp_path / "api.db", tmp_path / "out"
    openai_fake.scenarios.append("safety")
    kling_fake.task_mode = "fail"
    assert main(["--models", "gpt-image-1.5,kling-v1", "--prompt", "something refused", "--db", str(db),
                 "--out", str(out), "--no-progress"]) == 1
    rows = _rows(db)
    assert [(r["model_key"], r["status"]) for r in rows] == [("gpt-image-1.5", "failed"), ("kling-v1", "failed")]
    assert "safety" in rows[0]["error"] and "content_policy_violation" in rows[0]["error"]
    assert "safety" in rows[1]["error"] and "risk control" in rows[1]["error"]
    kling_params = json.loads(rows[1]["api_params"])  # the billed task can still be looked up
    assert kling_params["task_id"] in kling_fake.tasks and kling_params["attempts"] == 1
    assert kling_params["error_kind"] == "safety"
    printed = capsys.readouterr()
    # a wrong key fails as an auth row, and the wrong key is not written either
    wrong = "sk-wrong-openai-key-7777888899990000"
    from core.settings import get_settings

    monkeypatch.setenv("OPENAI_API_KEY", wrong)

    get_settings.cache_clear()
    assert main(["--models", "gpt-image-1.5", "--prompt", "a blue sphere", "--db", str(db), "--out", str(out),
                 "--no-progress"]) == 1
    assert "auth" in _rows(db)[-1]["error"]
    printed2 = capsys.readouterr()
    _assert_nowhere([*api_env, wrong], db=db, out=out, pngs=False,
                    texts=[caplog.text, printed.out, printed.err, printed2.out, printed2.err])


def test_max_cost_refuses_the_sweep_before_any_request(api_env, openai_fake, kling_fake, tmp_path, capsys):
    db = tmp_path / "api.db"
    rc = main(["--models", "gpt-image-1.5,kling-v1", "--prompt", "a cat", "--seeds", "0", "1", "2", "--db", str(db),
               "--out", str(tmp_path / "out"), "--no-progress", "--max-cost", "0.05"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "0.414 USD exceeds --max-cost 0.050" in err and "nothing was sent" in err
    assert openai_fake.requests == [] and kling_fake.requests == []


def test_provider_without_keys_is_skipped_with_a_clear_message(api_env, monkeypatch, openai_fake, kling_fake,
                                                                tmp_path, capsys):
    from core.settings import get_settings

    monkeypatch.delenv("KLING_SECRET_KEY")
    get_settings.cache_clear()
    db = tmp_path / "api.db"
    assert main(["--models", "gpt-image-1.5,kling-v1", "--prompt", "a cat", "--db", str(db),
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("skipping kling-v1"))
    assert "KLING_SECRET_KEY" in line and "KLING_ACCESS_KEY" not in line
    assert [r["model_key"] for r in _rows(db)] == ["gpt-image-1.5"]
    assert kling_fake.requests == []


def test_a_sweep_over_every_available_api_model_stores_ok_rows(monkeypatch, openai_fake, google_fake, volc_fake,
                                                              ark_fake, kling_fake, tmp_path, caplog, capsys):
    """Every text-to-image model the catalog calls available (or deprecated, still served), one job each, all ok; no key,
    token or JWT anywhere afterwards. Retired models are refused as rows naming their replacement."""
    from core.providers import api_specs, catalog
    from core.settings import get_settings

    env = {"OPENAI_API_KEY": openai_fake.api_key, "OPENAI_BASE_URL": openai_fake.base_url,
           "IGCS_IMAGEN_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": google_fake.project,
           "GOOGLE_CLOUD_LOCATION": google_fake.location, "GOOGLE_ACCESS_TOKEN": google_fake.access_token,
           "GOOGLE_VERTEX_BASE_URL": google_fake.base_url,
           "VOLC_ACCESSKEY": volc_fake.access_key, "VOLC_SECRETKEY": volc_fake.secret_key,
           "VOLC_BASE_URL": volc_fake.base_url, "ARK_API_KEY": ark_fake.api_key, "ARK_BASE_URL": ark_fake.base_url,
           "KLING_ACCESS_KEY": kling_fake.access_key, "KLING_SECRET_KEY": kling_fake.secret_key,
           "KLING_BASE_URL": kling_fake.base_url, **FAST_ENV}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    keys = [s.key for s in api_specs() if catalog.is_available(s.key) and "text-to-image" in s.tasks]
    assert len(keys) == 23  # and kling-v2-new, which only edits
    db, out = tmp_path / "sweep.db", tmp_path / "out"
    assert main(["--models", ",".join(keys), "--prompt", "a lighthouse at dusk", "--db", str(db), "--out", str(out),
                 "--no-progress"]) == 0
    rows = _rows(db)
    assert sorted(r["model_key"] for r in rows) == sorted(keys)
    assert {r["status"] for r in rows} == {"ok"}, [(r["model_key"], r["error"]) for r in rows if r["error"]]
    printed = capsys.readouterr()
    secrets = [v for k, v in env.items() if "KEY" in k or "TOKEN" in k] + kling_fake.tokens
    _assert_nowhere(secrets, db=db, out=out, texts=[caplog.text, printed.out, printed.err])


def test_a_refusal_on_prompt_1_of_3_fails_that_job_only(api_env, openai_fake, tmp_path, capsys):
    """The failure policy per job: a safety refusal on the first prompt; the second and third are still sent."""
    db, out = tmp_path / "api.db", tmp_path / "out"
    openai_fake.scenarios.append("safety")
    assert main(["--models", "gpt-image-1.5", "--prompt", "p1 refused", "--prompt", "p2", "--prompt", "p3",
                 "--db", str(db), "--out", str(out), "--no-progress"]) == 1  # something failed
    rows = _rows(db)
    assert [(r["prompt"], r["status"]) for r in rows] == [("p1 refused", "failed"), ("p2", "ok"), ("p3", "ok")]
    assert json.loads(rows[0]["api_params"])["error_kind"] == "safety"
    assert len(openai_fake.api_requests()) == 3


def test_an_edit_sweep_over_the_four_apis_stores_ok_rows_and_a_rerun_adds_none(monkeypatch, openai_fake, google_fake,
                                                                              ark_fake, kling_fake, tmp_path, caplog):
    """One edit-capable model per provider through the runner: ok rows with task edit, the source kept beside the
    output, the source's sha256 (not its path) in the job key; a rerun sends nothing and stores nothing; no key
    anywhere."""
    from dataclasses import replace

    from PIL import Image

    from core.generation import Engine
    from core.jobs import EDIT, GenerationRequest, InputImage, Planned
    from core.runner import Runner, plan
    from core.settings import get_settings
    from core.store import open_store

    env = {"OPENAI_API_KEY": openai_fake.api_key, "OPENAI_BASE_URL": openai_fake.base_url,
           "IGCS_IMAGEN_BACKEND": "gemini", "GOOGLE_API_KEY": google_fake.api_key,
           "GOOGLE_GEMINI_BASE_URL": google_fake.base_url, "ARK_API_KEY": ark_fake.api_key,
           "ARK_BASE_URL": ark_fake.base_url, "KLING_ACCESS_KEY": kling_fake.access_key,
           "KLING_SECRET_KEY": kling_fake.secret_key, "KLING_BASE_URL": kling_fake.base_url, **FAST_ENV}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    ramp = Image.linear_gradient("L").resize((640, 480))
    Image.merge("RGB", (ramp, ramp.rotate(180), ramp)).save(tmp_path / "scene.png")
    source = InputImage.from_path(tmp_path / "scene.png")
    models = ["gpt-image-1.5", "gemini-3.1-flash-image", "seedream-4", "kling-v1-5"]
    items = [Planned(GenerationRequest(model=m, prompt="make the cube red", seed=0, task=EDIT, inputs=(source,),
                                       width=1024, height=768)) for m in models]
    db_path, out = tmp_path / "edits.db", tmp_path / "out"
    db = open_store(f"sqlite:///{db_path}")
    engine = Engine(weights="pretrained", settings=get_settings(), **Engine.caches_for(db))
    jobs = plan(engine, items)
    summary = Runner(engine, db=db, output_dir=out).run(jobs)
    assert summary.ok == 4 and summary.failed == 0

    rows = _rows(db_path)
    assert [(r["model_key"], r["status"], r["task"]) for r in rows] == [(m, "ok", "edit") for m in models]
    for row, job in zip(rows, jobs):
        kept = json.loads(row["input_images"])
        assert [k["sha256"] for k in kept] == [source.sha256]
        assert Path(kept[0]["path"]).read_bytes() == (tmp_path / "scene.png").read_bytes()  # kept beside the output
        assert row["job_key"] == job.key and Path(row["image_path"]).is_file()
        request = job.request  # the key follows the source's bytes, not its path
        assert replace(request, inputs=(InputImage("elsewhere.png", source.sha256),)).job_key("api") == row["job_key"]
        assert replace(request, inputs=(InputImage(source.path, "0" * 64),)).job_key("api") != row["job_key"]
        assert source.sha256 in row["api_params"] and "base64" not in row["api_params"]
    assert {r["cost_usd"] > 0 for r in rows} == {True}

    sent_before = sum(len(f.requests) for f in (openai_fake, google_fake, ark_fake, kling_fake))
    again = Runner(engine, db=db, output_dir=out).run(plan(engine, items))
    assert again.ok == 0 and len(_rows(db_path)) == 4
    assert sum(len(f.requests) for f in (openai_fake, google_fake, ark_fake, kling_fake)) == sent_before
    secrets = [v for k, v in env.items() if "KEY" in k] + kling_fake.tokens
    _assert_nowhere(secrets, db=db_path, out=out, texts=[caplog.text])
