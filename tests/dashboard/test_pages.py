"""Every page through Streamlit's AppTest against a temporary store: renders without exception, the key
widgets are there, and the actions work (generate with tiny models, start and cancel a batch, filter,
open details, delete a run)."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import select

from core.store import Generation, Run, session_scope
from tests.backends import both_backends
from dashboard import batches


def _texts(at, kind: str = "markdown") -> str:
    return "\n".join(str(e.value) for e in getattr(at, kind))


def _no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _rows(db, *where):
    with session_scope(db) as s:
        return list(s.exec(select(Generation).where(*where))) if where else list(s.exec(select(Generation)))


# ---- router ----------------------------------------------------------------------------------------
def test_router_runs_every_page(db):
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60).run()
    _no_exception(at)
    assert at.title[0].value == "Generate"  # the default page
    for name, title in (("edit", "Edit"), ("benchmark", "Benchmark"), ("history", "History"), ("charts", "Charts"),
                        ("compare", "Compare")):
        at.switch_page(f"views/{name}.py").run()
        _no_exception(at)
        assert at.title[0].value == title


# ---- generate --------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_resident_models():
    """The dev-mode Engine is shared by the process (st.cache_resource): start and end each test empty."""
    from dashboard import data

    def empty():
        engine = data.current_dev_engine()
        if engine is not None:
            engine.unload_all()

    empty()
    yield
    empty()


def test_generate_page_widgets(page, db):
    at = page("generate").run()
    _no_exception(at)
    assert at.radio(key="gen_weights").value == "tiny"  # no GPU here
    open_models = at.multiselect(key="gen_open_models")
    assert "sd21" in open_models.options[0] or any(o.startswith("sd21 ·") for o in open_models.options)
    assert any("✓" in o for o in open_models.options)  # tiny weights are always available
    assert at.text_area(key="gen_prompt") and at.text_input(key="gen_negative")
    assert at.radio(key="gen_seed_mode").value == "random"
    assert at.button(key="gen_go").disabled  # no model chosen yet
    # the dev-mode panel: GPUs (none here), resident models, load and unload
    sidebar = _texts(at.sidebar, "markdown") + _texts(at.sidebar, "info")
    assert "Resident models" in sidebar and "No CUDA GPU visible" in sidebar
    assert at.sidebar.button(key="gen_load") and at.sidebar.button(key="gen_unload_all")


@both_backends
def test_generate_two_tiny_models_writes_rows_and_files(page, db):
    at = page("generate", timeout=180).run()
    at.multiselect(key="gen_open_models").set_value(["sd21", "flux-dev"]).run()
    _no_exception(at)
    # each model's defaults are prefilled (tiny twins: 32x32, 2 steps)
    assert at.number_input(key="gen:tiny:sd21:steps").value == 2
    assert at.number_input(key="gen:tiny:flux-dev:guidance").value == pytest.approx(3.5)
    at.text_area(key="gen_prompt").input("a red cat on a blue table")
    at.radio(key="gen_seed_mode").set_value("fixed").run()
    at.number_input(key="gen_seed").set_value(7)
    at.button(key="gen_go").click().run()
    _no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("image")) == 2
    captions = _texts(at)
    assert "**sd21**" in captions and "**flux-dev**" in captions and "seed 7" in captions
    rows = _rows(db)
    assert sorted(r.model_key for r in rows) == ["flux-dev", "sd21"]
    assert all(r.status == "ok" and r.seed == 7 and Path(r.image_path).is_file() for r in rows)
    with session_scope(db) as s:
        (run,) = s.exec(select(Run)).all()
    assert run.kind == "generate" and run.mode == "dev" and run.status == "finished" and run.weights == "tiny"
    # dev mode keeps them resident; the panel lists them and unloads them
    sidebar = _texts(at.sidebar)
    assert "`sd21`" in sidebar and "`flux-dev`" in sidebar
    at.sidebar.button(key="gen_unload_all").click().run()
    assert "None loaded." in _texts(at.sidebar, "caption")
    # the same request again shows the stored images (the runner skips stored job keys) ...
    at.button(key="gen_go").click().run()
    _no_exception(at)
    assert len(_rows(db)) == 2 and len(at.get("image")) == 2
    assert "already stored" in _texts(at, "caption")
    # ... and "Measure again" generates them anew as new rows
    at.toggle(key="gen_force").set_value(True).run()
    at.button(key="gen_go").click().run()
    _no_exception(at)
    assert len(_rows(db)) == 4


def test_generate_page_and_cli_store_the_same_job_keys(page, db, db_url, tmp_path):
    from core.cli.bench import main

    at = page("generate").run()
    at.multiselect(key="gen_open_models").set_value(["sd21", "flux-dev"]).run()
    at.text_area(key="gen_prompt").input("a red cube")
    at.radio(key="gen_seed_mode").set_value("fixed").run()
    at.number_input(key="gen_seed").set_value(3).run()
    at.button(key="gen_go").click().run()
    _no_exception(at)
    page_keys = sorted(r.job_key for r in _rows(db))
    cli_db = tmp_path / "cli.db"
    assert main(["--models", "sd21,flux-dev", "--weights", "tiny", "--prompt", "a red cube", "--seeds", "3",
                 "--db", str(cli_db), "--out", str(tmp_path / "cli-out"), "--no-progress"]) == 0
    import sqlite3

    with sqlite3.connect(cli_db) as con:
        cli_keys = sorted(k for (k,) in con.execute("SELECT job_key FROM generation"))
    assert len(page_keys) == 2 and page_keys == cli_keys


def test_generate_checks_requests_before_loading(page, db):
    at = page("generate").run()
    at.multiselect(key="gen_open_models").set_value(["sd21"]).run()
    at.button(key="gen_go").click().run()
    assert "prompt" in at.error[0].value  # empty prompt
    at.text_area(key="gen_prompt").input("a cat")
    at.selectbox(key="gen:tiny:sd21:size").set_value("custom").run()
    at.number_input(key="gen:tiny:sd21:w").set_value(33)
    at.button(key="gen_go").click().run()
    _no_exception(at)
    (error,) = at.error
    assert "sd21" in error.value and "width" in error.value and "multiples of 8" in error.value
    assert _rows(db) == []


def test_generate_dev_panel_loads_a_model(page, db):
    at = page("generate").run()
    at.sidebar.selectbox(key="gen_load_key").set_value("sd21")
    at.sidebar.button(key="gen_load").click().run()
    _no_exception(at)
    assert "sd21 loaded" in _texts(at.sidebar, "success")
    at.sidebar.button(key="gen_unload_sd21").click().run()
    assert "`sd21`" not in _texts(at.sidebar)


def test_a_tab_is_told_when_another_tab_unloads_the_shared_models(page, db):
    mine, other = page("generate").run(), page("generate").run()
    mine.sidebar.selectbox(key="gen_load_key").set_value("sd21")
    mine.sidebar.button(key="gen_load").click().run()
    assert "`sd21`" in _texts(mine.sidebar)
    other.run()
    assert "Another tab" not in _texts(other.sidebar, "info")
    other.sidebar.button(key="gen_unload_all").click().run()
    assert "Another tab" not in _texts(other.sidebar, "info")  # not told about its own action
    mine.run()
    _no_exception(mine)
    assert "Another tab unloaded sd21" in _texts(mine.sidebar, "info")
    mine.run()
    assert "Another tab" not in _texts(mine.sidebar, "info")  # told once


def test_generate_dev_panel_shows_each_gpu(page, db, monkeypatch):
    import core.environment

    monkeypatch.setattr(core.environment, "gpus", lambda: [
        {"index": 0, "name": "NVIDIA H100 80GB HBM3", "total_gb": 85.0, "free_gb": 60.0, "allocated_gb": 20.5},
        {"index": 1, "name": "NVIDIA H100 80GB HBM3", "total_gb": 85.0, "free_gb": 85.0, "allocated_gb": 0.0}])
    at = page("generate").run()
    _no_exception(at)
    assert "**GPUs** (2)" in _texts(at.sidebar)
    bars = [b.proto.text for b in at.sidebar.get("progress")]
    assert bars == ["cuda:0 NVIDIA H100 80GB HBM3: 25.0 / 85.0 GB used (20.5 GB by this process)",
                    "cuda:1 NVIDIA H100 80GB HBM3: 0.0 / 85.0 GB used (0.0 GB by this process)"]


def test_generate_api_model_without_a_key_is_skipped_before_anything_is_sent(page, db, monkeypatch):
    """The page goes through core.sweep.prepare as the CLI does: a model without its key is skipped, with the
    variables to set, and nothing is stored or sent."""
    from core.registry import all_specs

    api = all_specs("api")
    if not api:
        pytest.skip("no API models registered")
    for name in ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_ACCESS_TOKEN", "ARK_API_KEY",
                 "VOLC_ACCESSKEY", "KLING_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    spec = api[0]
    at = page("generate").run()
    assert any("✗ no key" in o for o in at.multiselect(key="gen_api_models").options)
    at.multiselect(key="gen_api_models").set_value([spec.key]).run()
    assert spec.key in at.warning[0].value  # not available here: said before anything runs
    at.text_area(key="gen_prompt").input("a cat")
    at.button(key="gen_go").click().run()
    _no_exception(at)
    assert _rows(db) == []
    assert any(spec.key in e.value and "nothing can run" in e.value for e in at.error)


def test_generate_refuses_tiny_twins_at_full_size_as_the_cli_does(page, db):
    at = page("generate").run()
    at.radio(key="gen_weights").set_value("tiny").run()
    at.multiselect(key="gen_open_models").set_value(["sd21"]).run()
    at.selectbox(key="gen:tiny:sd21:size").set_value("custom").run()
    at.number_input(key="gen:tiny:sd21:w").set_value(1024).run()
    at.number_input(key="gen:tiny:sd21:h").set_value(1024).run()
    at.text_area(key="gen_prompt").input("a cat")
    at.button(key="gen_go").click().run()
    _no_exception(at)
    assert _rows(db) == []
    assert any("--allow-slow" in e.value for e in at.error)


# ---- benchmark -------------------------------------------------------------------------------------
def test_benchmark_page_widgets(page, db):
    at = page("benchmark").run()
    _no_exception(at)
    models = at.multiselect(key="bench_models")
    assert "sd21" in models.value and len(models.value) >= 18  # every open model by default
    assert at.text_input(key="bench_seeds").value == "0"
    assert at.selectbox(key="bench_file").value in ("smoke.txt", "suite.jsonl")
    assert "No batch is running." in _texts(at, "caption")
    at.button(key="bench_none").click().run()
    assert at.multiselect(key="bench_models").value == []
    assert at.button(key="bench_start").disabled
    assert any("choose at least one model" in e.value for e in at.error)
    at.text_input(key="bench_seeds").input("0 x").run()
    assert any("seeds" in e.value for e in at.error)


def _wait(predicate, timeout: float = 90, step: float = 0.5):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


def test_benchmark_starts_a_detached_batch_watches_and_cancels_it(page, db):
    from dashboard import data

    at = page("benchmark").run()
    at.button(key="bench_none").click().run()
    at.multiselect(key="bench_models").set_value(["sd21"])
    at.radio(key="bench_source").set_value("paste prompts").run()
    at.text_area(key="bench_pasted").input("a red cat\na blue dog")
    at.text_input(key="bench_seeds").input(" ".join(str(i) for i in range(200)))
    at.text_input(key="bench_label").input("cancel me").run()
    assert "400" in _texts(at)
    at.button(key="bench_start").click().run()
    _no_exception(at)
    (name,) = at.session_state["bench_started"]
    assert name == "cancel me"  # kept as typed
    assert "cancel me" in at.session_state["bench_command"]  # the command stays visible
    proc = batches.launched_batches()[name]["process"]
    assert os.getpgid(proc.pid) != os.getpgid(0)  # its own session: the dashboard going away leaves it running
    try:
        run = _wait(lambda: data.find_run(name))
        assert run.jobs_total == 400 and run.status == "running" and run.pid == proc.pid
        # the store's URL travels in the environment, never on the command line (ps shows it)
        assert "--db" not in batches.launched_batches()[name]["argv"]
        # the batch records where its log is: deleting the run deletes the log too
        assert Path(run.params["log"]) == Path(batches.launched_batches()[name]["log"]).resolve()
        _wait(lambda: data.run_progress(run.id)[0].get("ok", 0) >= 2)
        at.run()  # progress and results arriving
        _no_exception(at)
        assert any(f"Run {run.id}" in m.value for m in at.markdown)
        assert at.button(key=f"bench_cancel_{run.id}")
        assert len(at.get("image")) >= 1
        at.button(key=f"bench_cancel_{run.id}").click().run()
        assert proc.wait(timeout=60) == 130  # the CLI's exit code after SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    counts, run = data.run_progress(run.id)
    assert run.status == "cancelled" and 0 < counts["ok"] < 400
    stored = counts["ok"]
    at.run()
    _no_exception(at)
    assert "No batch is running." in _texts(at, "caption")
    assert any(f"Run {run.id}" in m.value and "cancelled" in m.value for m in at.markdown)  # under recent batches
    # Resume runs the same command again: the stored jobs are skipped, the rest run
    at.button(key=f"bench_resume_{run.id}").click().run()
    _no_exception(at)
    resumed = batches.launched_batches()["cancel me"]["process"]
    try:
        second = _wait(lambda: (r := data.find_run("cancel me")) is not None and r.id != run.id and r)
        assert second.jobs_total == 400 - stored
    finally:
        resumed.kill()
        resumed.wait(timeout=30)


# ---- history ---------------------------------------------------------------------------------------
def _count(at) -> str:
    return next(m.value for m in at.markdown if "generation(s) match" in m.value)


@both_backends
def test_history_empty_store(page, db):
    at = page("history").run()
    _no_exception(at)
    assert "0** generation(s) match" in _count(at)
    assert "Generate" in at.info[0].value


@both_backends
def test_history_filters_pages_and_details(page, seeded):
    at = page("history").run()
    _no_exception(at)
    assert f"**{seeded['total']}** generation(s) match" in _count(at)
    assert len(at.dataframe[0].value) == 50  # one page
    at.multiselect(key="hist_models").set_value(["flux-dev"]).run()
    assert "**7** generation(s)" in _count(at)
    at.selectbox(key="hist_status").set_value("failed").run()
    assert "**1** generation(s)" in _count(at)
    # the detail view of the failure shows its error
    assert "Generation" in at.subheader[0].value and "failed" in at.subheader[0].value
    assert "synthetic failure" in at.error[0].value
    at.multiselect(key="hist_models").set_value([])
    at.selectbox(key="hist_status").set_value("any")
    at.text_input(key="hist_prompt").input("teapot").run()
    assert "**4** generation(s)" in _count(at)
    at.text_input(key="hist_prompt").input("").run()
    at.selectbox(key="hist_run").set_value(seeded["gen"]).run()
    assert "**2** generation(s)" in _count(at)
    at.selectbox(key="hist_run").set_value(0).run()  # any run
    today = datetime.now(timezone.utc).date()
    at.date_input(key="hist_dates").set_value((today - timedelta(days=41), today - timedelta(days=39))).run()
    _no_exception(at)
    assert "**50** generation(s)" in _count(at)
    # a detail view with parameters, times and compute
    at.date_input(key="hist_dates").set_value(()).run()
    at.selectbox(key="hist_run").set_value(seeded["bench"]).run()
    assert "**12** generation(s)" in _count(at)
    first_ok = next(o for o in at.selectbox(key="hist_detail").options if " ok " in o)
    at.selectbox(key="hist_detail").set_value(int(first_ok.split(" ")[0][1:])).run()
    _no_exception(at)
    assert len(at.get("image")) == 1
    tables = [t.value for t in at.dataframe]
    fields = set().union(*(set(t["field"]) for t in tables if "field" in t))
    assert {"model", "seed", "steps", "guidance", "size", "whole call", "FLOPs total"} <= fields
    # a second page
    at.selectbox(key="hist_run").set_value(0).run()  # any run
    page_input = next(w for w in at.number_input if str(w.key).startswith("hist_page:"))
    page_input.set_value(2).run()
    assert len(at.dataframe[0].value) == seeded["total"] - 50


@both_backends
def test_history_thumbnails(page, seeded):
    """The page's images under the table (the grid of a run: tests/dashboard/test_history_gallery.py)."""
    at = page("history").run()
    at.selectbox(key="hist_run").set_value(seeded["bench"]).run()
    at.toggle(key="hist_thumbs").set_value(True).run()
    _no_exception(at)
    assert len(at.get("image")) == 11  # every image of the run; the detail view opens on its newest row, the failure
    assert "synthetic failure" in at.error[0].value


def test_history_filters_show_only_in_their_view_and_are_kept(page, seeded):
    at = page("history").run()
    at.multiselect(key="hist_models").set_value(["flux-dev"]).run()
    assert "**7** generation(s)" in _count(at)
    at.radio(key="hist_view").set_value("Runs").run()
    _no_exception(at)
    keys = {w.key for w in at.multiselect} | {w.key for w in at.text_input} | {w.key for w in at.date_input}
    assert not keys & {"hist_models", "hist_prompt", "hist_dates"}
    at.radio(key="hist_view").set_value("Generations").run()
    assert at.multiselect(key="hist_models").value == ["flux-dev"] and "**7** generation(s)" in _count(at)
    at.multiselect(key="hist_models").set_value([]).run()
    at.selectbox(key="hist_weights").set_value("pretrained").run()
    assert "**50** generation(s)" in _count(at)  # the old run's sdxl rows


def test_history_link_opens_a_generation_with_readable_tables_and_one_line_errors(page, seeded, db):
    with session_scope(db) as s:
        failed = s.exec(select(Generation).where(Generation.status == "failed")).first()
        failed.error = ("OSError: Cannot find the requested files in the disk cache and outgoing traffic has been "
                        "disabled. To enable hub look-ups and downloads online, pass local_files_only=False, "
                        "see the stacktrace above")
        s.add(failed)
        s.commit()
        failed_id = failed.id
    at = page("history")
    at.query_params["gen"] = str(failed_id)
    at.run()
    _no_exception(at)
    assert at.subheader[0].value.startswith(f"Generation {failed_id}")
    line = at.error[0].value
    assert "not on this machine" in line and "local_files_only" not in line and "stacktrace" not in line
    full = [e for e in at.expander if e.label == "Full error text"]
    assert full and "local_files_only=False" in full[0].code[0].value
    # the profile and the run's environment are field/value tables, not JSON
    assert not at.json
    fields = set().union(*(set(t.value["field"]) for t in at.dataframe if "field" in t.value))
    assert "calls · unet" in fields and "kind" in fields and "params · models" in fields


def test_history_downloads_every_filtered_row_not_one_page(page, seeded):
    from core import export

    at = page("history").run()
    assert len(at.dataframe[0].value) == 50
    assert at.get("download_button")  # the buttons are there; their data is built on click
    from dashboard import data

    rows = data.export_generations(data.db_url(), data.Filters(), "parquet")
    import io

    import pandas as pd

    assert len(pd.read_parquet(io.BytesIO(rows))) == seeded["total"] > 50
    only = pd.read_csv(io.BytesIO(data.export_generations(data.db_url(), data.Filters(models=("sdxl",)), "csv")))
    assert set(only["model_key"]) == {"sdxl"} and len(only) == 50 and list(only.columns) == list(export.COLUMNS)


def _delete_bench(at, seeded):
    at.radio(key="hist_view").set_value("Runs").run()
    at.selectbox(key="hist_run_pick").set_value(seeded["bench"]).run()
    at.button(key="hist_delete").click().run()
    at.button(key="hist_delete_yes").click().run()


def test_history_delete_run_asks_then_removes_rows_files_and_batch_log(page, seeded, db, out_dir, monkeypatch):
    monkeypatch.setenv("IGCS_ALLOW_DELETE", "true")
    (out_dir / "batches").mkdir()
    log = out_dir / "batches" / "bench-one-a1b2c3.log"
    log.write_text("batch output")
    pasted = out_dir / "batches" / "bench-one-d4e5f6.txt"
    pasted.write_text("a red apple on a table\n")
    other_log = out_dir / "batches" / "bench-one-999999.log"  # another run of the same name
    other_log.write_text("keep")
    with session_scope(db) as s:  # what a dashboard batch records: its log and its command
        run = s.get(Run, seeded["bench"])
        run.params = {**run.params, "log": str(log),
                      "argv": ["-m", "core.bench", "--models", "sd21", "--prompts", str(pasted)]}
        s.add(run)
        s.commit()
    at = page("history").run()
    at.radio(key="hist_view").set_value("Runs").run()
    _no_exception(at)
    assert "**3** run(s)" in _texts(at)
    at.selectbox(key="hist_run_pick").set_value(seeded["bench"]).run()
    at.button(key="hist_delete").click().run()
    assert "cannot be undone" in at.warning[0].value and "12 generation(s)" in at.warning[0].value
    at.button(key="hist_delete_no").click().run()  # keep it
    assert not at.warning and len(_rows(db, Generation.run_id == seeded["bench"])) == 12
    at.button(key="hist_delete").click().run()
    at.button(key="hist_delete_yes").click().run()
    _no_exception(at)
    assert "Deleted run" in at.success[0].value and "11 image file(s)" in at.success[0].value
    assert _rows(db, Generation.run_id == seeded["bench"]) == []
    with session_scope(db) as s:
        assert s.get(Run, seeded["bench"]) is None
    bench_files = [f for f in seeded["files"] if "bench" in str(f)]
    assert bench_files and not any(f.exists() for f in bench_files)
    assert not (Path(bench_files[0]).parent).exists()  # the emptied run folder is gone too
    assert not log.exists() and not pasted.exists() and other_log.exists()  # its batch log too, nobody else's
    assert all(f.exists() for f in seeded["files"] if "bench" not in str(f))  # other runs untouched
    assert "**2** run(s)" in _texts(at)


def test_history_refuses_files_outside_the_output_folder(page, seeded, db, tmp_path, monkeypatch):
    monkeypatch.setenv("IGCS_ALLOW_DELETE", "true")
    precious = tmp_path / "precious.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(precious)
    with session_scope(db) as s:
        row = s.exec(select(Generation).where(Generation.run_id == seeded["bench"], Generation.status == "ok")).first()
        row.image_path = str(precious)
        s.add(row)
        s.commit()
        row_id = row.id
    at = page("history")
    at.query_params["gen"] = str(row_id)
    at.run()
    assert not at.get("image") or all("precious" not in str(i) for i in at.get("image"))
    assert "outside the output folder" in at.warning[0].value
    at = page("history").run()
    _delete_bench(at, seeded)
    assert precious.exists()
    assert "refused" in at.warning[0].value and str(precious) in at.warning[0].value


def test_history_delete_is_switched_off_where_not_allowed(page, seeded, db, monkeypatch):
    monkeypatch.setenv("IGCS_ALLOW_DELETE", "false")
    at = page("history").run()
    at.radio(key="hist_view").set_value("Runs").run()
    assert not [b for b in at.button if b.key == "hist_delete"]
    assert "switched off" in _texts(at, "caption")
    from dashboard import data

    assert data.delete_run(seeded["bench"])[0] == 0
    assert len(_rows(db, Generation.run_id == seeded["bench"])) == 12


def test_delete_defaults_to_allowed_only_on_localhost(monkeypatch):
    import streamlit as st

    from dashboard import data

    monkeypatch.delenv("IGCS_ALLOW_DELETE", raising=False)
    for address, allowed in (("localhost", True), ("127.0.0.1", True), ("0.0.0.0", False), ("", False)):
        monkeypatch.setattr(st, "get_option", lambda name, a=address: a if name == "server.address" else None)
        assert data.delete_allowed()[0] is allowed, address


# ---- charts ----------------------------------------------------------------------------------------
def _title(chart) -> str:
    import json

    from dashboard.chart_view import plain_text

    text = json.loads(chart.proto.spec)["layout"]["title"]["text"]
    return plain_text(text.split("</b>")[0])


def _section(at, name: str):
    """Open a section (tab) of the Charts page, as a click on it does."""
    at.session_state["charts_section"] = name
    at.run()
    _no_exception(at)
    return at


@both_backends
def test_charts_empty_store(page, db):
    at = page("charts").run()
    _no_exception(at)
    assert "Nothing to chart yet" in at.info[0].value
    assert "No compute atlas stored yet" in at.info[1].value


@both_backends
def test_charts_from_the_store(page, seeded):
    at = page("charts").run()
    _no_exception(at)
    assert at.selectbox(key="charts_weights").value == "pretrained"
    # one section at a time: Speed, then the others on their tab
    assert [_title(c) for c in at.get("plotly_chart")] == [
        "Latency per model and configuration", "Time per stage", "Latency against denoising steps",
        "Latency against resolution"]
    assert "50 successful generation(s)" in _texts(at, "caption")
    _section(at, "Memory and compute")
    assert len(at.get("plotly_chart")) == 3
    _section(at, "Cost")  # nothing priced: one line, not an empty frame
    assert not at.get("plotly_chart") and "Cost per image" in _texts(at, "info")
    at.selectbox(key="charts_weights").set_value("tiny").run()
    _no_exception(at)
    # first calls (the generate run) are counted and left out of the times, and the page says so
    assert "13 successful generation(s)" in _texts(at, "caption") and "2 first call(s)" in _texts(at, "caption")
    at.toggle(key="charts_log").set_value(True).run()
    _no_exception(at)
    at.multiselect(key="charts_sizes").set_value(["32×32"]).run()
    assert "13 successful generation(s)" in _texts(at, "caption")


def test_charts_take_weight_modes_from_ok_rows_only(page, db):
    from core.store import add_run, bulk_add_generations

    with session_scope(db) as s:
        run = add_run(session=s, run=Run(kind="bench", weights="tiny", status="finished"))
        base = dict(run_id=run.id, prompt="p", seed=0, steps=2, width=32, height=32, extra={}, profile={},
                    api_params={}, image_index=0)
        bulk_add_generations(session=s, rows=[
            {**base, "job_key": "t", "model_key": "sd21", "weights": "tiny", "status": "ok", "total_s": 0.2},
            {**base, "job_key": "p", "model_key": "sdxl", "weights": "pretrained", "status": "failed",
             "error": "OSError: not downloaded"},
            {**base, "job_key": "a", "model_key": "dall-e-3", "weights": "api", "status": "failed",
             "error": "ProviderError: no key"}])
    at = page("charts").run()
    _no_exception(at)
    assert at.selectbox(key="charts_weights").options == ["tiny"]
    assert at.selectbox(key="charts_weights").value == "tiny"
    assert "1 successful generation(s)" in _texts(at, "caption")


def test_charts_show_the_atlas_when_stored(page, db):
    from core.store import AtlasEntry, session_scope as scope

    with scope(db) as s:
        for key, w, steps, flops in (("sd21", 768, 50, 220.8e12), ("sdxl", 1024, 30, 416.3e12),
                                     ("sd21", 512, 50, 90e12)):
            s.add(AtlasEntry(key=f"{key}|{w}", model_key=key, width=w, height=w, steps=steps, available=True,
                             params_total=int(1e9), flops_denoise=flops * 0.97, flops_decode=flops * 0.03,
                             flops_per_image=flops))
        s.add(AtlasEntry(key="hidream-dev|1024", model_key="hidream-dev", width=1024, height=1024, steps=28,
                         available=False, reason="text_encoder config missing"))
        s.commit()
    at = page("charts").run()  # nothing generated: the page opens on the atlas
    _no_exception(at)
    options = at.selectbox(key="charts_atlas_config").options
    assert options[0] == "each model's default size and steps"
    assert len(at.get("plotly_chart")) == 1
    assert "hidream-dev" in _texts(at, "caption") and "text_encoder config missing" in _texts(at, "caption")
    at.selectbox(key="charts_atlas_config").set_value(next(o for o in options if o.startswith("512×512"))).run()
    _no_exception(at)
    assert len(at.dataframe[-1].value) == 1


# ---- login -----------------------------------------------------------------------------------------
def test_login_is_off_by_default_and_guards_every_page_when_on(db, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert at.title[0].value == "Generate" and not [b for b in at.button if b.key == "login"]
    monkeypatch.setenv("IGCS_REQUIRE_LOGIN", "true")
    from core.settings import get_settings

    get_settings.cache_clear()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert "no `[auth]` section" in at.error[0].value and not at.title  # no page without an OIDC provider
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x",
                          "client_id": "id", "client_secret": "s",
                          "server_metadata_url": "https://example.invalid/.well-known/openid-configuration"}
    at.run()
    _no_exception(at)
    import importlib.util

    if importlib.util.find_spec("authlib") is None:  # requirements-test.txt installs it
        assert "Authlib" in at.error[0].value and not at.title
        return
    assert [b for b in at.button if b.key == "login"] and "Log in" in at.info[0].value
    assert all(t.value != "Generate" for t in at.title)  # the page itself did not run


def test_charts_show_api_list_prices_beside_open_models(page, db):
    from core.store import add_run, bulk_add_generations

    with session_scope(db) as s:
        run = add_run(session=s, run=Run(kind="bench", weights="tiny", status="finished"))
        base = dict(run_id=run.id, prompt="p", seed=0, width=32, height=32, extra={}, profile={}, api_params={},
                    image_index=0, status="ok")
        bulk_add_generations(session=s, rows=[
            {**base, "job_key": "t", "model_key": "sd21", "weights": "tiny", "steps": 2, "total_s": 0.2},
            {**base, "job_key": "a1", "model_key": "dall-e-3", "weights": "api", "total_s": 8.0, "cost_usd": 0.04},
            {**base, "job_key": "a2", "model_key": "dall-e-3", "weights": "api", "total_s": 9.0, "cost_usd": 0.08}])
    at = page("charts").run()
    _no_exception(at)
    assert at.selectbox(key="charts_weights").value == "tiny"
    _section(at, "Cost")
    cost = next(c for c in at.get("plotly_chart") if "Cost per image" in c.proto.spec)
    assert "dall-e-3" in cost.proto.spec and "0.06" in cost.proto.spec  # the mean list price, per configuration


def test_charts_read_repeats_when_a_job_was_repeated(page, db):
    from core.store import add_run, bulk_add_generations

    with session_scope(db) as s:
        run = add_run(session=s, run=Run(kind="bench", weights="tiny", status="finished"))
        bulk_add_generations(session=s, rows=[
            dict(run_id=run.id, job_key=f"k{r}", model_key="sd21", weights="tiny", prompt="p", seed=0, steps=2,
                 width=32, height=32, status="ok", total_s=0.1 * (r + 1), repeat=r, extra={}, profile={},
                 api_params={}, image_index=0) for r in range(3)])
    at = page("charts").run()
    _no_exception(at)
    latency = next(c for c in at.get("plotly_chart") if "Latency per model" in c.proto.spec)
    assert "spread over repeats" in latency.proto.spec
    table = at.dataframe[0].value
    assert table["repeats"].tolist() == [3] and table["repeat_spread_s"].tolist() == [pytest.approx(0.2)]


@pytest.mark.slow
def test_benchmark_starts_a_ray_batch_and_cancel_stops_it(page, db):
    pytest.importorskip("ray")
    from dashboard import data

    at = page("benchmark").run()
    at.button(key="bench_none").click().run()
    at.multiselect(key="bench_models").set_value(["pixart-sigma"])
    at.radio(key="bench_weights").set_value("tiny")
    at.radio(key="bench_source").set_value("paste prompts").run()
    at.text_area(key="bench_pasted").input("a red cat")
    at.text_input(key="bench_seeds").input(" ".join(str(i) for i in range(300)))
    at.radio(key="bench_executor").set_value("ray").run()
    at.text_input(key="bench_ray_address").input("nohost").run()
    assert any("ray-address" in e.value for e in at.error) and at.button(key="bench_start").disabled
    at.text_input(key="bench_ray_address").input("").run()
    at.text_input(key="bench_label").input("on ray").run()
    at.button(key="bench_start").click().run()
    _no_exception(at)
    assert "--executor ray" in at.session_state["bench_command"]
    proc = batches.launched_batches()["on ray"]["process"]
    try:
        run = _wait(lambda: data.find_run("on ray"))
        _wait(lambda: data.run_progress(run.id)[0].get("ok", 0) >= 1)
        at.run()
        at.button(key=f"bench_cancel_{run.id}").click().run()
        assert proc.wait(timeout=90) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    counts, run = data.run_progress(run.id)
    assert run.status == "cancelled" and 0 < counts["ok"] < 300 and run.params["executor"]["name"] == "ray"


def test_generate_asks_the_providers_which_models_the_keys_can_use(page, db, monkeypatch):
    from core.settings import get_settings
    from tests.fakes.openai_fake import OpenAIFake

    with OpenAIFake() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        get_settings.cache_clear()
        at = page("generate").run()
        at.button(key="gen_key_models").click().run()
        _no_exception(at)
        table = next(t.value for t in at.dataframe if "on this key" in t.value)
        rows = table.set_index("model")
        assert rows.loc["gpt-image-2", "on this key"] == True  # noqa: E712 - a pandas cell
        assert rows.loc["gpt-image-2.6-flare", "on this key"] == False  # noqa: E712
        assert "no list-models call" in rows.loc["kling-v1", "note"]
        assert [r.path for r in fake.requests] == ["/v1/models"]
