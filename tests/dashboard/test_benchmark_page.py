"""Benchmark page: a double click on Start batch starts one batch; a finished batch keeps its result in view;
a failed or interrupted run says why."""
from __future__ import annotations

import pytest

from core.store import Run, add_run, bulk_add_generations, session_scope
from dashboard import batches


def _texts(at, kind: str) -> str:
    return "\n".join(e.value for e in getattr(at, kind))


def test_a_double_click_on_start_batch_starts_one_batch(page, db):

    at = page("benchmark").run()
    at.button(key="bench_none").click().run()
    at.multiselect(key="bench_models").set_value(["sd21"])
    at.radio(key="bench_weights").set_value("tiny")
    at.radio(key="bench_source").set_value("paste prompts").run()
    at.text_area(key="bench_pasted").input("a red cat")
    at.text_input(key="bench_label").input("double").run()
    before = {id(b["process"]) for b in batches.launched_batches().values()}
    at.button(key="bench_start").click().run()
    try:
        assert not at.exception
        assert at.button(key="bench_start").disabled  # off while the batch starts
        assert "`double` is starting" in _texts(at, "caption")
        # The second click of a double click can reach the server before the disabled button reaches the browser:
        # its trigger is sent anyway (AppTest's click() refuses a disabled button, so set the trigger itself); the
        # server takes no click of a button its last run drew disabled.
        second = at.button(key="bench_start")
        second._value = True  # noqa: SLF001
        at.run()
        assert not at.exception
        assert at.session_state["bench_started"] == ["double"]
    finally:
        started = [b["process"] for b in batches.launched_batches().values() if id(b["process"]) not in before]
        for proc in started:
            proc.kill()
            proc.wait(timeout=30)
    assert len(started) == 1


def test_a_finished_batch_keeps_its_result_in_view(page, seeded, db):
    from tests.dashboard.test_score_pages import _ok_ids, _score

    _score(db, {g: 20.0 + g % 3 for g in _ok_ids(db, seeded["bench"])})
    at = page("benchmark").run()
    assert not at.exception
    # each batch's result: p50/p90 and img/s per model × configuration (the newest one in view, an older one read
    # only when its toggle is on); bench-one ran sd21 at 0.5 s and flux-dev at 0.3 s per call
    tables = [d.value for d in at.dataframe if "p50 s" in d.value.columns]
    assert [set(t["model"]) for t in tables] == [{"sdxl"}]
    at.toggle(key=f"bench_result_{seeded['bench']}").set_value(True).run()
    tables = [d.value for d in at.dataframe if "p50 s" in d.value.columns]
    assert [set(t["model"]) for t in tables] == [{"sdxl"}, {"sd21", "flux-dev"}]
    table = tables[1]
    by_model = table.set_index("model")
    assert by_model.loc["sd21", "p50 s"] == 0.5 and by_model.loc["flux-dev", "img/s"] == pytest.approx(1 / 0.3)
    assert "p90 s" in table.columns
    clip = next(d.value for d in at.dataframe if "CLIPScore" in d.value.columns)
    assert set(clip["model"]) == {"sd21", "flux-dev"}
    assert "tiny scorer" in _texts(at, "caption")
    assert any(f"/history?run={seeded['bench']}" in m.value for m in at.markdown)
    assert any(t.label.startswith("Result: p50/p90") for t in at.toggle)


def test_a_failed_run_says_why(page, db, tmp_path):
    log = tmp_path / "batch.log"
    log.write_text("loading…\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
                   "sqlite3.IntegrityError: UNIQUE constraint failed: generation.job_key\n")
    with session_scope(db) as s:
        crashed = add_run(session=s, run=Run(kind="bench", weights="tiny", status="failed", name="crashed",
                                             params={"log": str(log)}))
        broken = add_run(session=s, run=Run(kind="bench", weights="tiny", status="failed", name="broken"))
        base = dict(run_id=broken.id, prompt="p", seed=0, steps=2, width=32, height=32, extra={}, profile={},
                    api_params={}, image_index=0, weights="tiny", status="failed")
        bulk_add_generations(session=s, rows=[
            {**base, "job_key": f"k{i}", "model_key": "sd21", "seed": i,
             "error": "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB"} for i in range(2)])
        crashed_id, broken_id = crashed.id, broken.id
    at = page("benchmark").run()
    assert not at.exception
    errors = _texts(at, "error")
    assert "UNIQUE constraint failed: generation.job_key" in errors  # from the log: no error rows
    assert "2 job(s): Out of GPU memory" in errors  # from the error rows, explained
    assert any("IntegrityError" in c.value for c in at.code)  # the log's tail, behind an expander
    assert crashed_id != broken_id
