"""Edit: one source image and an instruction through several editing models, before and after side by side, each
with its time, FLOPs, cost and scores. The source is a suite item (data/edits), an upload, or a History row's image
("Edit this" in a generation's details). Runs go through core.sweep.prepare as `--task edit` does on the CLI."""
from __future__ import annotations

import hashlib
import random
from pathlib import Path

import streamlit as st
from PIL import Image

from core.edits import EDITS_DIR, EditItemsError, load_edit_items
from core.errors import CaseStudyError
from core.jobs import EDIT, MAX_SEED
from core.loading import WEIGHTS
from core.registry import all_specs
from core.runner import Progress
from core.sweep import Prepared, Sweep, prepare
from dashboard import data, detail, formatting, model_facts, scores

GRID_COLUMNS = 3
SOURCES = ["Suite item", "Upload", "From History"]
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp"]

st.title("Edit")
st.caption("One source image and one instruction through several editing models: before and after side by side, "
           "with time, compute and cost. Every result is stored in History (task: edit).")


# ---- the source ---------------------------------------------------------------------------------------
def _suites() -> list[str]:
    return sorted(p.stem for p in EDITS_DIR.glob("*.jsonl")) if EDITS_DIR.is_dir() else []


def _save_upload(upload) -> str:
    """An uploaded file kept under the output folder by its hash (the same upload twice is one file)."""
    raw = upload.getvalue()
    digest = hashlib.sha256(raw).hexdigest()
    folder = Path(data.settings().output_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:16]}{Path(upload.name).suffix.lower() or '.png'}"
    if not path.exists():
        path.write_bytes(raw)
    return str(path)


def _from_suite() -> tuple[str | None, str]:
    suites = _suites()
    if not suites:
        st.info("No edit suite in data/edits yet: upload a source, or pick one from History.")
        return None, ""
    c_suite, c_item = st.columns([1, 3])
    suite = c_suite.selectbox("Suite", suites, key="edit_suite")
    try:
        items = load_edit_items(suite)
    except EditItemsError as exc:
        st.error(str(exc))
        return None, ""
    by_id = {item.id: item for item in items}
    chosen = c_item.selectbox("Item", list(by_id), key="edit_item",
                              format_func=lambda i: f"{i} · {by_id[i].category or 'edit'} · {by_id[i].instruction}")
    item = by_id[chosen]
    return item.image, item.instruction


def _from_upload() -> tuple[str | None, str]:
    upload = st.file_uploader("Source image", type=UPLOAD_TYPES, key="edit_upload",
                              help="kept under the output folder (uploads/), named by its sha256")
    return (_save_upload(upload), "") if upload is not None else (None, "")


def _from_history() -> tuple[str | None, str]:
    gen_id = st.number_input("Generation id", min_value=1, step=1, value=None, key="edit_history_id",
                             placeholder="a generation's id (History), or “Edit this” in its details")
    if not gen_id:
        return None, ""
    found = data.generation_detail(data.db_url(), int(gen_id))
    if found is None:
        st.warning(f"Generation {gen_id} is not in the store.")
        return None, ""
    path = data.image_file(found["generation"].get("image_path"))
    if not path:
        st.warning(f"Generation {gen_id} has no image here (failed, or its file is missing).")
        return None, ""
    return path, ""


st.session_state.setdefault("edit_source_kind", "Suite item")  # "Edit this" on a History row sets From History
kind = st.segmented_control("Source", SOURCES, key="edit_source_kind") or "Suite item"
c_source, c_preview = st.columns([3, 1])
with c_source:
    source, suggested = {"Suite item": _from_suite, "Upload": _from_upload, "From History": _from_history}[kind]()
with c_preview:
    if source:
        with Image.open(source) as im:
            size = im.size
        st.image(source, caption=f"source · {size[0]}×{size[1]}", width="stretch")

# The instruction follows the suite item until the user edits it.
if suggested and st.session_state.get("edit_suggested") != suggested:
    st.session_state["edit_instruction"] = suggested
    st.session_state["edit_suggested"] = suggested
instruction = st.text_area("Instruction", key="edit_instruction", height=80,
                           placeholder="What to change, e.g. make the red circle blue")

# ---- models and settings -------------------------------------------------------------------------------
weights = st.radio("Weights", WEIGHTS, index=WEIGHTS.index(model_facts.default_weights()), horizontal=True,
                   key="edit_weights", help="as on Generate: pretrained, random (full size, noise), tiny (CPU twins)")
open_specs = [s for s in all_specs("open") if EDIT in s.tasks]
api_specs = [s for s in all_specs("api") if EDIT in s.tasks]
labels = {s.key: model_facts.model_label(s, weights) for s in open_specs + api_specs}
c_open, c_api = st.columns([3, 2])
open_keys = c_open.multiselect("Open editing models", [s.key for s in open_specs], key="edit_open_models",
                               format_func=labels.get, placeholder="Choose editing models", wrap=True,
                               help="each with its authors' defaults; the output size follows the source")
api_keys = c_api.multiselect("API editing models", [s.key for s in api_specs], key="edit_api_models",
                             format_func=labels.get, wrap=True, disabled=not api_specs,
                             placeholder="Choose API models" if api_specs else "No API editing models")
with st.expander("What each editing model takes"):
    st.dataframe([{"model": s.key, "name": s.name, "source images": s.max_input_images,
                   "steps": s.steps, "guidance": s.guidance, "also generates": "text-to-image" in s.tasks,
                   "notes": s.notes} for s in open_specs + api_specs], hide_index=True, width="stretch")
c_seed_mode, c_seed, c_force = st.columns([1, 1, 2], vertical_alignment="bottom")
seed_mode = c_seed_mode.radio("Seed", ["random", "fixed"], horizontal=True, key="edit_seed_mode")
seed_value = c_seed.number_input("Seed value", min_value=0, max_value=MAX_SEED, value=0, step=1, key="edit_seed",
                                 disabled=seed_mode == "random")
force = c_force.toggle("Measure again", value=False, key="edit_force",
                       help="an edit already stored (same model, source, instruction, seed, settings) shows its "
                            "stored result; on: run and time it again as a new row")

selected = open_keys + api_keys
ready = bool(selected and source and instruction.strip())
c_go, c_hint = st.columns([1, 5], vertical_alignment="center")
clicked = c_go.button("Edit", type="primary", key="edit_go", disabled=not ready, width="stretch")
if not ready:
    c_hint.caption("Choose a source, write the instruction and pick at least one editing model.")


# ---- results -------------------------------------------------------------------------------------------
def _caption(row: dict) -> str:
    usd = row.get("cost_usd")
    parts = [f"**{row['model_key']}**", formatting.fmt_seconds(row.get("total_s")), formatting.fmt_flops(row.get("flops_total"))]
    if row.get("peak_mem_gb") is not None:
        parts.append(formatting.fmt_gb(row["peak_mem_gb"]))
    if usd is not None:
        parts.append(f"${usd:.3f}")
    extra = [f"{row['width']}×{row['height']}, {row.get('steps')} steps, seed {row.get('seed')}"] \
        if row.get("width") else []
    if row.get("first_call"):
        extra.append("first call (includes warm-up)")
    if row.get("stored"):
        extra.append(f"stored earlier (run {row['run_id']})")
    return " · ".join(parts) + ("  \n" + " · ".join(extra) if extra else "")


def _show(slot, row: dict, score: dict | None = None) -> None:
    with slot.container(border=True):
        if row.get("error"):
            st.markdown(f"**After · {row['model_key']}**")
            detail.show_error(st, row["error"])
            return
        st.image(row["image_path"], width="stretch")
        st.markdown(_caption(row))
        if score:
            st.caption("Scores: " + scores.score_line(score))


def _before(slot, path: str, text: str) -> None:
    with slot.container(border=True):
        with Image.open(path) as im:
            size = im.size
        st.image(path, width="stretch")
        st.markdown(f"**Before** · source {size[0]}×{size[1]}  \n“{text}”")


class LiveEdits(Progress):
    def __init__(self, slots: dict):
        self.slots, self.results = slots, []

    def model_start(self, key: str, jobs: int) -> None:
        if key in self.slots:
            self.slots[key].info(f"{key}: editing…")

    def job_done(self, job, outcome, rows) -> None:
        row = rows[0].model_dump()
        self.results.append(row)
        _show(self.slots[job.spec.key], row)


def _prepare(engine) -> list[Prepared]:
    seed = int(seed_value) if seed_mode == "fixed" else random.randint(0, MAX_SEED)
    common = dict(task=EDIT, inputs_file=source, prompts=(instruction.strip(),), seeds=(seed,), mode="dev",
                  force=force, device=engine.device)
    out = []
    for keys, mode in ((open_keys, weights), (api_keys, "pretrained")):
        if keys:
            out.append(prepare(Sweep(models=",".join(keys), weights=mode, **common), settings=data.settings(),
                               engine=engine))
    return out


def _run(engine, prepared: list[Prepared]) -> list[dict]:
    jobs = [j for p in prepared for j in p.jobs]
    cols = st.columns(GRID_COLUMNS)
    _before(cols[0].empty(), source, instruction.strip())
    slots = {j.spec.key: cols[(i + 1) % GRID_COLUMNS].empty() for i, j in enumerate(jobs)}
    stored = {} if force else {g.job_key: g.model_dump() for g in data.stored_generations([j.key for j in jobs])}
    found = scores.scores_for(data.db_url(), tuple(int(g["id"]) for g in stored.values()))
    for job in jobs:
        if job.key in stored:
            _show(slots[job.spec.key], {**stored[job.key], "stored": True}, found.get(stored[job.key]["id"]))
        else:
            slots[job.spec.key].info("Waiting…")
    live = LiveEdits(slots)
    todo = [j for j in jobs if j.key not in stored]
    try:
        if todo:
            prepared[0].runner(kind="generate").run(todo, progress=live)
    finally:
        data.clear_queries()
    return [{**stored[j.key], "stored": True} for j in jobs if j.key in stored] + live.results


if clicked:
    engine = data.dev_engine(weights)
    try:
        prepared = _prepare(engine)
    except CaseStudyError as exc:  # every bad field of every model (PlanError), or why the run cannot start
        detail.show_refusal(st, exc)
    else:
        st.subheader("Before and after")
        skipped = [f"{k} ({why})" for p in prepared for k, why in p.skipped_models.items()]
        if skipped:
            st.warning("Skipped: " + "; ".join(skipped))
        results = _run(engine, prepared)
        st.session_state["edit_results"] = {"source": source, "instruction": instruction.strip(), "rows": results}
        failed = sum(1 for r in results if r.get("error"))
        st.caption(f"{len(results) - failed} edit(s), {failed} failure(s); in History with task “edit”.")
elif st.session_state.get("edit_results"):
    last = st.session_state["edit_results"]
    st.subheader("Last edits")
    cols = st.columns(GRID_COLUMNS)
    if Path(last["source"]).is_file():
        _before(cols[0].empty(), last["source"], last["instruction"])
    found = scores.scores_for(data.db_url(), tuple(int(r["id"]) for r in last["rows"] if r.get("id") is not None))
    for i, row in enumerate(last["rows"]):
        _show(cols[(i + 1) % GRID_COLUMNS].empty(), row, found.get(int(row["id"])) if row.get("id") else None)
