"""Run annotations (name, notes, tags): the checks, the store on SQLite and PostgreSQL, migration 0008, the CLI."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import inspect, text

from core.store import migrate
from core.cli.bench import main
from core.errors import RequestError
from core.run_notes import clean_name, clean_notes, clean_tags, run_label
from core.store import (Generation, Run, add_generation, add_run, annotate_run, count_generations, count_runs,
                        get_run, query_runs, run_tags, session_scope)
from tests.backends import both_backends


def test_tags_are_checked_sorted_and_deduplicated():
    assert clean_tags(["fp16", "baseline", "fp16", " h200 "]) == ["baseline", "fp16", "h200"]
    assert clean_tags("a, b c") == ["a", "b", "c"]
    assert clean_tags(None) == [] and clean_tags([]) == []
    for bad in ("two words", 'quo"te', "x" * 41, "comma,inside"):
        with pytest.raises(RequestError) as err:
            clean_tags([bad])
        assert err.value.field == "tag" and "letters, digits" in str(err.value)
    with pytest.raises(RequestError, match="at most 20 tags"):
        clean_tags([f"t{i}" for i in range(21)])
    assert clean_name("  mine ") == "mine" and clean_name("") is None
    with pytest.raises(RequestError, match="name: .*one line"):
        clean_name("two\nlines")
    assert clean_notes("  ") is None
    with pytest.raises(RequestError, match="note: "):
        clean_notes("x" * 10_001)


def test_a_run_without_a_name_reads_as_what_it_was():
    assert run_label(name="mine", kind="bench", weights="tiny") == "mine"
    assert run_label(name=None, kind="generate", weights="tiny", prompt="a cat") == 'generate · tiny weights · "a cat"'
    assert run_label(name=None, kind="bench", weights="pretrained") == "bench · pretrained weights"
    assert "None" not in run_label(name=None, kind="generate", weights="tiny", prompt=None)


@both_backends
def test_store_renames_annotates_and_filters_runs_and_generations_by_tag(db):
    with session_scope(db) as s:
        a = add_run(session=s, run=Run(name="a", tags=["baseline"]))
        b = add_run(session=s, run=Run(name="b"))
        c = add_run(session=s, run=Run(name="c", tags=["baseline_x"]))  # `_` is literal, not a LIKE wildcard
        for run in (a, a, b, c):
            add_generation(session=s, generation=Generation(run_id=run.id, job_key=f"k{run.id}-{count_runs(session=s)}"
                                                            f"-{count_generations(session=s)}", model_key="m"))
    with session_scope(db) as s:
        assert annotate_run(session=s, run_id=b.id, name=" renamed ", notes="fp16 on H200", tags=["h200", "fp16"])
        assert annotate_run(session=s, run_id=9999, name="x") is None
        with pytest.raises(RequestError):
            annotate_run(session=s, run_id=b.id, tags=["no spaces please"])
    with session_scope(db, read_only=True) as s:
        got = get_run(session=s, run_id=b.id)
        assert (got.name, got.notes, got.tags) == ("renamed", "fp16 on H200", ["fp16", "h200"])
        assert [r.name for r in query_runs(session=s, tag="baseline")] == ["a"]
        assert count_runs(session=s, tag="fp16") == 1 and count_runs(session=s, tag="nope") == 0
        assert count_generations(session=s, tag="baseline") == 2 and count_generations(session=s, tag="h200") == 1
        assert run_tags(session=s) == ["baseline", "baseline_x", "fp16", "h200"]
    with session_scope(db) as s:  # None leaves a field as it is; "" and [] clear it
        annotate_run(session=s, run_id=b.id, notes="")
        got = annotate_run(session=s, run_id=b.id, tags=[])
        assert (got.name, got.notes, got.tags) == ("renamed", None, [])


@both_backends
def test_migration_0008_adds_notes_and_tags_to_stored_runs(db):
    with session_scope(db) as s:
        add_run(session=s, run=Run(name="old", tags=["x"], notes="n"))
    migrate.downgrade(db, "0007")
    with db.connect() as conn:
        assert "tags" not in {c["name"] for c in inspect(conn).get_columns("run")}
        conn.execute(text("INSERT INTO run (created_at, kind, mode, weights, status, name, params, jobs_total, "
                          "gpu_count) VALUES (CURRENT_TIMESTAMP, 'bench', 'bench', 'tiny', 'finished', 'before', "
                          "'{}', 0, 0)"))
        conn.commit()
    migrate.upgrade(db)
    with session_scope(db, read_only=True) as s:
        runs = {r.name: r for r in query_runs(session=s)}
        assert runs["before"].tags == [] and runs["before"].notes is None and runs["old"].tags == []
        assert run_tags(session=s) == []


def test_cli_names_tags_and_notes_a_run_and_lists_them(tmp_path, capsys):
    db = tmp_path / "r.db"
    argv = ["--models", "sd21", "--weights", "tiny", "--prompt", "a fox", "--db", str(db), "--out",
            str(tmp_path / "out"), "--no-progress", "--name", "first look", "--tag", "baseline", "--tag", "cpu",
            "--note", "tiny weights, to see the grid"]
    assert main(argv) == 0
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT name, tags, notes FROM run").fetchall() == [
            ("first look", '["baseline", "cpu"]', "tiny weights, to see the grid")]
    capsys.readouterr()
    assert main(["--list-runs", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "tags" in out.splitlines()[0] and "baseline,cpu  first look" in out and "note: tiny weights" in out
    assert main(["--list-runs", "--db", str(db), "--tag", "cpu"]) == 0
    assert "first look" in capsys.readouterr().out
    assert main(["--list-runs", "--db", str(db), "--tag", "gpu"]) == 0
    assert "(no runs tagged gpu)" in capsys.readouterr().out


def test_cli_refuses_a_bad_tag_before_anything_loads(tmp_path, capsys):
    assert main(["--models", "sd21", "--weights", "tiny", "--prompt", "x", "--db", str(tmp_path / "r.db"),
                 "--out", str(tmp_path / "out"), "--tag", "two words"]) == 2
    err = capsys.readouterr().err
    assert "tag: 'two words' is not allowed" in err and "letters, digits" in err
    assert not (tmp_path / "out").exists()


def test_sweep_argv_carries_tags_and_note():
    from core.sweep import Sweep

    argv = Sweep(models="sd21", prompts=("x",), tags=("a", "b"), note="why").argv()
    assert argv[argv.index("--note") + 1] == "why"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--tag"] == ["a", "b"]
