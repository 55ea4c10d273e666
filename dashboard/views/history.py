"""History: every run and generation in the store, filtered and paged; a prompt x model image matrix for a
run; the full record of one generation; deleting a run with its files."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import data

st.title("History")
url = data.db_url()

VIEWS = ["Generations", "Runs", "Image matrix"]
STATUSES = ["any", "ok", "failed", "skipped"]
RUN_STATUSES = ["any", "running", "finished", "cancelled", "interrupted", "failed"]


def _run_label(runs: pd.DataFrame, run_id: int | None) -> str:
    if run_id is None:
        return "any run"
    row = runs.loc[runs["id"] == run_id]
    if row.empty:
        return f"run {run_id}"
    r = row.iloc[0]
    when = pd.Timestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M")
    name = r["name"] if isinstance(r["name"], str) and r["name"] else f"{r['weights']} weights"
    return f"run {run_id} · {r['kind']} · {name} · {when}"


# ---- filters -----------------------------------------------------------------------------------------
data.reconcile_runs()  # runs whose process is gone show as interrupted, not running
recent_runs = data.runs_frame(url, limit=200)
linked = st.query_params.get("run")  # ?run=N: a link from the Benchmark page
if linked and linked.isdigit() and st.session_state.get("hist_linked") != linked:
    st.session_state["hist_linked"] = linked
    st.session_state["hist_run"] = int(linked)
with st.container(border=True):
    c_model, c_prompt, c_status, c_run, c_dates = st.columns([2.5, 2.2, 1.1, 2.7, 2.9])
    models = c_model.multiselect("Models", data.model_keys(url), key="hist_models", placeholder="all models")
    prompt = c_prompt.text_input("Prompt contains", key="hist_prompt", placeholder="any prompt")
    status = c_status.selectbox("Status", STATUSES, key="hist_status")
    run_options = [None] + [int(i) for i in recent_runs["id"]]
    if st.session_state.get("hist_run") not in run_options:  # a run chosen elsewhere (deleted, or older)
        st.session_state["hist_run"] = None
    run_id = c_run.selectbox("Run", run_options, key="hist_run", format_func=lambda r: _run_label(recent_runs, r),
                             help="the 200 newest runs")
    dates = c_dates.date_input("Dates (UTC)", value=(), key="hist_dates", format="YYYY-MM-DD")
since = dates[0] if len(dates) >= 1 else None
until = dates[1] if len(dates) == 2 else since
filters = data.Filters(models=tuple(models), status=None if status == "any" else status,
                       prompt=prompt.strip() or None, run_id=run_id, since=since, until=until)

view = st.radio("View", VIEWS, horizontal=True, key="hist_view", label_visibility="collapsed")


# ---- one generation ----------------------------------------------------------------------------------
def _detail(generation_id: int) -> None:
    found = data.generation_detail(url, generation_id)
    if found is None:
        st.warning(f"Generation {generation_id} is not in the store (deleted?).")
        return
    g, run = found["generation"], found["run"] or {}
    st.subheader(f"Generation {g['id']} · {g['model_key']} · {g['status']}")
    left, right = st.columns([2, 3])
    with left:
        if g.get("image_path") and Path(g["image_path"]).is_file():
            st.image(g["image_path"], width="stretch")
        elif g.get("image_path"):
            st.warning(f"Image file missing: {g['image_path']}")
        else:
            st.caption("No image.")
        if g.get("error"):
            st.error(g["error"])
    with right:
        st.markdown(f"**Prompt:** {g['prompt']}")
        if g.get("negative_prompt"):
            st.markdown(f"**Negative prompt:** {g['negative_prompt']}")
        params = {
            "model": g["model_key"], "provider": g.get("provider") or "(open model)", "weights": g["weights"],
            "seed": g["seed"], "steps": g["steps"], "guidance": g["guidance"],
            "size": f"{g['width']}×{g['height']}" if g.get("width") else None, "image index": g["image_index"],
            "device": g["device"], "created (UTC)": str(g["created_at"])[:19].replace("T", " "), "run": g["run_id"], "job key": g["job_key"],
            "category": g.get("category"), "extra": g.get("extra") or None,
        }
        timing = {
            "load": g["load_s"], "whole call": g["total_s"], "text encoding": g["text_encode_s"],
            "denoising": g["denoise_s"], "VAE decode": g["decode_s"], "prior (Cascade)": g["prior_s"],
            "decoder (Cascade)": g["decoder_s"],
        }
        flop = lambda v: None if v is None else data.fmt_flops(v)  # noqa: E731
        compute = {
            "peak GPU memory": None if g["peak_mem_gb"] is None else f"{g['peak_mem_gb']:.2f} GB",
            "parameters": None if g["params_total"] is None else f"{g['params_total']:,}",
            "FLOPs text encoding": flop(g["flops_text_encode"]), "FLOPs denoising": flop(g["flops_denoise"]),
            "FLOPs decode": flop(g["flops_decode"]), "FLOPs total": flop(g["flops_total"]),
            "MACs total": None if g["macs_total"] is None else data.fmt_flops(g["macs_total"]).replace("FLOP", "MAC"),
            "achieved": None if g["tflops_per_s"] is None else f"{g['tflops_per_s']:.3g} TFLOP/s",
            "MFU": None if g["mfu"] is None else f"{g['mfu'] * 100:.1f} %",
            "first call after load": "yes (includes warm-up)" if g["first_call"] else "no",
        }
        c1, c2 = st.columns(2)
        c1.markdown("**Parameters**")
        _table(c1, _kv(params))
        c2.markdown("**Time**")
        _table(c2, _kv({k: data.fmt_seconds(v) for k, v in timing.items() if v is not None}))
        c2.markdown("**Memory and compute** (FLOPs = 2 × MACs)")
        _table(c2, _kv({k: v for k, v in compute.items() if v is not None}))
        if g.get("provider") or g.get("cost_usd") is not None:
            st.markdown("**API**")
            _table(st, _kv({"request id": g.get("request_id"), "cost (USD)": g.get("cost_usd")}))
            if g.get("api_params"):
                st.json(g["api_params"], expanded=False)
    with st.expander("Profile (per-component detail)"):
        st.json(g.get("profile") or {}, expanded=True)
    with st.expander(f"Run {g['run_id']}: environment and shared parameters"):
        st.json(run, expanded=False)


def _table(where, frame: pd.DataFrame) -> None:
    """A key/value table tall enough to show every row ("none recorded" when there is nothing)."""
    if frame.empty:
        where.caption("None recorded.")
        return
    where.dataframe(frame, hide_index=True, width="stretch", height=35 * (len(frame) + 1) + 3)


def _kv(values: dict) -> pd.DataFrame:
    def show(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    return pd.DataFrame({"field": list(values), "value": [show(v) for v in values.values()]})


# ---- generations -------------------------------------------------------------------------------------
def _generations() -> None:
    total = data.count_generations(url, filters)
    c_count, c_size, c_page = st.columns([4, 1, 1])
    size = c_size.selectbox("Rows per page", data.PAGE_SIZES, index=1, key="hist_page_size")
    pages = max(1, math.ceil(total / size))
    # The page number starts again at 1 whenever the filters or the page size change.
    page = c_page.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                               key=f"hist_page:{hash((filters, size))}")
    c_count.markdown(f"**{total:,}** generation(s) match")
    if total == 0:
        st.info("No generations match. Generate some on the Generate page, run a batch on Benchmark, "
                "or loosen the filters." if not data.model_keys(url) else "No generations match these filters.")
        return
    frame = data.generations_page(url, filters, int(size), (int(page) - 1) * int(size))
    table = frame.drop(columns=["image_path"]).assign(
        size=lambda f: f["width"].astype("Int64").astype(str) + "×" + f["height"].astype("Int64").astype(str),
        flops=lambda f: [None if pd.isna(v) else data.fmt_flops(v) for v in f["flops_total"]],
    ).drop(columns=["width", "height", "flops_total"])
    # Measurements no row of this page has (GPU memory on a CPU, cost of open models ...) are not shown.
    empty = [c for c in ("denoise_s", "peak_mem_gb", "flops", "cost_usd", "error") if table[c].isna().all()]
    order = ["id", "created_at", "run_id", "model_key", "status", "total_s", "denoise_s", "peak_mem_gb", "flops",
             "cost_usd", "size", "steps", "guidance", "seed", "prompt", "error"]
    event = st.dataframe(
        table, hide_index=True, width="stretch", key="hist_table", on_select="rerun", selection_mode="single-row",
        column_order=[c for c in order if c not in empty],
        column_config={
            "id": st.column_config.NumberColumn("id", format="%d"),
            "created_at": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "run_id": st.column_config.NumberColumn("run", format="%d"),
            "model_key": "model", "seed": st.column_config.NumberColumn("seed", format="%d", width=100),
            "prompt": st.column_config.TextColumn("prompt", width="large"),
            "total_s": st.column_config.NumberColumn("total s", format="%.3f"),
            "denoise_s": st.column_config.NumberColumn("denoise s", format="%.3f"),
            "peak_mem_gb": st.column_config.NumberColumn("peak GB", format="%.2f"),
            "flops": st.column_config.TextColumn("FLOPs", help="per call, FLOPs = 2 × MACs", width=95),
            "cost_usd": st.column_config.NumberColumn("USD", format="%.4f"),
        })
    st.caption("Select a row for its details.")
    ids = [int(i) for i in frame["id"]]
    selected_rows = getattr(getattr(event, "selection", None), "rows", None) or []
    picked = ids[selected_rows[0]] if selected_rows and selected_rows[0] < len(ids) else None
    if picked is not None and picked != st.session_state.get("hist_table_picked"):
        st.session_state["hist_detail"] = picked  # a new row was selected in the table
    st.session_state["hist_table_picked"] = picked
    if st.session_state.get("hist_detail") not in ids:
        st.session_state["hist_detail"] = ids[0]
    if st.toggle("Show the images of this page", key="hist_thumbs"):
        with_images = frame[frame["image_path"].notna()]
        cols = st.columns(6)
        for i, (_, row) in enumerate(with_images.iterrows()):
            cols[i % 6].image(row["image_path"], width="stretch",
                              caption=f"#{row['id']} · {row['model_key']} · {data.fmt_seconds(row['total_s'])}")
    st.divider()
    chosen = st.selectbox("Details of", ids, key="hist_detail",
                          format_func=lambda i: _option_label(frame, i))
    _detail(int(chosen))


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
        st.session_state["hist_run"] = None
    st.session_state["hist_message"] = (
        "success" if not problems else "warning",
        f"Deleted run {run_id} and {removed} image file(s)." + (" Not removed: " + "; ".join(problems) if problems else ""))


def _runs() -> None:
    c_kind, c_status, c_size, c_page = st.columns([1, 1, 1, 1])
    kind = c_kind.selectbox("Kind", ["any", "generate", "bench"], key="hist_run_kind")
    run_status = c_status.selectbox("Run status", RUN_STATUSES, key="hist_run_status")
    kind_arg = None if kind == "any" else kind
    status_arg = None if run_status == "any" else run_status
    total = data.count_runs(url, kind_arg, status_arg)
    size = c_size.selectbox("Runs per page", data.PAGE_SIZES, index=0, key="hist_runs_page_size")
    pages = max(1, math.ceil(total / size))
    page = c_page.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1,
                               key=f"hist_runs_page:{kind}:{run_status}:{size}")
    runs = data.runs_frame(url, limit=int(size), offset=(int(page) - 1) * int(size), kind=kind_arg, status=status_arg)
    st.markdown(f"**{total:,}** run(s)")
    if runs.empty:
        st.info("No runs yet: generate on the Generate page or start a batch on Benchmark.")
        return
    shown_runs = runs.drop(columns=["output_dir", "pid", "hostname"])
    shown_runs = shown_runs.drop(columns=[c for c in ("gpu_name", "finished_at", "name") if shown_runs[c].isna().all()])
    st.dataframe(shown_runs, hide_index=True, width="stretch",
                 column_config={
                     "name": st.column_config.TextColumn("name", width=170),
                     "id": st.column_config.NumberColumn("run", format="%d"),
                     "created_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                     "finished_at": st.column_config.DatetimeColumn("finished (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                     "jobs_total": st.column_config.NumberColumn("jobs"),
                     "gpu_name": "GPU"})
    ids = [int(i) for i in runs["id"]]
    if run_id in ids and st.session_state.get("hist_run_pick") not in ids:
        st.session_state["hist_run_pick"] = run_id
    chosen = st.selectbox("Run", ids, key="hist_run_pick", format_func=lambda r: _run_label(runs, r))
    row = runs.loc[runs["id"] == chosen].iloc[0]
    summary = data.run_summary(url, int(chosen))
    if not summary.empty:
        st.dataframe(data.summary_table(summary), hide_index=True, width="stretch")
    st.caption(f"Output folder: `{row['output_dir']}`")
    running = row["status"] == "running" and data.batch_process_alive(row["pid"])
    if st.session_state.get("hist_confirm_delete") == chosen:
        n = int(row["ok"] + row["failed"])
        st.warning(f"Delete run {chosen} with its {n} generation(s) and their image files? This cannot be undone.")
        c1, c2, _ = st.columns([1, 1, 4])
        c1.button("Yes, delete", type="primary", key="hist_delete_yes", on_click=_do_delete, args=(int(chosen),))
        c2.button("Keep it", key="hist_delete_no", on_click=lambda: st.session_state.pop("hist_confirm_delete", None))
    else:
        st.button(f"Delete run {chosen}…", key="hist_delete", on_click=_ask_delete, args=(int(chosen),),
                  disabled=bool(running), help="cancel the batch on the Benchmark page first" if running else None)


# ---- prompt x model matrix ---------------------------------------------------------------------------
def _matrix() -> None:
    if recent_runs.empty:
        st.info("No runs yet.")
        return
    ids = [int(i) for i in recent_runs["id"]]
    default = run_id if run_id in ids else ids[0]
    chosen = st.selectbox("Run", ids, index=ids.index(default), key=f"hist_matrix_run_{default}",
                          format_func=lambda r: _run_label(recent_runs, r))
    summary = data.run_summary(url, int(chosen))
    run_models = list(summary["model_key"]) if not summary.empty else []
    seeds = data.run_seeds(url, int(chosen))
    c_models, c_seed, c_page = st.columns([4, 1, 1])
    shown = c_models.multiselect("Models (columns)", run_models, default=run_models[:6], key=f"hist_matrix_models_{chosen}")
    seed = c_seed.selectbox("Seed", seeds or [None], key=f"hist_matrix_seed_{chosen}")
    per_page = 8
    _, n_prompts = data.run_prompts(url, int(chosen), 1, 0)
    pages = max(1, math.ceil(n_prompts / per_page))
    page = c_page.number_input(f"Prompts page (of {pages})", min_value=1, max_value=pages, value=1,
                               key=f"hist_matrix_page_{chosen}")
    prompts, _ = data.run_prompts(url, int(chosen), per_page, (int(page) - 1) * per_page)
    if not prompts or not shown:
        st.info("This run has no generations." if not prompts else "Choose models to show.")
        return
    cells = data.run_matrix(url, int(chosen), tuple(prompts), seed)
    st.caption(f"{n_prompts} prompt(s) × {len(run_models)} model(s) in run {chosen}; seed {seed}.")
    widths = [2] + [3] * max(len(shown), 5)  # at least 5 image columns: images stay thumbnail-sized
    header = st.columns(widths)
    header[0].markdown("**prompt**")
    for col, key in zip(header[1:], shown):
        col.markdown(f"**{key}**")
    for text in prompts:
        row = st.columns(widths, vertical_alignment="top")
        row[0].markdown(text)
        for col, key in zip(row[1:], shown):
            found = cells[(cells["prompt"] == text) & (cells["model_key"] == key)] if not cells.empty else cells
            if found.empty:
                col.caption("–")
                continue
            cell = found.iloc[0]
            if cell["status"] == "ok" and cell["image_path"] and Path(cell["image_path"]).is_file():
                col.image(cell["image_path"], width="stretch",
                          caption=f"#{cell['id']} · {data.fmt_seconds(cell['total_s'])}")
            elif cell["status"] == "ok":
                col.caption(f"#{cell['id']}: image file missing")
            else:
                error = str(cell["error"] or "").removeprefix("CaseStudyError: ")
                col.error(f"#{cell['id']} {cell['status']}: {error[:140]}{'…' if len(error) > 140 else ''}")


message = st.session_state.pop("hist_message", None)
if message:
    getattr(st, message[0])(message[1])
{"Generations": _generations, "Runs": _runs, "Image matrix": _matrix}[view]()
