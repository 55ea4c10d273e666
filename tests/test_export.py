"""Export: CSV and Parquet round-trip the store's rows; History's filters apply; the summary is per configuration."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from core import export
from core.cli import export as export_cli
from core.store import Generation, Run, add_run, bulk_add_generations, session_scope


@pytest.fixture
def filled(db):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with session_scope(db) as s:
        gpu = add_run(session=s, run=Run(kind="bench", weights="pretrained", status="finished", gpu_name="NVIDIA H200"))
        old = add_run(session=s, run=Run(kind="bench", weights="tiny", status="finished", created_at=now - timedelta(days=9)))
        rows = []
        for i in range(12):
            size = 512 if i % 2 else 1024
            rows.append(dict(run_id=gpu.id, job_key=f"g{i}", model_key="sdxl" if i < 8 else "dall-e-3",
                             weights="pretrained" if i < 8 else "api", prompt=f"a teapot {i % 3}", seed=i % 3,
                             steps=20, width=size, height=size, status="failed" if i == 5 else "ok",
                             error="RuntimeError: boom" if i == 5 else None, total_s=1.0 + i, created_at=now,
                             first_call=i == 0, extra={"k": [1, 2]}, profile={"calls": {"unet": 20}},
                             api_params={} if i < 8 else {"quality": "hd"}, cost_usd=None if i < 8 else 0.08))
        rows.append(dict(run_id=old.id, job_key="o", model_key="sd21", weights="tiny", prompt="old", seed=0,
                         status="ok", total_s=0.1, created_at=now - timedelta(days=9), extra={}, profile={},
                         api_params={}))
        bulk_add_generations(session=s, rows=rows)
    return {"gpu": gpu.id, "old": old.id}


def _store_rows(db, *where):
    with session_scope(db) as s:
        stmt = select(Generation).where(*where).order_by(Generation.id)
        return [g.model_dump() for g in s.exec(stmt)]


def _normal(rows):
    out = []
    for row in rows:
        row = dict(row)
        row["created_at"] = row["created_at"].replace(tzinfo=timezone.utc) if row["created_at"].tzinfo is None \
            else row["created_at"]
        out.append(row)
    return out


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_generations_round_trip_equal_the_store_rows(db, db_url, filled, tmp_path, suffix):
    path = tmp_path / f"gens.{suffix}"
    assert export_cli.main(["generations", "--db", db_url, "--out", str(path)]) == 0
    assert _normal(export.read(path)) == _normal(_store_rows(db))


def test_generations_follow_the_history_filters(db, db_url, filled, tmp_path):
    path = tmp_path / "f.parquet"
    today = datetime.now(timezone.utc).date()
    export_cli.main(["generations", "--db", db_url, "--out", str(path), "--models", "sdxl", "--status", "ok",
                 "--prompt", "teapot 1", "--since", str(today), "--until", str(today), "--weights", "pretrained"])
    expected = _store_rows(db, Generation.model_key == "sdxl", Generation.status == "ok",
                           Generation.prompt.contains("teapot 1"))
    assert expected and _normal(export.read(path)) == _normal(expected)
    export_cli.main(["generations", "--db", db_url, "--out", str(path), "--run", str(filled["old"])])
    assert [r["model_key"] for r in export.read(path)] == ["sd21"]


def test_summary_is_p50_p90_per_configuration_with_the_gpu_hour_estimate(db, db_url, filled, tmp_path):
    path = tmp_path / "s.csv"
    assert export_cli.main(["summary", "--db", db_url, "--out", str(path), "--weights", "pretrained"]) == 0
    import pandas as pd

    table = pd.read_csv(path)
    assert list(table["config"]) == ["512×512 · 20 steps", "1024×1024 · 20 steps"]  # never pooled
    small = table[table["width"] == 512].iloc[0]
    times = [1.0 + i for i in (1, 3, 7)]  # i=5 failed; 512² rows of sdxl
    assert small["n"] == 3 and small["p50_s"] == pytest.approx(pd.Series(times).median())
    assert small["p90_s"] == pytest.approx(pd.Series(times).quantile(0.9))
    big = table[table["width"] == 1024].iloc[0]
    assert big["n"] == 3  # i = 0 is a first call: left out
    from core.pricing import GPU_HOUR_USD

    assert small["usd_estimate"] == pytest.approx(sum(times) / 3 * GPU_HOUR_USD["H200"] / 3600)


def test_bad_format_names_the_field(db_url, tmp_path, capsys):
    assert export_cli.main(["generations", "--db", db_url, "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export_cli.main(["generations", "--db", db_url, "--out", "x.csv", "--since", "yesterday"])
