"""History's grid, run annotations and shareable views through AppTest, and bugs 7 and 8 of issue 21."""
from __future__ import annotations

from sqlmodel import select

from core.store import Generation, Run, session_scope
from tests.backends import both_backends
from tests.dashboard.test_pages import _count, _no_exception, _texts


def _runs_table(at):
    return next(d.value for d in at.dataframe if "tags" in d.value.columns or "jobs_total" in d.value.columns)


# ---- bugs ------------------------------------------------------------------------------------------
def test_run_filter_keeps_any_run_after_an_interaction(page, seeded):
    """Bug 7: the Run filter showed "Choose an option" (no option selected) after any interaction."""
    at = page("history").run()
    assert at.selectbox(key="hist_run").index == 0
    at.text_input(key="hist_prompt").input("teapot").run()
    run = at.selectbox(key="hist_run")
    assert run.index == 0 and run.options[0] == "any run"
    assert "**4** generation(s)" in _count(at)
    at.selectbox(key="hist_run").set_value(seeded["bench"]).run()
    at.radio(key="hist_view").set_value("Runs").run()
    at.radio(key="hist_view").set_value("Generations").run()
    assert at.selectbox(key="hist_run").value == seeded["bench"] and "**4** generation(s)" in _count(at)


def test_a_run_without_a_name_is_never_called_none(page, seeded):
    """Bug 8: a run started from Generate (no name) read "None" in History → Runs."""
    at = page("history").run()
    at.radio(key="hist_view").set_value("Runs").run()
    _no_exception(at)
    names = dict(zip(_runs_table(at)["id"], _runs_table(at)["name"]))
    assert names[seeded["gen"]] == "generate · tiny weights" and names[seeded["bench"]] == "bench-one"
    assert all(isinstance(n, str) and n and n != "None" for n in names.values())
    labels = at.selectbox(key="hist_run_pick").options
    assert not any("None" in label for label in labels)


# ---- shareable views -------------------------------------------------------------------------------
@both_backends
def test_a_link_reopens_the_same_filters_run_and_row(page, seeded, db):
    with session_scope(db, read_only=True) as s:
        teapot = s.exec(select(Generation.id).where(
            Generation.run_id == seeded["bench"], Generation.model_key == "sd21", Generation.prompt.contains("teapot"),
            Generation.seed == 1)).one()
    at = page("history")
    params = {"hist_models": ["sd21"], "hist_prompt": "teapot", "hist_status": "ok", "run": str(seeded["bench"]),
              "row": str(teapot), "hist_page_size": "25"}
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    _no_exception(at)
    assert at.multiselect(key="hist_models").value == ["sd21"] and at.text_input(key="hist_prompt").value == "teapot"
    assert at.selectbox(key="hist_status").value == "ok" and at.selectbox(key="hist_run").value == seeded["bench"]
    assert at.selectbox(key="hist_page_size").value == 25
    assert "**2** generation(s)" in _count(at)
    assert at.selectbox(key="hist_detail").value == teapot  # the selected row
    assert at.subheader[0].value.startswith(f"Generation {teapot} ")
    # what the page writes back is the same view
    out = dict(at.query_params)
    assert out["run"] == str(seeded["bench"]) and out["row"] == str(teapot)
    # choosing another run puts it in the URL; "any run" takes it out
    at.selectbox(key="hist_run").set_value(seeded["gen"]).run()
    assert at.query_params["run"] == str(seeded["gen"])
    at.selectbox(key="hist_run").set_value(0).run()
    assert "run" not in at.query_params


def test_a_link_opens_the_runs_view_on_a_run(page, seeded):
    at = page("history")
    at.query_params["hist_view"] = "Runs"
    at.query_params["pick"] = str(seeded["old"])
    at.query_params["hist_run_kind"] = "bench"
    at.run()
    _no_exception(at)
    assert at.radio(key="hist_view").value == "Runs" and at.selectbox(key="hist_run_kind").value == "bench"
    assert at.selectbox(key="hist_run_pick").value == seeded["old"]
    assert set(_runs_table(at)["id"]) == {seeded["bench"], seeded["old"]}


def test_a_bad_id_in_a_link_is_left_out(page, seeded):
    at = page("history")
    at.query_params["run"] = "abc"
    at.run()
    _no_exception(at)
    assert at.selectbox(key="hist_run").value == 0 and "run" not in at.query_params


# ---- annotations -----------------------------------------------------------------------------------
@both_backends
def test_runs_are_renamed_annotated_and_filtered_by_tag(page, seeded, db):
    at = page("history").run()
    at.radio(key="hist_view").set_value("Runs").run()
    gen = seeded["gen"]
    at.selectbox(key="hist_run_pick").set_value(gen).run()
    at.text_input(key=f"hist_note_name_{gen}").input("cats at dusk")
    at.multiselect(key=f"hist_note_tags_{gen}").set_value(["baseline", "cpu"])
    at.text_area(key=f"hist_note_notes_{gen}").input("first look at the tiny twins")
    next(b for b in at.button if b.label == "Save").click().run()
    _no_exception(at)
    assert "Saved the name, notes and tags of run" in at.success[0].value
    with session_scope(db, read_only=True) as s:
        run = s.get(Run, gen)
        assert (run.name, run.tags, run.notes) == ("cats at dusk", ["baseline", "cpu"], "first look at the tiny twins")
    table = _runs_table(at)
    row = table[table["id"] == gen].iloc[0]
    assert row["name"] == "cats at dusk" and list(row["tags"]) == ["baseline", "cpu"]
    # filter the runs by tag
    at.selectbox(key="hist_run_tag").set_value("cpu").run()
    assert list(_runs_table(at)["id"]) == [gen] and "tagged **cpu**" in _texts(at)
    # a bad tag is refused with the field named, nothing saved
    at.multiselect(key=f"hist_note_tags_{gen}").set_value(["baseline", "two words"])
    next(b for b in at.button if b.label == "Save").click().run()
    assert "Not saved" in at.error[0].value and "tag: 'two words'" in at.error[0].value
    with session_scope(db, read_only=True) as s:
        assert s.get(Run, gen).tags == ["baseline", "cpu"]
    # the generations of tagged runs
    at.radio(key="hist_view").set_value("Generations").run()
    at.selectbox(key="hist_tag").set_value("baseline").run()
    _no_exception(at)
    assert "**2** generation(s)" in _count(at)


# ---- the grid --------------------------------------------------------------------------------------
@both_backends
def test_grid_pivots_a_run_opens_a_cell_large_and_walks_its_neighbours(page, seeded, db):
    at = page("history").run()
    at.radio(key="hist_view").set_value("Grid").run()
    _no_exception(at)
    assert at.multiselect(key="hist_grid_runs").value == [seeded["gen"]]  # the newest finished run with images
    assert len(at.get("image")) == 2
    at.multiselect(key="hist_grid_runs").set_value([seeded["bench"]]).run()
    _no_exception(at)
    # model across, prompt down, seed as pages: seed 0 has every image
    assert (at.selectbox(key="hist_grid_x").value, at.selectbox(key="hist_grid_y").value,
            at.selectbox(key="hist_grid_z").value) == ("model", "prompt", "seed")
    assert len(at.get("image")) == 6 and "3 prompt × 2 model × 2 seed pages" in _texts(at, "caption")
    assert at.query_params["grid_runs"] == str(seeded["bench"])
    at.selectbox(key="hist_grid_page_seed").set_value(1).run()
    assert len(at.get("image")) == 5 and "synthetic failure" in at.error[0].value
    cells = sorted(b.key for b in at.button if str(b.key).startswith("hist_grid_cell_"))
    assert len(cells) == 6 and any(b.label.endswith("ms") for b in at.button if b.key in cells)
    # a cell opens large with its details; its neighbour along the row is the other model
    at.button(key="hist_grid_cell_0_0").click().run()
    _no_exception(at)
    assert "**sd21** × **a red apple on a table** · seed 1" in _texts(at)
    details = next(d.value for d in at.dataframe if "field" in d.value.columns)
    assert {"time", "model", "prompt", "seed", "run", "generation"} <= set(details["field"])
    assert at.button(key="hist_grid_go_left").disabled and not at.button(key="hist_grid_go_right").disabled
    at.button(key="hist_grid_go_right").click().run()
    assert "**flux-dev** × **a red apple on a table**" in _texts(at)
    at.button(key="hist_grid_go_down").click().run()
    assert "**flux-dev** × **a lighthouse at dusk**" in _texts(at)
    assert at.download_button(key="hist_grid_png") is not None


def test_grid_axes_and_categories_from_a_link_and_first_calls_marked(page, seeded, db):
    with session_scope(db) as s:
        for g in s.exec(select(Generation).where(Generation.run_id == seeded["bench"])):
            g.category = "food" if "apple" in g.prompt or "teapot" in g.prompt else "places"
            g.first_call = g.prompt.startswith("a red apple") and g.seed == 0
            s.add(g)
        s.commit()
    at = page("history")
    for key, value in {"hist_view": "Grid", "grid_runs": str(seeded["bench"]), "hist_grid_x": "seed",
                       "hist_grid_y": "model", "hist_grid_z": "prompt", "hist_grid_categories": ["food"]}.items():
        at.query_params[key] = value
    at.run()
    _no_exception(at)
    assert at.multiselect(key="hist_grid_categories").value == ["food"]
    assert at.selectbox(key="hist_grid_page_prompt").options == ["a red apple on a table", "a teapot with blue flowers"]
    # seeds across, models down, the apple prompt: 4 images, the two seed-0 calls marked first calls
    assert len(at.get("image")) == 4 and "2 model × 2 seed × 2 prompt pages" in _texts(at, "caption")
    assert sum(":orange[first call]" in b.label for b in at.button) == 2
    # x = y is refused with a message, not a crash
    at.selectbox(key="hist_grid_y").set_value("seed").run()
    _no_exception(at)
    assert "must be different axes" in at.warning[0].value


def test_a_1024_px_window_reads_the_measurements_of_the_history_table(page, seeded):
    """Bug 9 (History): at 1024 px the table showed five columns (model, prompt, status, total s, denoise s).
    About 560 px of table sit beside the sidebar, less the row-selection column: every measurement a row has
    (time, memory, FLOPs, cost) must fall within it."""
    import json

    at = page("history").run()
    table = at.dataframe[0].proto
    widths = {name: c.get("width") for name, c in json.loads(table.columns).items()}
    used, seen = 32, []
    for column in table.column_order:
        width = widths.get(column)
        assert isinstance(width, int), f"{column} has no fixed width ({width!r}): it would take what it likes"
        used += width
        if used > 560:
            break
        seen.append(column)
    assert {"model_key", "status", "total_s", "denoise_s", "peak_mem_gb", "flops"} <= set(seen), seen
