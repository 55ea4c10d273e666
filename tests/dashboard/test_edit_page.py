"""The Edit page through Streamlit's AppTest: a History generation as the source, the four open editors (tiny
twins) side by side with the source, stored with task edit; History filters by task and shows the source."""
from __future__ import annotations

import pytest
from PIL import Image
from sqlmodel import select

from core.store import Generation, session_scope
from dashboard import batches

EDITORS = ["instruct-pix2pix", "flux-kontext-dev", "qwen-image-edit", "flux2-klein-4b"]


@pytest.fixture
def source_row(db, out_dir):
    """A stored text-to-image generation whose image (96x96, under the output folder) becomes the source."""
    from core.store import Run, add_run

    path = out_dir / "gen" / "apple.png"
    path.parent.mkdir(parents=True)
    Image.new("RGB", (96, 96), (200, 40, 40)).save(path)
    with session_scope(db) as s:
        run = add_run(session=s, run=Run(kind="generate", weights="tiny", status="finished", output_dir=str(path.parent)))
        row = Generation(run_id=run.id, job_key="k-apple", model_key="sd21", weights="tiny", prompt="a red apple",
                         seed=1, status="ok", image_path=str(path), width=96, height=96)
        s.add(row)
        s.commit()
        s.refresh(row)
        return row.id


def test_edit_a_history_image_with_the_four_editors(page, db, source_row):
    at = page("edit", timeout=240)
    at.session_state["edit_source_kind"] = "From History"
    at.session_state["edit_history_id"] = source_row
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="edit_weights").set_value("tiny").run()
    at.text_area(key="edit_instruction").set_value("make the apple green").run()
    at.multiselect(key="edit_open_models").set_value(EDITORS).run()
    at.button(key="edit_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    text = "\n".join(str(m.value) for m in at.markdown)
    assert "**Before** · source 96×96" in text
    assert all(f"**{key}**" in text for key in EDITORS), text
    with session_scope(db) as s:
        edits = s.exec(select(Generation).where(Generation.task == "edit")).all()
    assert sorted(r.model_key for r in edits) == sorted(EDITORS) and all(r.status == "ok" for r in edits)
    assert all(r.prompt == "make the apple green" and len(r.input_images) == 1 for r in edits)

    history = page("history")
    history.run()
    history.selectbox(key="hist_task").set_value("edit").run()
    assert not history.exception, [e.value for e in history.exception]
    assert "**4** generation(s) match" in "\n".join(str(m.value) for m in history.markdown)
    shown = int(history.selectbox(key="hist_detail").value)  # the newest edit's details, with Edit this
    assert any(b.key == f"edit_this_{shown}" for b in history.button)
    with session_scope(db) as s:
        kept = s.get(Generation, shown).input_images[0]["path"]
    assert Image.open(kept).size == (96, 96)  # the source's copy beside the output, which the details show


def test_an_edit_only_model_is_not_offered_on_generate(page):
    at = page("generate")
    at.run()
    options = at.multiselect(key="gen_open_models").options
    assert "flux2-klein-4b · " in " ".join(options) or any(o.startswith("flux2-klein-4b") for o in options)
    assert not any(o.startswith(("flux-kontext-dev", "qwen-image-edit", "instruct-pix2pix")) for o in options)


def test_benchmark_starts_an_edit_batch(page, db, tmp_path):
    """Task edit: the editors only, the edits from a JSONL, launched as `core.bench --task edit --inputs FILE`."""

    Image.new("RGB", (96, 96), (40, 40, 200)).save(tmp_path / "blue.png")
    edits = tmp_path / "edits.jsonl"
    edits.write_text('{"image": "blue.png", "instruction": "make it red"}\n')
    at = page("benchmark").run()
    at.radio(key="bench_weights").set_value("tiny").run()
    at.radio(key="bench_task").set_value("edit").run()
    assert sorted(at.multiselect(key="bench_models").value) == sorted(EDITORS)  # "all" follows the task
    assert not any(o.startswith(("sd21", "flux-dev")) for o in at.multiselect(key="bench_models").options)
    at.multiselect(key="bench_models").set_value(["instruct-pix2pix", "flux-kontext-dev"])
    at.text_input(key="bench_edits_path").input(str(edits)).run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="bench_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (name,) = at.session_state["bench_started"]
    proc = batches.launched_batches()[name]["process"]
    argv = batches.launched_batches()[name]["argv"]
    assert argv[argv.index("--task") + 1] == "edit" and argv[argv.index("--inputs") + 1] == str(edits)
    assert proc.wait(timeout=240) == 0
    with session_scope(db) as s:
        rows = s.exec(select(Generation).where(Generation.task == "edit")).all()
    assert sorted(r.model_key for r in rows) == ["flux-kontext-dev", "instruct-pix2pix"]
    assert all(r.status == "ok" and r.prompt == "make it red" for r in rows)
