"""Schema migrations, on SQLite and PostgreSQL: the models match the head revision, a store written by the
release before migrations upgrades in place with its rows, processes starting at once on a new store
all succeed, and the `db` command."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, func, select

from core.cli import db as db_command
from core.store import migrate
from core.store import (FlopCount, Generation, Run, Score, add_generation, add_run, count_generations, delete_run,
                        get_device_peak, list_atlas_entries, make_engine, session_scope)
from tests.backends import both_backends

REPO = Path(__file__).resolve().parent.parent
# Stores made before migrations: by the release before them, and by main just before they landed (with
# generation.repeat and the score table, which revision 0003 then finds already there).
LEGACY_COMMITS = ("959fbe4", "c014244")

LEGACY_WRITER = """
import sys
from datetime import datetime, timezone
import legacy_store as st

engine = st.make_engine(sys.argv[1])
with st.session_scope(engine) as s:
    runs = [st.add_run(session=s, run=st.Run(kind="bench", name=f"run{i}", status="finished",
                                             params={"models": ["sd21"]}, hostname="box")) for i in range(3)]
    for run in runs:
        for i in range(4):
            s.add(st.Generation(run_id=run.id, job_key=f"{run.id}-{i}", model_key="sd21", prompt=f"a cat {i}",
                                seed=i, status="failed" if i == 3 else "ok", total_s=0.5, profile={"calls": i},
                                image_path=f"/x/{run.id}/{i}.png"))
    s.commit()
    st.put_flop_count(session=s, count=st.FlopCount(key="k", model_key="sd21", component="unet", shapes="s",
                                                    flops=4.0, macs=2.0))
    st.put_device_peak(session=s, peak=st.DevicePeak(name="H200", peak_tflops=989.0))
    st.put_atlas_entries(session=s, entries=[st.AtlasEntry(key="sd21|768x768|50|0", model_key="sd21", width=768,
                                                           height=768, steps=50, detail={"unet": 50})])
    if hasattr(st, "Score"):
        first = s.exec(st.select(st.Generation).order_by(st.Generation.id)).first()
        st.add_scores(session=s, scores=[st.Score(generation_id=first.id, metric="clip", value=0.3, scorer_id="x",
                                                  scorer_revision="r")])
print(runs[-1].id)
"""


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return migrate.current(conn)
    finally:
        engine.dispose()


@both_backends
def test_the_models_match_the_head_revision(db):
    """A change to core/store.py's tables without a revision fails here (README: "Migrations")."""
    assert _revision(db.url.render_as_string(hide_password=False)) == migrate.head()
    assert _diff(db.url.render_as_string(hide_password=False)) == []


def test_revisions_form_one_line_from_the_first():
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.config())
    assert len(scripts.get_heads()) == 1  # no branches to merge
    assert [s.revision for s in scripts.walk_revisions()][-1] == migrate.FIRST_REVISION


@pytest.fixture(params=LEGACY_COMMITS)
def legacy_store_module(request, tmp_path) -> Path:
    """core/store.py of a commit before migrations, as a module of its own (it has no imports of ours)."""
    commit = request.param
    done = subprocess.run(["git", "show", f"{commit}:core/store.py"], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"git history without {commit} (a shallow clone?): {done.stderr.strip()}")
    folder = tmp_path / f"legacy-{commit}"
    folder.mkdir()
    (folder / "legacy_store.py").write_text(done.stdout)
    return folder


@both_backends
def test_a_store_of_the_release_before_migrations_upgrades_in_place(db_url, legacy_store_module):
    run = subprocess.run([sys.executable, "-c", LEGACY_WRITER, db_url], cwd=legacy_store_module,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    newest_id = int(run.stdout.split()[-1])
    assert _revision(db_url) is None  # tables, no alembic_version

    engine = make_engine(db_url)  # what every start does
    try:
        assert _revision(db_url) == migrate.head()
        assert _diff(db_url) == []  # the first revision is exactly the schema that release created
        with session_scope(engine) as s:
            runs = list(s.exec(select(Run).order_by(Run.id)))
            assert [r.name for r in runs] == ["run0", "run1", "run2"] and runs[0].params == {"models": ["sd21"]}
            assert count_generations(session=s) == 12 and count_generations(session=s, status="failed") == 3
            assert s.exec(select(func.count()).select_from(FlopCount)).one() == 1
            assert get_device_peak(session=s, name="H200").peak_tflops == 989.0
            assert list_atlas_entries(session=s)[0].detail == {"unet": 50}
            assert {g.repeat for g in s.exec(select(Generation))} == {0}
            legacy_scores = 1 if "c014244" in str(legacy_store_module) else 0
            assert s.exec(select(func.count()).select_from(Score)).one() == legacy_scores
            # the partial unique index survived: an ok job key is stored once, failures may repeat
            add_generation(session=s, generation=Generation(run_id=runs[0].id, job_key=f"{runs[0].id}-3",
                                                            model_key="sd21", status="failed"))
            with pytest.raises(IntegrityError):
                add_generation(session=s, generation=Generation(run_id=runs[0].id, job_key=f"{runs[0].id}-0",
                                                                model_key="sd21"))
            s.rollback()
            # ids: once the newest run is deleted its id is not handed out again (the old schema reused it)
            delete_run(session=s, run_id=newest_id)
            assert add_run(session=s, run=Run()).id > newest_id
            # the foreign key still cascades
            s.exec(Run.__table__.delete().where(Run.id == runs[0].id))
            s.commit()
            assert count_generations(session=s) == 4
    finally:
        engine.dispose()


def test_sqlite_tables_are_rebuilt_with_autoincrement(db):
    with db.connect() as conn:
        ddl = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
    assert "AUTOINCREMENT" in ddl["run"] and "AUTOINCREMENT" in ddl["generation"]
    assert "REFERENCES run (id) ON DELETE CASCADE" in ddl["generation"]


STARTER = """
import sys, time
from pathlib import Path
from core.store import Run, add_run, make_engine, session_scope
url, name, gate, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
(gate / name).touch()  # imports done: wait for the others, then all start at once
while len(list(gate.iterdir())) < n:
    time.sleep(0.005)
with session_scope(make_engine(url)) as s:
    add_run(session=s, run=Run(name=name))
"""


@both_backends
def test_processes_starting_at_once_on_a_new_store_all_succeed(db_url, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", STARTER, db_url, f"p{i}", str(gate), "3"], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    assert _revision(db_url) == migrate.head()
    with session_scope(make_engine(db_url)) as s:
        assert sorted(r.name for r in s.exec(select(Run))) == ["p0", "p1", "p2"]


@both_backends
def test_db_command_upgrades_and_reports(db_url, capsys):
    assert db_command.main(["--db", db_url, "current"]) == 0
    assert "no revision" in capsys.readouterr().out
    assert db_command.main(["upgrade"]) == 0  # IGCS_DATABASE_URL names the store
    assert f"store at {migrate.head()}; head is {migrate.head()}" in capsys.readouterr().out
    assert db_command.main(["history"]) == 0
    out = capsys.readouterr().out
    assert "0001  Initial schema" in out and f"{migrate.head()}  " in out and "(head)" in out


def test_db_command_rejects_an_unknown_action(capsys):
    with pytest.raises(SystemExit) as exit_info:
        db_command.main(["drop"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'drop'" in capsys.readouterr().err


def test_revision_command_autogenerates_what_the_models_add(tmp_path, monkeypatch, capsys):
    """`db revision -m ...` diffs the models against a scratch store at head (in a copy of the migrations)."""
    import shutil

    from sqlalchemy import Column, Integer, String, Table

    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", copy)
    head = migrate.head()
    table = Table("scratchnote", SQLModel.metadata, Column("id", Integer, primary_key=True), Column("text", String))
    try:
        assert db_command.main(["revision", "-m", "add scratchnote"]) == 0
    finally:
        SQLModel.metadata.remove(table)
    written = sorted((copy / "versions").glob(f"{int(head) + 1:04d}_*.py"))
    assert len(written) == 1 and str(written[0]) in capsys.readouterr().out
    body = written[0].read_text()
    assert f"down_revision: Union[str, Sequence[str], None] = '{head}'" in body
    assert "op.create_table('scratchnote'" in body and "sa.Column('text', sa.String()" in body
    assert migrate.head() == f"{int(head) + 1:04d}"


@both_backends
def test_downgrade_to_the_first_revision_and_back_keeps_rows(db):
    with session_scope(db) as s:
        run = add_run(session=s, run=Run(name="kept"))
        add_generation(session=s, generation=Generation(run_id=run.id, job_key="k", model_key="m", seed=7))
    assert migrate.downgrade(db, migrate.FIRST_REVISION) == migrate.FIRST_REVISION
    migrate.upgrade(db)
    assert _revision(db.url.render_as_string(hide_password=False)) == migrate.head()
    with session_scope(db) as s:
        assert s.exec(select(Run.name)).all() == ["kept"] and count_generations(session=s) == 1
