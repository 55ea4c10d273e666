"""Issue 21, bugs 1 and 2: a job key another runner stored meanwhile is a skip (no crash, no orphan PNG) on
SQLite and PostgreSQL; a row the store refuses stops the run with one clear line."""
from __future__ import annotations

import pytest
from sqlmodel import select

from core.errors import StoreError
from core.jobs import GenerationRequest, Planned
from core.runner import Runner, plan
from core.store import Generation, Run, session_scope
from tests.backends import both_backends


def _items():
    return [Planned(GenerationRequest(model="sd21", prompt=p, seed=0, steps=2)) for p in ("a cat", "a dog")]


def _odd_profiles(monkeypatch):
    """Every outcome carries a value no JSON encoder takes: the store refuses its row."""
    from core.generation import Engine

    real = Engine.generate

    def generate(self, *args, **kwargs):
        outcome = real(self, *args, **kwargs)
        outcome.profile = {"not json": object()}
        return outcome

    monkeypatch.setattr(Engine, "generate", generate)


@both_backends
def test_a_job_key_another_runner_stored_meanwhile_is_a_skip(tiny_engine, db, out_dir):
    jobs = plan(tiny_engine, _items())
    first = Runner(tiny_engine, db=db, output_dir=out_dir / "a", mode="dev")
    second = Runner(tiny_engine, db=db, output_dir=out_dir / "b", mode="dev")
    second.pending = lambda js: list(js)  # it read the store before the first runner wrote (the race)
    assert first.run(jobs).ok == 2
    summary = second.run(jobs)  # every key is now written by the other runner
    assert summary.status == "finished" and summary.ok == 0 and summary.failed == 0
    assert sum(summary.skipped.values()) == 2
    with session_scope(db, read_only=True) as s:
        rows = list(s.exec(select(Generation)))
        runs = {r.id: r.status for r in s.exec(select(Run))}
    assert len(rows) == 2 and {r.run_id for r in rows} == {first.recorder.run.id}
    assert runs[second.recorder.run.id] == "finished"
    assert not list((out_dir / "b").rglob("*.png"))  # no orphan image of the skipped jobs


def test_a_row_the_store_refuses_stops_the_run_with_one_line(tiny_engine, db, out_dir, monkeypatch):
    _odd_profiles(monkeypatch)
    runner = Runner(tiny_engine, db=db, output_dir=out_dir, mode="dev")
    with pytest.raises(StoreError) as info:
        runner.run(plan(tiny_engine, _items()))
    message = str(info.value)
    assert "\n" not in message and "sd21" in message and "could not be written" in message
    assert "object is not JSON serializable" in message
    with session_scope(db, read_only=True) as s:
        assert list(s.exec(select(Generation))) == []
        assert [r.status for r in s.exec(select(Run))] == ["failed"]
    assert not list(out_dir.rglob("*.png"))


def test_the_cli_prints_the_refused_row_in_one_line(monkeypatch, tmp_path, capsys):
    from core.cli.bench import main
    _odd_profiles(monkeypatch)
    rc = main(["--models", "sd21", "--weights", "tiny", "--prompt", "a cat", "--steps", "2", "--no-progress",
               "--db", str(tmp_path / "x.db"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "could not be written" in lines[0]
