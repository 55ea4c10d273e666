"""Benchmark: start a batch (`python -m core.bench`) in the background, watch it, cancel it."""
from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # opened by URL before the router ever ran
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import time
from datetime import datetime, timezone

import streamlit as st

from core.loading import WEIGHTS
from core.prompts import PROMPTS_DIR, load_prompts
from core.registry import all_specs
from dashboard import data

data.require_router()

REFRESH_S = 2
SIZE_CHOICES = ["each model's default", "512×512", "768×768", "1024×1024", "1024×768", "768×1024"]

st.title("Benchmark")
st.caption("Every chosen model over every prompt and seed, one model at a time (load → generate → unload), "
           "run by `python -m core.bench` in the background: closing this tab does not stop it. "
           "Jobs already stored are skipped, so a stopped batch resumes where it was.")


# ---- start -------------------------------------------------------------------------------------------
def _prompt_files() -> list[str]:
    return sorted(p.name for p in PROMPTS_DIR.glob("*") if p.suffix in (".txt", ".jsonl")) if PROMPTS_DIR.is_dir() else []


def _parse_seeds(text: str) -> list[int]:
    seeds = [int(tok) for tok in text.replace(",", " ").split()]
    if not seeds:
        raise ValueError("give at least one seed")
    return seeds


with st.container(border=True):
    st.subheader("New batch")
    c_w, c_name = st.columns([2, 1])
    weights = c_w.radio("Weights", WEIGHTS, index=WEIGHTS.index(data.default_weights()), horizontal=True,
                        key="bench_weights")
    label = c_name.text_input("Run name (optional)", key="bench_label", placeholder="e.g. sdxl-vs-flux")
    open_specs, api_specs = all_specs("open"), all_specs("api")
    labels = {s.key: data.model_label(s, weights) for s in open_specs + api_specs}
    default_api = [s.key for s in api_specs if data.weights_here(s.key, "api")[0]]
    everything = [s.key for s in open_specs] + default_api
    if "bench_models" not in st.session_state:
        st.session_state["bench_models"] = everything

    def _choose(keys: list[str]) -> None:
        st.session_state["bench_models"] = keys

    models = st.multiselect("Models", [s.key for s in open_specs + api_specs], key="bench_models",
                            format_func=labels.get,
                            help="all open models by default, and the API models whose key is set; "
                                 "key · default size · approximate VRAM · ✓ when available here")
    b1, b2, b3, _ = st.columns([1, 1, 1, 3])
    b1.button("All", key="bench_all", on_click=_choose, args=(everything,), width="stretch")
    b2.button("Available here", key="bench_available", width="stretch", on_click=_choose, args=(
        [k for k in everything if data.weights_here(k, "api" if k in default_api else weights)[0]],))
    b3.button("None", key="bench_none", on_click=_choose, args=([],), width="stretch")
    with st.expander("Model catalog: defaults, size, VRAM, licence, what is available here"):
        st.caption(data.catalog_note(weights))
        st.dataframe(data.model_catalog(weights), hide_index=True, width="stretch")

    source = st.radio("Prompts", ["prompt set", "paste prompts"], horizontal=True, key="bench_source")
    prompts_file, prompt_count, prompt_error = None, 0, None
    if source == "prompt set":
        files = _prompt_files()
        if files:
            chosen = st.selectbox("Prompt set (data/prompts/)", files, key="bench_file",
                                  index=files.index("smoke.txt") if "smoke.txt" in files else 0)
            prompts_file = str(PROMPTS_DIR / chosen)
            try:
                prompt_count = len(load_prompts(prompts_file))
            except (ValueError, FileNotFoundError) as exc:
                prompt_error = str(exc)
        else:
            st.info("No prompt sets in data/prompts/; paste prompts instead.")
    else:
        pasted = st.text_area("One prompt a line", key="bench_pasted", height=120)
        pasted_prompts = [line.strip() for line in pasted.splitlines() if line.strip()]
        prompt_count = len(pasted_prompts)

    c_seeds, c_steps, c_guidance, c_size = st.columns(4)
    seeds_text = c_seeds.text_input("Seeds", value="0", key="bench_seeds", help="space- or comma-separated")
    steps = c_steps.number_input("Steps", min_value=1, max_value=200, value=None, step=1, key="bench_steps",
                                 placeholder="each model's default")
    guidance = c_guidance.number_input("Guidance", min_value=0.0, max_value=30.0, value=None, step=0.5,
                                       key="bench_guidance", placeholder="each model's default")
    size_choice = c_size.selectbox("Size", SIZE_CHOICES, key="bench_size")
    negative = st.text_input("Negative prompt (for models that take one)", key="bench_negative")

    try:
        seeds = _parse_seeds(seeds_text)
        seed_error = None
    except ValueError:
        seeds, seed_error = [], f"seeds: {seeds_text!r} is not a list of integers (e.g. 0 1 2)"
    jobs = len(models) * prompt_count * len(seeds)
    st.markdown(f"**{len(models)}** model(s) × **{prompt_count}** prompt(s) × **{len(seeds)}** seed(s) = "
                f"**{jobs}** job(s); jobs already stored are skipped")
    problems = [p for p in (prompt_error, seed_error) if p]
    if not models:
        problems.append("models: choose at least one model")
    if prompt_count == 0 and not prompt_error:
        problems.append("prompts: give at least one prompt")
    for problem in problems:
        st.error(problem)
    start = st.button("Start batch", type="primary", key="bench_start", disabled=bool(problems))

if start and not problems:
    name = data.new_batch_name(label)
    if source == "paste prompts":
        prompts_file = data.write_prompt_file(pasted_prompts, name)
    size = None if size_choice == SIZE_CHOICES[0] else tuple(int(v) for v in size_choice.split("×"))
    argv = data.bench_argv(models=models, prompts_file=prompts_file, seeds=seeds, weights=weights, name=name,
                           steps=int(steps) if steps is not None else None,
                           guidance=float(guidance) if guidance is not None else None, size=size,
                           negative_prompt=negative.strip() or None)
    proc = data.start_batch(argv, name)
    st.session_state.setdefault("bench_started", []).append(name)
    st.session_state["bench_message"] = ("success", f"Started batch `{name}` (process {proc.pid}).", time.time())
    with st.expander("Command"):
        st.code(" ".join(argv[1:]), language="bash")


# ---- watch -------------------------------------------------------------------------------------------
def _elapsed(run) -> str:
    created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=timezone.utc)
    end = run.finished_at or datetime.now(timezone.utc)
    end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
    seconds = max(0.0, (end - created).total_seconds())
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _cancel(run_id: int) -> None:
    counts, run = data.run_progress(run_id)
    if run is None:
        return
    problem = data.cancel_batch(run)
    st.session_state["bench_message"] = ("error", problem, time.time()) if problem else \
        ("success", f"Sent SIGTERM to run {run_id} (process {run.pid}); it stops after the current image.", time.time())


def _mark(run_id: int, status: str) -> None:
    data.finish_run(run_id, status)
    st.session_state["bench_message"] = ("success", f"Run {run_id} marked {status}.", time.time())


def _run_card(run) -> None:
    counts, run = data.run_progress(run.id)
    done = sum(counts.values())
    ok, failed = counts.get("ok", 0), counts.get("failed", 0) + counts.get("skipped", 0)
    total = run.jobs_total or done
    alive = data.batch_process_alive(run.pid)
    with st.container(border=True):
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.markdown(f"**Run {run.id}** · `{run.name or run.kind}` · {run.weights} weights · {run.status} · "
                    f"{_elapsed(run)}" + ("" if alive or run.status != "running" else " · ⚠️ process not running"))
        if run.status == "running" and alive:
            c2.button("Cancel", key=f"bench_cancel_{run.id}", on_click=_cancel, args=(run.id,), width="stretch")
        elif run.status == "running":
            c2.button("Mark cancelled", key=f"bench_mark_{run.id}", on_click=_mark, args=(run.id, "cancelled"),
                      help="its process is gone (killed or crashed); record the run as cancelled", width="stretch")
        fraction = min(1.0, done / total) if total else 0.0
        st.progress(fraction, text=f"{done} / {total} jobs · {ok} ok · {failed} failed")
        summary = data.run_summary_live(run.id)
        if not summary.empty:
            st.dataframe(data.summary_table(summary), hide_index=True, width="stretch")
        latest = data.latest_generations(run.id, limit=6)
        latest = latest[latest["image_path"].notna()] if not latest.empty else latest
        if not latest.empty:
            cols = st.columns(6)
            for col, (_, row) in zip(cols, latest.iterrows()):
                col.image(row["image_path"], caption=f"{row['model_key']} · {data.fmt_seconds(row['total_s'])}",
                          width="stretch")


def _pending() -> list[str]:
    """Batches this session started whose run row is not there yet (starting, or exited early)."""
    out = []
    for name in st.session_state.get("bench_started", []):
        if data.find_run(name) is None:
            out.append(name)
    return out


def _pending_card(name: str) -> None:
    batch = data.launched_batches().get(name)
    if batch is None:
        return
    code = batch["process"].poll()
    with st.container(border=True):
        if code is None:
            st.markdown(f"**`{name}`** · starting (loading libraries, checking every request)…")
        else:
            tail = data.log_tail(batch["log"])
            if "nothing to do" in tail or code == 0:
                st.info(f"`{name}`: nothing to do, every job is stored already.")
            else:
                st.error(f"`{name}` exited with code {code} before it started:")
            if tail:
                st.code(tail, language="text")


def _watch() -> None:
    message = st.session_state.get("bench_message")
    if message and time.time() - message[2] < 30:  # kept for a while: the page redraws when a batch ends
        (st.success if message[0] == "success" else st.error)(message[1])
    active = data.running_runs()
    pending = _pending()
    st.subheader("Running")
    if not active and not pending:
        st.caption("No batch is running.")
    for name in pending:
        _pending_card(name)
    for run in active:
        _run_card(run)
    # When a batch ends (or a new one appears), redraw the whole page: the list below and the refresh rate.
    now = (tuple(r.id for r in active), tuple(pending))
    before = st.session_state.get("bench_watching")
    st.session_state["bench_watching"] = now
    if before is not None and before != now:
        data.clear_queries()
        st.rerun()


live = bool(data.running_runs() or _pending())
st.fragment(_watch, run_every=REFRESH_S if live else None)()

# ---- recent ------------------------------------------------------------------------------------------
st.subheader("Recent batches")
recent = data.runs_frame(data.db_url(), limit=10, kind="bench")
recent = recent[recent["status"] != "running"] if not recent.empty else recent
if recent.empty:
    st.caption("No finished batch yet.")
else:
    st.dataframe(recent[["id", "created_at", "name", "status", "weights", "models", "ok", "failed", "jobs_total",
                         "device"]],
                 hide_index=True, width="stretch",
                 column_config={"created_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                                "jobs_total": st.column_config.NumberColumn("jobs")})
    st.caption("Open a run in History for its images, prompt × model matrix and details.")
if st.button("Refresh", key="bench_refresh"):
    data.clear_queries()
    st.rerun()
