"""History: every run and generation in the store, filtered and paged; runs annotated (name, notes, tags) and
filtered by tag; the X/Y/Z grid of images (dashboard.gallery); the full record of one generation; deleting a run
with its files; downloads of the filtered rows. Filters, the selected run and the selected row live in the URL
(widgets bind to query parameters; ids through dashboard.url_state), so a link reopens the same view."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.errors import RequestError
from core.explain import explain_error
from core.scoring.scorers import METRICS, SCORER_WEIGHTS
from dashboard import batches, data, detail, formatting, gallery, gallery_data, scores, url_state

st.title("History")
url = data.db_url()

VIEWS = ["Generations", "Runs", "Grid"]
ANY_RUN = 0  # the Run filter's "any run" (run ids start at 1): a None option shows as "Choose an option" once set
ANY = "any"
STATUSES = ["any", "ok", "failed", "skipped"]
RUN_STATUSES = ["any", "running", "finished", "cancelled", "interrupted", "failed"]
WEIGHTS = ["any", "pretrained", "random", "tiny", "api"]
TASK_FILTER = ["any", "text-to-image", "edit"]


def _run_label(runs: pd.DataFrame, run_id: int | None) -> str:
    if not run_id:
        return "any run"
    row = runs.loc[runs["id"] == run_id]
    if row.empty:
        return f"run {run_id}"
    r = row.iloc[0]
    when = pd.Timestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M")
    name = r["name"] if isinstance(r["name"], str) and r["name"] else r["label"]  # never "None"
    return f"run {run_id} · {r['kind']} · {name} · {when}"


def _ids(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _focused() -> None:
    """A generation opened from a link (`?gen=<id>`, the matrix cells), above the view."""
    gen = st.query_params.get("gen")
    if not gen:
        return
    if not str(gen).isdigit():
        st.warning(f"gen: {gen!r} is not a generation id.")
        return
    with st.container(border=True):
        detail.show_generation(url, int(gen))
        st.button("Close", key="hist_focus_close", on_click=lambda: st.query_params.pop("gen", None))


# ---- generations -------------------------------------------------------------------------------------
SORTS = {"newest first": None, **{f"{scores.METRIC_LABELS[m]}, highest first": (m, True) for m in METRICS},
         **{f"{scores.METRIC_LABELS[m]}, lowest first": (m, False) for m in METRICS}}


def _score_filters() -> tuple[dict, tuple[str, str, bool] | None]:
    """Filter by one metric's range and sort by a score (scores of one kind of scorer weights)."""
    stored = scores.scorer_weights_in_store(url)
    c_metric, c_scorer, c_min, c_max = st.columns([1.4, 1.2, 1, 1], vertical_alignment="bottom")
    metric = c_metric.selectbox("Score", ["any", *METRICS], key="hist_score_metric", bind="query-params",
                                format_func=lambda m: "any score" if m == "any" else scores.METRIC_LABELS[m],
                                help="only rows with this score within the range")
    options = [w for w in SCORER_WEIGHTS if w in stored] or ["pretrained"]
    scorer = c_scorer.selectbox("Scorer", options, key="hist_score_weights", bind="query-params",
                                format_func=lambda w: "tiny (noise)" if w == "tiny" else w,
                                help="scores of pretrained scorers, or of tiny ones (built in code: noise)")
    on = metric != "any"
    low = c_min.number_input("min", value=None, key="hist_score_min", disabled=not on, placeholder="any",
                             bind="query-params")
    high = c_max.number_input("max", value=None, key="hist_score_max", disabled=not on, placeholder="any",
                              bind="query-params")
    sort = st.session_state.get("hist_sort", "newest first")  # the widget sits beside Run
    chosen = dict(score_metric=metric, score_weights=scorer, score_min=low, score_max=high) if on else {}
    by = SORTS[sort]
    return chosen, (by[0], scorer, by[1]) if by else None


def _generation_filters(recent_runs: pd.DataFrame) -> tuple[data.Filters, tuple[str, str, bool] | None]:
    with st.container(border=True):
        # Two rows: every field stays readable in a 600 px main area (1024 px window with the sidebar open).
        c_model, c_prompt = st.columns(2)
        models = c_model.multiselect("Models", data.model_keys(url), key="hist_models", placeholder="all models",
                                     bind="query-params")
        prompt = c_prompt.text_input("Prompt contains", key="hist_prompt", placeholder="any prompt",
                                     bind="query-params")
        c_status, c_weights, c_task, c_dates = st.columns([1, 1.1, 1.1, 2])
        status = c_status.selectbox("Status", STATUSES, key="hist_status", bind="query-params")
        weights = c_weights.selectbox("Weights", WEIGHTS, key="hist_weights", bind="query-params")
        task = c_task.selectbox("Task", TASK_FILTER, key="hist_task", bind="query-params",
                                help="text-to-image, or edits of a source")
        dates = c_dates.date_input("Dates (UTC)", value=(), key="hist_dates", format="YYYY-MM-DD",
                                   bind="query-params")
        run_options = [ANY_RUN] + [int(i) for i in recent_runs["id"]]
        if st.session_state.get("hist_run") not in run_options:  # a run chosen elsewhere (deleted, or older)
            st.session_state["hist_run"] = ANY_RUN
        c_run, c_tag, c_sort = st.columns([2.2, 1, 1.3])
        run_id = c_run.selectbox("Run", run_options, key="hist_run", help="the 200 newest runs",
                                 format_func=lambda r: _run_label(recent_runs, r))
        tag = c_tag.selectbox("Run tag", [ANY, *gallery_data.run_tags(url)], key="hist_tag", bind="query-params",
                              help="only generations of runs carrying this tag (tag runs in the Runs view)")
        url_state.put("run", str(run_id) if run_id else None)
        c_sort.selectbox("Sort by", list(SORTS), key="hist_sort", help="a score sorts by the scorer chosen below",
                         bind="query-params")
        score_filter, sort = _score_filters()
    since = dates[0] if len(dates) >= 1 else None
    until = dates[1] if len(dates) == 2 else since
    return data.Filters(models=tuple(models), status=None if status == "any" else status,
                        prompt=prompt.strip() or None, run_id=run_id or None, since=since, until=until,
                        weights=None if weights == "any" else weights, tag=None if tag == ANY else tag,
                        task=None if task == "any" else task,
                        **score_filter), sort


def _downloads(filters: data.Filters, total: int) -> None:
    row = st.container(horizontal=True)
    for fmt, label in (("csv", "CSV"), ("parquet", "Parquet")):
        row.download_button(f"{label} ({total:,} rows)", data=lambda fmt=fmt: data.export_generations(url, filters, fmt),
                            file_name=f"generations.{fmt}", key=f"hist_download_{fmt}", on_click="ignore",
                            icon=":material/download:", help="every generation these filters match, every column "
                                                             "(same as `python -m core.bench export generations`)")


def _generations(recent_runs: pd.DataFrame) -> None:
    filters, sort = _generation_filters(recent_runs)
    total = data.count_generations(url, filters)
    c_count, c_size, c_page = st.columns([3, 1, 1], vertical_alignment="bottom")
    size = c_size.selectbox("Rows per page", data.PAGE_SIZES, index=1, key="hist_page_size", bind="query-params")
    pages = max(1, math.ceil(total / size))
    # The page number starts again at 1 whenever the filters or the page size change.
    page = c_page.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                               key=f"hist_page:{hash((filters, size, sort))}")
    c_count.markdown(f"**{total:,}** generation(s) match")
    if total == 0:
        st.info("No generations match. Generate some on the Generate page, run a batch on Benchmark, "
                "or loosen the filters." if not data.model_keys(url) else "No generations match these filters.")
        return
    _downloads(filters, total)
    frame = data.generations_page(url, filters, int(size), (int(page) - 1) * int(size), sort)
    frame = scores.with_score_columns(frame, scores.scores_for(url, tuple(int(i) for i in frame["id"])))
    table = frame.drop(columns=["image_path", "input_images"], errors="ignore").assign(
        setup=lambda f: [_setup(r) for r in
                         f[["width", "height", "steps", "guidance", "seed"]].itertuples(index=False)],
        flops=lambda f: [None if pd.isna(v) else formatting.fmt_flops(v) for v in f["flops_total"]],
        error=lambda f: [None if not isinstance(v, str) else explain_error(v)[0] for v in f["error"]],
        usd=lambda f: f["cost_usd"].fillna(f["cost_est_usd"]),
        priced=lambda f: ["list price" if pd.notna(c) else "estimate" if pd.notna(e) else None
                          for c, e in zip(f["cost_usd"], f["cost_est_usd"])],
        call=lambda f: ["first (warm-up)" if v else "steady" for v in f["first_call"].fillna(False).astype(bool)],
        recipe=lambda f: f["recipe"].fillna("eager"),
    ).drop(columns=["width", "height", "flops_total"])
    # Measurements no row of this page has (GPU memory on a CPU, cost of open models ...) are not shown.
    empty = [c for c in ("denoise_s", "peak_mem_gb", "flops", "usd", "priced", "error", *METRICS, "scorer", "compile_s",
                         "psnr_db", "ssim") if table[c].isna().all()]
    # The measurements first (model, status, time, memory, FLOPs, cost), in narrow columns: a 1024 px window
    # (about 560 px of table beside the sidebar) reads them all; the call (warm-up or steady), scores, recipe,
    # prompt and request follow (the selected row's details show its prompt in full).
    order = ["model_key", "task", "status", "total_s", "denoise_s", "peak_mem_gb", "flops", "usd", "call", *METRICS, "scorer",
             "recipe", "compile_s", "psnr_db", "ssim", "prompt", "setup", "priced", "error", "run_id", "id",
             "created_at"]
    event = st.dataframe(
        table, hide_index=True, width="stretch", key="hist_table", on_select="rerun", selection_mode="single-row",
        column_order=[c for c in order if c not in empty],
        column_config={
            "model_key": st.column_config.TextColumn("model", width=108),
            "task": st.column_config.TextColumn("task", width=62, help="text-to-image, or edit (its source shows "
                                                                         "above the image below and in the details)"),
            "prompt": st.column_config.TextColumn("prompt", width=170),
            "setup": st.column_config.TextColumn("size · steps · guidance · seed", width=180),
            "status": st.column_config.TextColumn("status", width=58),
            **{m: st.column_config.NumberColumn(scores.SHORT[m], format="%.2f", width=58,
                                                help=f"{scores.METRIC_LABELS[m]} (pretrained scorer preferred; "
                                                     "the scorer column says when a tiny one made it)")
               for m in METRICS},
            "scorer": st.column_config.TextColumn("scored by", width=85),
            "total_s": st.column_config.NumberColumn("total s", format="%.3f", width=60),
            "call": st.column_config.TextColumn("call", width=95, help="first call after load (warm-up, compile "
                                                                        "included) or steady state"),
            "recipe": st.column_config.TextColumn("recipe", width=85),
            "compile_s": st.column_config.NumberColumn("compile s", format="%.2f", width=70,
                                                       help="first call minus the steady median (compiled rows only)"),
            "psnr_db": st.column_config.NumberColumn("PSNR vs eager", format="%.1f", width=80),
            "ssim": st.column_config.NumberColumn("SSIM vs eager", format="%.4f", width=80),
            "denoise_s": st.column_config.NumberColumn("denoise s", format="%.3f", width=66),
            "usd": st.column_config.NumberColumn("USD/img", format="%.5f", width=74,
                                                 help="APIs: list price; open models: estimate from seconds × "
                                                      "USD per GPU-hour (IGCS_GPU_HOUR_USD)"),
            "priced": st.column_config.TextColumn("USD is", width=80),
            "peak_mem_gb": st.column_config.NumberColumn("peak GB", format="%.2f", width=58),
            "flops": st.column_config.TextColumn("FLOPs", help="per call, FLOPs = 2 × MACs", width=80),
            "error": st.column_config.TextColumn("error", width="medium"),
            "run_id": st.column_config.NumberColumn("run", format="%d", width=50),
            "id": st.column_config.NumberColumn("id", format="%d", width=60),
            "created_at": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        })
    st.caption("Select a row for its details.")
    ids = [int(i) for i in frame["id"]]
    selected_rows = getattr(getattr(event, "selection", None), "rows", None) or []
    picked = ids[selected_rows[0]] if selected_rows and selected_rows[0] < len(ids) else None
    if picked is not None and picked != st.session_state.get("hist_table_picked"):
        st.session_state["hist_detail"] = picked  # a new row was selected in the table
    st.session_state["hist_table_picked"] = picked
    url_state.take("row", "hist_detail", _ids)  # a link's selected row (when it is on this page)
    if st.session_state.get("hist_detail") not in ids:
        st.session_state["hist_detail"] = ids[0]
    if st.toggle("Show the images of this page", key="hist_thumbs"):
        with_images = frame[frame["image_path"].notna()]
        cols = st.columns(6)
        for i, (_, row) in enumerate(with_images.iterrows()):
            image = data.image_file(row["image_path"])
            caption = f"#{row['id']} · {row['model_key']} · {formatting.fmt_seconds(row['total_s'])}"
            cell = cols[i % 6]
            source = detail.source_thumbnail(row.get("input_images"))
            if source:  # an edit: its source above the result
                cell.image(source, width="stretch", caption=f"#{row['id']} source")
            if image:
                cell.image(image, width="stretch", caption=caption)
            else:
                cell.caption(f"{caption}: image missing or outside the output folder")
    st.divider()
    chosen = st.selectbox("Details of", ids, key="hist_detail", format_func=lambda i: _option_label(frame, i))
    url_state.put("row", str(chosen))
    detail.show_generation(url, int(chosen))


def _setup(row) -> str:
    """`32×32 · 4 steps · cfg 5 · seed 0`: the request of a row in one cell."""
    width, height, steps, guidance, seed = (None if pd.isna(v) else v for v in row)
    parts = [f"{int(width)}×{int(height)}" if width and height else None,
             f"{int(steps)} steps" if steps is not None else None,
             f"cfg {guidance:g}" if guidance is not None else None, f"seed {int(seed)}" if seed is not None else None]
    return " · ".join(p for p in parts if p)


def _option_label(frame: pd.DataFrame, generation_id: int) -> str:
    row = frame.loc[frame["id"] == generation_id].iloc[0]
    text = row["prompt"] if len(row["prompt"]) <= 60 else row["prompt"][:57] + "…"
    return f"#{generation_id} · {row['model_key']} · {row['status']} · {text}"


# ---- runs --------------------------------------------------------------------------------------------
def _ask_delete(run_id: int) -> None:
    st.session_state["hist_confirm_delete"] = run_id


def _do_delete(run_id: int) -> None:
    removed, problems = data.delete_run(run_id)
    st.session_state.pop("hist_confirm_delete", None)
    if st.session_state.get("hist_run") == run_id:
        st.session_state["hist_run"] = ANY_RUN
    st.session_state["hist_message"] = (
        "success" if not problems else "warning",
        f"Deleted run {run_id} and {removed} image file(s)." + (" Not removed: " + "; ".join(problems) if problems else ""))


def _save_notes(run_id: int) -> None:
    """The edit form's values → the store (core.run_notes checks them; a bad one is shown, nothing saved)."""
    state = st.session_state
    try:
        gallery_data.annotate_run(run_id, name=state.get(f"hist_note_name_{run_id}") or "",
                                  notes=state.get(f"hist_note_notes_{run_id}") or "",
                                  tags=state.get(f"hist_note_tags_{run_id}") or [])
    except (RequestError, LookupError) as exc:
        state["hist_message"] = ("error", f"Not saved: {exc}")
        return
    state["hist_message"] = ("success", f"Saved the name, notes and tags of run {run_id}.")


def _annotations(row: pd.Series) -> None:
    """Rename the run, edit its notes and tags (MLflow and W&B keep the same three)."""
    run_id = int(row["id"])
    with st.form(f"hist_notes_{run_id}", border=True):
        st.markdown(f"**Run {run_id}: name, tags and notes**")
        c_name, c_tags = st.columns([1, 1])
        c_name.text_input("Name", value=row["name"] if isinstance(row["name"], str) else "",
                          key=f"hist_note_name_{run_id}", placeholder=row["label"], max_chars=120)
        known = sorted(set(gallery_data.run_tags(url)) | set(row["tags"]))
        c_tags.multiselect("Tags", known, default=list(row["tags"]), key=f"hist_note_tags_{run_id}",
                           accept_new_options=True, placeholder="type a tag and press Enter",
                           help="letters, digits and - _ . : / + = (no spaces); filter runs and generations by tag")
        st.text_area("Notes", value=row["notes"] if isinstance(row["notes"], str) else "", height=90,
                     key=f"hist_note_notes_{run_id}", placeholder="what this run was for, what you saw")
        st.form_submit_button("Save", on_click=_save_notes, args=(run_id,), icon=":material/save:")


def _runs() -> None:
    c_kind, c_status, c_tag, c_size, c_page = st.columns([1, 1.1, 1.1, 1, 1])
    kind = c_kind.selectbox("Kind", ["any", "generate", "bench"], key="hist_run_kind", bind="query-params")
    run_status = c_status.selectbox("Run status", RUN_STATUSES, key="hist_run_status", bind="query-params")
    tag = c_tag.selectbox("Tag", [ANY, *gallery_data.run_tags(url)], key="hist_run_tag", bind="query-params")
    kind_arg = None if kind == "any" else kind
    status_arg = None if run_status == "any" else run_status
    tag_arg = None if tag == ANY else tag
    total = data.count_runs(url, kind_arg, status_arg, tag_arg)
    size = c_size.selectbox("Runs per page", data.PAGE_SIZES, index=0, key="hist_runs_page_size")
    pages = max(1, math.ceil(total / size))
    page = c_page.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1,
                               key=f"hist_runs_page:{kind}:{run_status}:{tag}:{size}")
    runs = data.runs_frame(url, limit=int(size), offset=(int(page) - 1) * int(size), kind=kind_arg,
                           status=status_arg, tag=tag_arg)
    st.markdown(f"**{total:,}** run(s)" + (f" tagged **{tag_arg}**" if tag_arg else ""))
    if runs.empty:
        st.info("No runs with this tag." if tag_arg else
                "No runs yet: generate on the Generate page or start a batch on Benchmark.")
        return
    # A run without a name (older Generate runs) shows what it was, never "None".
    shown_runs = runs.assign(name=runs["label"]).drop(columns=["output_dir", "pid", "hostname", "prompt", "label"])
    shown_runs = shown_runs.drop(columns=[c for c in ("gpu_name", "finished_at", "notes")
                                          if shown_runs[c].isna().all()])
    if not any(len(t) for t in shown_runs["tags"]):
        shown_runs = shown_runs.drop(columns="tags")
    order = ["id", "name", "tags", "status", "ok", "failed", "jobs_total", "models", "weights", "kind", "notes",
             "mode", "device", "gpu_name", "created_at", "finished_at"]
    st.dataframe(shown_runs, hide_index=True, width="stretch", column_order=[c for c in order if c in shown_runs],
                 column_config={
                     "name": st.column_config.TextColumn("name", width=140),
                     "tags": st.column_config.ListColumn("tags", width=100),
                     "notes": st.column_config.TextColumn("notes", width=150),
                     "id": st.column_config.NumberColumn("run", format="%d", width=45),
                     "models": st.column_config.TextColumn("models", width=130),
                     "ok": st.column_config.NumberColumn("ok", width=40),
                     "failed": st.column_config.NumberColumn("failed", width=50),
                     "status": st.column_config.TextColumn("status", width=70),
                     "weights": st.column_config.TextColumn("weights", width=70),
                     "kind": st.column_config.TextColumn("kind", width=70),
                     "created_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
                     "finished_at": st.column_config.DatetimeColumn("finished (UTC)", format="YYYY-MM-DD HH:mm"),
                     "jobs_total": st.column_config.NumberColumn("jobs", width=45),
                     "gpu_name": "GPU"})
    ids = [int(i) for i in runs["id"]]
    url_state.take("pick", "hist_run_pick", _ids)
    if st.session_state.get("hist_run_pick") not in ids:
        st.session_state["hist_run_pick"] = ids[0]
    chosen = st.selectbox("Run", ids, key="hist_run_pick", format_func=lambda r: _run_label(runs, r))
    url_state.put("pick", str(chosen))
    row = runs.loc[runs["id"] == chosen].iloc[0]
    _annotations(row)
    summary = data.run_summary(url, int(chosen))
    if not summary.empty:  # narrow numeric columns: a 1024 px window reads them all
        st.dataframe(data.summary_table(summary), hide_index=True, width="stretch", column_config={
            "model": st.column_config.TextColumn(width=140), "ok": st.column_config.NumberColumn(width=40),
            "failed": st.column_config.NumberColumn(width=48), "skipped": st.column_config.NumberColumn(width=55),
            "mean s/call": st.column_config.NumberColumn(format="%.3f", width=78),
            "mean denoise s": st.column_config.NumberColumn("denoise s", format="%.3f", width=70),
            "peak GB": st.column_config.NumberColumn(format="%.2f", width=62),
            "USD": st.column_config.NumberColumn(format="%.4f", width=62)})
    st.caption(f"Output folder: `{row['output_dir']}`")
    allowed, why = data.delete_allowed()
    running = row["status"] == "running" and batches.batch_process_alive(row["pid"])
    if not allowed:
        st.caption(f"Deleting runs is switched off here: {why}.")
    elif st.session_state.get("hist_confirm_delete") == chosen:
        n = int(row["ok"] + row["failed"])
        st.warning(f"Delete run {chosen} with its {n} generation(s), their image files and its batch log? "
                   "This cannot be undone.")
        c1, c2, _ = st.columns([1, 1, 4])
        c1.button("Yes, delete", type="primary", key="hist_delete_yes", on_click=_do_delete, args=(int(chosen),))
        c2.button("Keep it", key="hist_delete_no", on_click=lambda: st.session_state.pop("hist_confirm_delete", None))
    else:
        st.button(f"Delete run {chosen}…", key="hist_delete", on_click=_ask_delete, args=(int(chosen),),
                  disabled=bool(running), help="cancel the batch on the Benchmark page first" if running else None)


message = st.session_state.pop("hist_message", None)
if message:
    getattr(st, message[0])(message[1])
batches.reconcile_runs()  # runs whose process is gone show as interrupted, not running
# ?run=N (a link from the Benchmark page, or a shared History link) opens that run's rows.
url_state.take("run", "hist_run", _ids)
# Filters show only in the view they apply to; their values are kept while another view is open.
for key in ("hist_models", "hist_prompt", "hist_status", "hist_weights", "hist_tag", "hist_run", "hist_dates",
            "hist_grid_runs"):
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]
view = st.radio("View", VIEWS, horizontal=True, key="hist_view", label_visibility="collapsed", bind="query-params")
_focused()
recent = data.runs_frame(url, limit=200)
if view == "Generations":
    _generations(recent)
elif view == "Runs":
    _runs()
else:
    gallery.show(url, recent)
if view != "Grid":
    st.session_state.pop(gallery.OPEN, None)  # the grid's large view opens again only from a cell
