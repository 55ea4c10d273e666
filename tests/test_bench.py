"""The batch CLI: sweeps, resumes after SIGKILL without duplicates, isolates a failing model."""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli.bench import main
from core.registry import OPEN_MODELS

REPO = Path(__file__).resolve().parent.parent


def _rows(db_path: Path) -> list[tuple]:
    with sqlite3.connect(db_path) as con:
        return con.execute("SELECT job_key, status, model_key, image_path, run_id FROM generation").fetchall()


def test_cli_bad_input_fails_before_loading(capsys, tmp_path):
    assert main(["--models", "sdxl,flux", "--prompt", "x", "--weights", "tiny"]) == 2
    assert "Did you mean 'flux-dev'" in capsys.readouterr().err
    assert main(["--models", "sana-600m", "--prompt", "x", "--weights", "tiny", "--size", "48"]) == 2
    err = capsys.readouterr().err
    assert "nothing was loaded" in err and "width: 48" in err and "multiples of 32" in err
    assert main(["--models", "sd21", "--prompts", str(tmp_path / "missing.txt")]) == 2
    assert "prompts: no file" in capsys.readouterr().err
    assert not (tmp_path / "outputs").exists()  # nothing written


def test_cli_sweep_then_rerun_adds_nothing(capsys, tmp_path):
    db = tmp_path / "r.db"
    argv = ["--models", "sd21,pixart-sigma", "--weights", "tiny", "--prompts", str(REPO / "data/prompts/smoke.txt"),
            "--seeds", "0", "1", "--db", str(db), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sd21" in out and "8 generated, 0 failed" in out
    rows = _rows(db)
    assert len(rows) == 8 and all(r[1] == "ok" and Path(r[3]).is_file() for r in rows)
    assert main(argv) == 0
    assert "0 generated, 0 failed, 8 already stored" in capsys.readouterr().out
    assert len(_rows(db)) == 8


def test_cli_jsonl_categories_and_negative_prompts(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "a fox", "negative_prompt": "blurry", "category": "style"}\n')
    db = tmp_path / "r.db"
    assert main(["--models", "sd21,flux-dev", "--weights", "tiny", "--prompts", str(prompts), "--db", str(db),
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    with sqlite3.connect(db) as con:
        got = dict(con.execute("SELECT model_key, negative_prompt FROM generation WHERE category='style'"))
    assert got == {"sd21": "blurry", "flux-dev": None}  # FLUX takes no negative prompt


def _save_tiny_pipeline(key: str, target: Path) -> None:
    from core.families import get_family
    from core.families import effective_spec
    from core.registry import get_spec

    spec = get_spec(key)
    get_family(spec.family).build_tiny(effective_spec(spec, "tiny")).save_pretrained(target)


def test_failing_model_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    """Pretrained loading from local directories: sd21's is a real saved pipeline, sdxl's is missing."""
    models = tmp_path / "models"
    _save_tiny_pipeline("sd21", models / "sd21")
    (models / "sdxl").mkdir(parents=True)  # an empty download: from_pretrained must fail
    monkeypatch.setenv("IGCS_MODELS_DIR", str(models))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from core.settings import get_settings
    get_settings.cache_clear()
    db = tmp_path / "r.db"
    rc = main(["--models", "sdxl,sd21", "--weights", "pretrained", "--prompt", "a cat", "--prompt", "a dog",
               "--size", "256", "--steps", "2", "--db", str(db), "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 1  # something failed
    out = capsys.readouterr().out
    rows = _rows(db)
    by_model = {}
    for job_key, status, model, path, _ in rows:
        by_model.setdefault(model, []).append(status)
    assert by_model["sdxl"] == ["failed", "failed"]  # a model that cannot load fails each of its jobs
    assert by_model["sd21"] == ["ok", "ok"]
    with sqlite3.connect(db) as con:
        errors = [e for (e,) in con.execute("SELECT error FROM generation WHERE model_key='sdxl'")]
    assert all(e.startswith("load failed: OSError") and "model_index.json" in e for e in errors)  # each job says why
    assert "errors:" in out and "sdxl" in out
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        failed = con.execute("SELECT error_detail FROM generation WHERE model_key='sdxl'").fetchone()
        ok = [dict(r) for r in con.execute("SELECT * FROM generation WHERE model_key='sd21'")]
        dirty = con.execute("SELECT git_dirty FROM run").fetchone()[0]
    assert failed["error_detail"].startswith("Traceback") and "from_pretrained" in failed["error_detail"]
    # what produced the image, for reproducing it: a local folder's content hash as the weights revision
    from core.provenance import folder_hash

    assert {r["weights_revision"] for r in ok} == {f"local:{folder_hash(models / 'sd21')}"}
    assert {r["dtype"] for r in ok} == {"float32"} and {r["scheduler"] for r in ok} == {"DDIMScheduler"}
    assert all(json.loads(r["scheduler_config"])["num_train_timesteps"] for r in ok)
    assert all(r["attention_backend"].startswith("native") for r in ok)
    assert dirty in (0, 1)


def test_a_stored_generation_reproduces_from_its_command(tmp_path, capsys):
    """The detail view's command makes the same job again: the same key (so it is skipped) and the same image."""
    import shlex

    from core.sweep import reproduce_command

    db = tmp_path / "r.db"
    base = ["--db", str(db), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(["--models", "pixart-sigma", "--weights", "tiny", "--prompt", "a 'quoted' cat", "--seeds", "11",
                 "--negative-prompt", "blurry", "--steps", "3", *base]) == 0
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        row = dict(con.execute("SELECT * FROM generation").fetchone())
    row["extra"] = json.loads(row["extra"])
    command = reproduce_command(row)
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "core.bench"]
    capsys.readouterr()
    assert main(argv[3:] + base) == 0
    assert "0 generated, 0 failed, 1 already stored" in capsys.readouterr().out  # the very same job key
    assert main(argv[3:] + base + ["--force"]) == 0
    with sqlite3.connect(db) as con:
        paths = [p for (p,) in con.execute("SELECT image_path FROM generation ORDER BY id")]
    assert len(paths) == 2 and Path(paths[0]).read_bytes() != b"" and \
        _pixels(paths[0]) == _pixels(paths[1])  # measured again: the same image


def _pixels(path):
    from PIL import Image

    with Image.open(path) as im:
        return im.tobytes()


@pytest.mark.slow
def test_sigkill_midway_then_resume_all_families(tmp_path):
    """All 18 families; killed with SIGKILL after some rows; the rerun completes with no duplicates."""
    db = tmp_path / "r.db"
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red cat\ntwo blue dogs\n")
    cmd = [sys.executable, "-m", "core.bench", "--models", "all", "--weights", "tiny", "--prompts", str(prompts),
           "--seeds", "0", "1", "--db", str(db), "--out", str(tmp_path / "out"), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    expected = len([s for s in OPEN_MODELS if "text-to-image" in s.tasks]) * 2 * 2  # `all`: the models taking the task
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline:
        if db.exists():
            try:
                if len(_rows(db)) >= 12:
                    break
            except sqlite3.OperationalError:
                pass
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _rows(db)
    assert 12 <= len(before) < expected
    assert all(r[1] == "ok" and Path(r[3]).is_file() for r in before)
    # the killed run does not stay "running": its process is gone, so it shows as interrupted
    listing = subprocess.run([sys.executable, "-m", "core.bench", "--list-runs", "--db", str(db)], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and " interrupted " in listing.stdout, listing.stdout + listing.stderr
    with sqlite3.connect(db) as con:
        assert [s for (s,) in con.execute("SELECT status FROM run")] == ["interrupted"]

    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    after = _rows(db)
    keys = [r[0] for r in after]
    assert len(after) == expected and len(set(keys)) == expected  # nothing lost, no duplicates
    assert set(before) <= set(after)
    assert all(r[1] == "ok" and Path(r[3]).is_file() for r in after)
    assert f"{expected - len(before)} generated, 0 failed, {len(before)} already stored" in done.stdout
    with sqlite3.connect(db) as con:
        assert [s for (s,) in con.execute("SELECT status FROM run ORDER BY id")] == ["interrupted", "finished"]


def test_cli_keeps_flop_counts_in_the_store_it_writes_to(tmp_path):
    """--db decides where everything goes: rows, FLOP cache; the default store is not touched."""
    db = tmp_path / "elsewhere.db"
    assert main(["--models", "sd21", "--weights", "tiny", "--prompt", "a cat", "--db", str(db),
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM flopcount").fetchone()[0] > 0
        assert con.execute("SELECT flops_total FROM generation").fetchone()[0] > 0
    assert not (tmp_path / "results.db").exists()  # IGCS_DATABASE_URL of the test settings


def test_log_lines_print_above_the_progress_bars_not_inside_them(tmp_path, capsys):
    """Issue 21, bug 11: the scorer's INFO line goes through tqdm.write while bars are drawn."""
    import logging

    console = logging.StreamHandler(sys.stderr)  # the console handler a terminal run has (capsys's stderr here)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(console)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        assert main(["--models", "sd21", "--weights", "tiny", "--prompt", "a cat", "--steps", "2", "--score", "clip",
                     "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "out")]) == 0
    finally:
        root.removeHandler(console)
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "all models:" in err  # the bars were drawn
    lines = [line for line in err.split("\n") if "scorer clip" in line and "loaded from" in line]
    assert len(lines) == 1, err[-2000:]
    # what the terminal line shows before the message: nothing (tqdm cleared the bars), not a bar ending "img/s]"
    shown = re.sub(r"\x1b\[\d*[A-Za-z]", "", lines[0].split("INFO core.scoring")[0].rsplit("\r", 1)[-1])
    assert shown.strip() == "", repr(lines[0])
