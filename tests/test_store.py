"""The store, on SQLite and on PostgreSQL: WAL and pragmas, job-key uniqueness, paging and filters, upserts,
read-only sessions, ids never reused, two writer processes at once."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.store import (AtlasEntry, DevicePeak, FlopCount, Generation, Run, add_generation, add_run,
                        count_generations, delete_run, done_job_keys, get_device_peak, get_flop_count,
                        list_atlas_entries, make_engine, put_atlas_entries, put_device_peak, put_flop_count,
                        query_generations, session_scope, utcnow)
from tests.backends import both_backends

REPO = Path(__file__).resolve().parent.parent


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(db):
    with db.connect() as con:
        assert con.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert con.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert con.execute(text("PRAGMA busy_timeout")).scalar() == 30000


@both_backends
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


@both_backends
def test_foreign_key_is_enforced(db):
    with session_scope(db) as s:
        with pytest.raises(IntegrityError):
            add_generation(session=s, generation=Generation(run_id=999, job_key="k", model_key="m"))


@both_backends
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
        assert count_generations(session=s, prompt_contains="A CAT Number 23") == 1  # any case, on both backends
        assert count_generations(session=s, prompt_contains="number_1") == 0  # _ and % are literal
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


@both_backends
def test_two_processes_write_one_store_at_once(db_url):
    url = db_url
    make_engine(url).dispose()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, name, "300"], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("locked" in e for e in errors)
    with session_scope(make_engine(url)) as s:
        assert count_generations(session=s) == 600


@both_backends
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


@both_backends
def test_run_and_generation_ids_are_never_reused_after_a_delete(db):
    with session_scope(db) as s:
        first = add_run(session=s, run=Run())
        newest = add_run(session=s, run=Run())
        g = add_generation(session=s, generation=Generation(run_id=newest.id, job_key="k", model_key="m"))
        delete_run(session=s, run_id=newest.id)
        again = add_run(session=s, run=Run())
        g2 = add_generation(session=s, generation=Generation(run_id=again.id, job_key="k", model_key="m"))
    assert first.id < newest.id < again.id
    assert g2.id > g.id


@both_backends
def test_upserts_insert_then_replace_by_key(db):
    with session_scope(db) as s:
        put_flop_count(session=s, count=FlopCount(key="a", model_key="m", component="unet", shapes="x", flops=2,
                                                  macs=1))
        put_flop_count(session=s, count=FlopCount(key="a", model_key="m", component="unet", shapes="x", flops=4,
                                                  macs=2))
        put_device_peak(session=s, peak=DevicePeak(name="gpu", peak_tflops=100.0))
        put_device_peak(session=s, peak=DevicePeak(name="gpu", peak_tflops=120.0))
        entries = [AtlasEntry(key=f"m{i}|64x64|2|0", model_key=f"m{i}", width=64, steps=2, detail={"i": i})
                   for i in range(3)]
        put_atlas_entries(session=s, entries=entries)
        put_atlas_entries(session=s, entries=[AtlasEntry(key="m0|64x64|2|0", model_key="m0", width=64, steps=2,
                                                         detail={"i": 9}, available=False, reason="gone"),
                                              AtlasEntry(key="m0|64x64|2|0", model_key="m0", width=64, steps=2,
                                                         detail={"i": 10})])  # the last of a key wins
    with session_scope(db, read_only=True) as s:
        assert get_flop_count(session=s, key="a").macs == 2
        assert get_device_peak(session=s, name="gpu").peak_tflops == 120.0
        atlas = {e.key: e for e in list_atlas_entries(session=s)}
        assert len(atlas) == 3 and atlas["m0|64x64|2|0"].detail == {"i": 10} and atlas["m0|64x64|2|0"].available
        assert atlas["m2|64x64|2|0"].detail == {"i": 2}


@both_backends
def test_datetimes_come_back_aware_utc_and_filter_by_date(db):
    from datetime import datetime, timezone

    when = datetime(2025, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 2 March 04:30 UTC
    with session_scope(db) as s:
        run = add_run(session=s, run=Run(created_at=when))
        add_generation(session=s, generation=Generation(run_id=run.id, job_key="k", model_key="m", created_at=when))
    with session_scope(db, read_only=True) as s:
        got = query_generations(session=s)[0].created_at
        assert got == when and got.utcoffset() == timedelta(0)
        day = datetime(2025, 3, 2, tzinfo=timezone.utc)
        assert count_generations(session=s, since=day, until=day + timedelta(days=1)) == 1
        assert count_generations(session=s, until=day) == 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_read_only_session_on_postgresql_refuses_writes(db):
    from sqlalchemy.exc import InternalError

    with session_scope(db, read_only=True) as s:
        with pytest.raises(InternalError, match="read-only transaction"):
            add_run(session=s, run=Run())
    with session_scope(db) as s:  # the pooled connection is writable again
        assert add_run(session=s, run=Run()).id is not None


@both_backends
def test_seeds_and_parameter_counts_hold_64_bit_values(db):
    with session_scope(db) as s:
        run = add_run(session=s, run=Run())
        add_generation(session=s, generation=Generation(run_id=run.id, job_key="k", model_key="m", seed=2**32 - 1,
                                                        params_total=16_900_000_000))
        put_atlas_entries(session=s, entries=[AtlasEntry(key="a", model_key="m", params_total=20_000_000_000,
                                                         params_denoise=12_000_000_000)])
    with session_scope(db, read_only=True) as s:
        g = query_generations(session=s)[0]
        assert (g.seed, g.params_total) == (2**32 - 1, 16_900_000_000)
        assert list_atlas_entries(session=s)[0].params_denoise == 12_000_000_000


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_database_password_never_reaches_the_store_the_outputs_or_the_summary(db_url, tmp_path, capsys):
    from sqlalchemy import MetaData

    from core.cli.bench import main

    url = db_url.replace("postgres@", "postgres:s3cret-pw@")  # the test server trusts local users: any password
    out = tmp_path / "out"
    assert main(["--models", "sd21", "--weights", "tiny", "--prompt", "a red cube", "--db", url, "--out", str(out),
                 "--no-progress"]) == 0
    assert "s3cret-pw" not in capsys.readouterr().out
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        stored = [str(tuple(row)) for table in meta.sorted_tables for row in conn.execute(table.select())]
    engine.dispose()
    assert any("--db" in row for row in stored)  # the command line is stored, with the password masked
    assert not any("s3cret-pw" in row for row in stored)
    assert not any("s3cret-pw" in f.read_text(errors="ignore") for f in out.rglob("*.json"))
