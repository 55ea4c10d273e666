"""The store: WAL and pragmas, job-key uniqueness, paging and filters, two writer processes at once."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.store import (Generation, Run, add_generation, add_run, count_generations, delete_run, done_job_keys,
                        make_engine, query_generations, session_scope, utcnow)

REPO = Path(__file__).resolve().parent.parent


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(db):
    with db.connect() as con:
        assert con.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert con.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert con.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_an_ok_job_key_is_stored_once_failures_may_repeat(db):
    with session_scope(db) as s:
        run = add_run(session=s, run=Run())
        add_generation(session=s, generation=Generation(run_id=run.id, job_key="k", model_key="m", status="failed"))
        add_generation(session=s, generation=Generation(run_id=run.id, job_key="k", model_key="m", status="failed"))
        add_generation(session=s, generation=Generation(run_id=run.id, job_key="k", model_key="m", status="ok"))
        with pytest.raises(IntegrityError):
            add_generation(session=s, generation=Generation(run_id=run.id, job_key="k", model_key="m"))
        s.rollback()
        assert done_job_keys(session=s, keys=["k", "other"]) == {"k"}


def test_foreign_key_is_enforced(db):
    with session_scope(db) as s:
        with pytest.raises(IntegrityError):
            add_generation(session=s, generation=Generation(run_id=999, job_key="k", model_key="m"))


def test_filters_paging_and_delete(db):
    with session_scope(db) as s:
        r1 = add_run(session=s, run=Run())
        r2 = add_run(session=s, run=Run())
        for i in range(30):
            s.add(Generation(run_id=r1.id if i < 20 else r2.id, job_key=f"k{i}", model_key="sd21" if i % 2 else "sdxl",
                             prompt=f"a cat number {i}", status="failed" if i == 3 else "ok", image_path=f"/x/{i}.png"))
        s.commit()
        assert count_generations(session=s) == 30
        assert count_generations(session=s, model_keys=["sd21"]) == 15
        assert count_generations(session=s, status="failed") == 1
        assert count_generations(session=s, prompt_contains="number 1") == 11  # 1, 10-19
        assert count_generations(session=s, run_id=r2.id) == 10
        assert count_generations(session=s, since=utcnow() - timedelta(minutes=5)) == 30
        assert count_generations(session=s, until=utcnow() - timedelta(minutes=5)) == 0
        page = query_generations(session=s, limit=7, offset=7)
        assert [g.job_key for g in page] == [f"k{i}" for i in range(22, 15, -1)]
        paths = delete_run(session=s, run_id=r1.id)
        assert len(paths) == 20 and count_generations(session=s) == 10


WRITER = """
import sys
from core.store import Generation, Run, add_run, make_engine, session_scope
engine = make_engine(sys.argv[1])
with session_scope(engine) as s:
    run = add_run(session=s, run=Run(name=sys.argv[2]))
    for i in range(int(sys.argv[3])):
        s.add(Generation(run_id=run.id, job_key=f"{sys.argv[2]}-{i}", model_key="m"))
        s.commit()
"""


def test_two_processes_write_one_sqlite_store_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    make_engine(url).dispose()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, name, "300"], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("locked" in e for e in errors)
    with session_scope(make_engine(url)) as s:
        assert count_generations(session=s) == 600


def test_a_read_only_session_does_not_block_a_writer(db):
    """Dashboard queries open read_only sessions: a batch can commit while one is open."""
    import threading

    with session_scope(db) as s:
        run = add_run(session=s, run=Run())
    with session_scope(db, read_only=True) as reader:
        assert count_generations(session=reader) == 0  # a read transaction is now open
        errors = []

        def write():
            try:
                with session_scope(db) as w:
                    add_generation(session=w, generation=Generation(run_id=run.id, job_key="k", model_key="m"))
            except Exception as exc:  # pragma: no cover - what the test is looking for
                errors.append(exc)

        t = threading.Thread(target=write)
        t.start()
        t.join(timeout=5)
        assert not t.is_alive() and errors == []  # the writer did not wait for the reader
    with session_scope(db) as s:
        assert count_generations(session=s) == 1
