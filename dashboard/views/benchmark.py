"""Benchmark: start a batch (`python -m core.bench`) in the background, watch it, cancel it; a finished batch
keeps its result in view (p50/p90 and images per second per configuration, scores), a failed one its reason."""
from __future__ import annotations

import shlex
import time
from datetime import datetime, timezone

import streamlit as st

from core.edits import EDITS_DIR, load_edit_items
from core.errors import CaseStudyError
from core.executors.base import EXECUTORS
from core.jobs import EDIT, TASKS
from core.loading import WEIGHTS
from core.prompts import PROMPTS_DIR, load_prompts
from core.recipes import RECIPES
from core.registry import all_specs
from core.scoring.scorers import METRICS, SCORER_WEIGHTS
from core.sweep import Sweep
from dashboard import batch_report, batches, data, formatting, model_facts
from dashboard.catalog_view import show_catalog
from dashboard.chart_scores import METRIC_LABELS

REFRESH_S = 2
LAUNCH_GUARD_S = 10  # Start batch stays off this long after a start, and until the batch's run row exists
SIZE_CHOICES = ["default", "512×512", "768×768", "1024×1024", "1024×768", "768×1024"]

st.title("Benchmark")
st.caption("Every chosen model over every prompt and seed, one model at a time (load → generate → unload), "
           "run by `python -m core.bench` in the background: closing this tab does not stop it. "
           "Jobs already stored are skipped, so a stopped batch resumes where it was.")


# ---- start -------------------------------------------------------------------------------------------
def _launching() -> list[str]:
    """Batches this session started that are still starting: the process alive and no run row yet, or started
    less than LAUNCH_GUARD_S ago (a second click then would race the first batch for the same jobs)."""
    out = []
    for name in st.session_state.get("bench_started", []):
        batch = batches.launched_batches().get(name)
        if batch is None or batch["process"].poll() is not None:
            continue
        if time.time() - batch["started"] < LAUNCH_GUARD_S or data.find_run(name) is None:
            out.append(name)
    return out


def _start(sweep) -> None:
    """Start batch's on_click: runs once per click before the page draws; a click while a batch started here is
    still starting (a double click) starts nothing."""
    if sweep is None:
        return
    starting = _launching()
    if starting:
        st.session_state["bench_message"] = ("error", f"`{starting[0]}` is still starting; nothing else was "
                                             "started.", time.time())
        return
    proc = batches.start_batch(sweep)
    st.session_state.setdefault("bench_started", []).append(sweep.name)
    st.session_state["bench_message"] = ("success", f"Started batch `{sweep.name}` (process {proc.pid}).", time.time())
    st.session_state["bench_command"] = " ".join(shlex.quote(a) for a in ["python", *sweep.argv()[1:]])


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
    weights = c_w.radio("Weights", WEIGHTS, index=WEIGHTS.index(model_facts.default_weights()), horizontal=True,
                        key="bench_weights")
    label = c_name.text_input("Run name (optional)", key="bench_label", placeholder="e.g. sdxl-vs-flux")
    task = st.radio("Task", TASKS, horizontal=True, key="bench_task",
                    help="text-to-image: prompts; edit: pairs of a source image and an instruction (an edit suite in "
                         "data/edits, or a JSONL / folder on this machine), the models that edit")
    open_specs = [s for s in all_specs("open") if task in s.tasks]
    api_specs = [s for s in all_specs("api") if task in s.tasks]
    labels = {s.key: model_facts.model_label(s, weights) for s in open_specs + api_specs}
    default_api = [s.key for s in api_specs if model_facts.weights_here(s.key, "api")[0]]
    everything = [s.key for s in open_specs] + default_api
    if st.session_state.get("bench_models_task") != task:  # the model list follows the task
        st.session_state["bench_models"] = everything
        st.session_state["bench_models_task"] = task

    def _choose(keys: list[str]) -> None:
        st.session_state["bench_models"] = keys

    # Chips show the key, and ✗ when it cannot run here (all 18 fit the field at 1024 px without scrolling); size,
    # VRAM and licence are in the catalog.
    short = {key: key + (" ✗" if label.endswith(("✗ no key", "✗ no weights")) else "") for key, label in labels.items()}
    # Streamlit caps a wrapping multiselect at five rows and scrolls the rest: this one grows to show every chip.
    st.html("<style>.st-key-bench_models div {max-height: none !important;}</style>")
    models = st.multiselect("Models", [s.key for s in open_specs + api_specs], key="bench_models", filter_mode="prefix",
                            format_func=short.get, wrap=True,
                            help="all open models by default, and the API models whose key is set; "
                                 "✗ when not available here (size, VRAM and licence in the model catalog below)")
    b1, b2, b3, _ = st.columns([1, 1.8, 1, 2.2])
    b1.button("All", key="bench_all", on_click=_choose, args=(everything,), width="stretch")
    b2.button("Available here", key="bench_available", width="stretch", on_click=_choose, args=(
        [k for k in everything if model_facts.weights_here(k, "api" if k in default_api else weights)[0]],))
    b3.button("None", key="bench_none", on_click=_choose, args=([],), width="stretch")
    with st.expander("Model catalog: defaults, size, VRAM, licence, what is available here"):
        show_catalog(weights)

    source = st.radio("Prompts", ["prompt set", "paste prompts"], horizontal=True, key="bench_source",
                      disabled=task == EDIT)
    prompts_file, prompt_count, prompt_error, pasted_prompts, inputs_file = None, 0, None, [], None
    if task == EDIT:
        suites = sorted(p.stem for p in EDITS_DIR.glob("*.jsonl")) if EDITS_DIR.is_dir() else []
        c_suite, c_path = st.columns([1, 2])
        suite = c_suite.selectbox("Edit suite (data/edits/)", suites or ["(none shipped)"], key="bench_suite",
                                  disabled=not suites)
        path = c_path.text_input("or a JSONL / folder of edits", key="bench_edits_path",
                                 placeholder="path on this machine: {image, instruction} per line, or a folder "
                                             "with instructions.jsonl/.txt")
        inputs_file = path.strip() or (suite if suites else None)
        if inputs_file:
            try:
                prompt_count = len(load_edit_items(inputs_file))
            except CaseStudyError as exc:
                prompt_error = str(exc)
        st.caption(f"{prompt_count} edit(s)" if prompt_count else "Choose edits to run.")
    elif source == "prompt set":
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
                                 placeholder="auto", help="empty: each model's own default")
    guidance = c_guidance.number_input("Guidance", min_value=0.0, max_value=30.0, value=None, step=0.5,
                                       key="bench_guidance", placeholder="auto", help="empty: each model's own default")
    size_choice = c_size.selectbox("Size", SIZE_CHOICES, key="bench_size", help="default: each model's own size")
    c_rep, c_warm, c_cost = st.columns(3)
    repeats = c_rep.number_input("Timed repeats", min_value=1, max_value=100, value=1, step=1, key="bench_repeats",
                                 help="each job timed this many times; each repeat is stored (p50/p90 in Charts)")
    warmup = c_warm.number_input("Warm-up calls", min_value=0, max_value=20, value=0, step=1, key="bench_warmup",
                                 help="untimed calls per model and configuration before the timed ones")
    max_cost = c_cost.number_input("API cost cap (USD)", min_value=0.0, value=None, step=1.0, key="bench_max_cost",
                                   placeholder="none", help="refuse the batch when its API estimate is higher")
    force = st.toggle("Measure again", key="bench_force", help="run jobs already stored again, as new rows")
    negative = st.text_input("Negative prompt (for models that take one)", key="bench_negative")
    c_exec, c_addr = st.columns([1, 2])
    executor = c_exec.radio("Run on", EXECUTORS, horizontal=True, key="bench_executor",
                            format_func={"local": "this process", "ray": "Ray (every GPU)"}.get,
                            help="this process: one model at a time on one device; Ray: one worker per GPU of this "
                                 "machine or of a cluster, results recorded here")
    ray_address = c_addr.text_input("Ray cluster", key="bench_ray_address", disabled=executor != "ray",
                                    placeholder="empty: start Ray on this machine; auto or ray://HOST:10001")
    recipes = st.multiselect("Speed recipes", list(RECIPES), default=["eager"], key="bench_recipes",
                             help="each model runs each recipe, eager first (speedups are against eager of the same "
                                  "configuration): " + "; ".join(f"{r.name}: {r.description}" + ("" if r.lossless else
                                  " (lossy: PSNR/SSIM against eager stored)") for r in RECIPES.values())
                                  + ". Use warm-up calls to keep compilation out of the timed jobs.")
    c_score, c_scorer = st.columns([3, 2], vertical_alignment="bottom")
    score = c_score.multiselect("Score", METRICS, key="bench_score", placeholder="no scores",
                                format_func=lambda m: METRIC_LABELS.get(m, m),
                                help="quality scores of each model's images, in batches after its jobs "
                                     "(`--score`); or later with `python -m core.bench score`")
    scorer_weights = c_scorer.radio("Scorer weights", ["default", *SCORER_WEIGHTS], horizontal=True,
                                    key="bench_scorer_weights", disabled=not score,
                                    help="default: tiny scorers for tiny weights, else pretrained; tiny-scorer "
                                         "scores are noise and labelled “tiny scorer”")

    try:
        seeds = _parse_seeds(seeds_text)
        seed_error = None
    except ValueError:
        seeds, seed_error = [], f"seeds: {seeds_text!r} is not a list of integers (e.g. 0 1 2)"
    problems = [p for p in (prompt_error, seed_error) if p]
    if not models:
        problems.append("models: choose at least one model")
    if prompt_count == 0 and not prompt_error:
        problems.append("edits: choose an edit suite or a file" if task == EDIT else "prompts: give at least one prompt")
    if not recipes:
        problems.append("recipes: choose at least one speed recipe (eager is plain diffusers)")
    for problem in problems:
        st.error(problem)
    sweep = None
    if not problems:
        size = None if size_choice == SIZE_CHOICES[0] else tuple(int(v) for v in size_choice.split("×"))
        sweep = Sweep(models=",".join(models), prompts_file=None if task == EDIT else prompts_file,
                      prompts=tuple(pasted_prompts) if source == "paste prompts" and task != EDIT else (),
                      task=task, inputs_file=inputs_file if task == EDIT else None, seeds=tuple(seeds),
                      steps=int(steps) if steps is not None else None,
                      guidance=float(guidance) if guidance is not None else None, size=size,
                      negative_prompt=negative.strip() or None, weights=weights, repeats=int(repeats),
                      warmup=int(warmup), force=force, recipes=tuple(sorted(recipes, key=lambda r: r != "eager")),
                      score=tuple(score),
                      scorer_weights=None if not score or scorer_weights == "default" else scorer_weights,
                      max_cost=float(max_cost) if max_cost is not None else None,
                      name=batches.new_batch_name(label), out=data.settings().output_dir,
                      executor=executor, ray_address=(ray_address.strip() or None) if executor == "ray" else None)
        check = batches.check_sweep(sweep)
        if check.error:
            st.error("The batch would not start; nothing was run:\n\n" + check.error)
        else:
            st.markdown(f"**{check.jobs}** job(s), **{check.pending}** to run (the others are stored already)"
                        + (f" · API estimate **{check.cost_usd:.2f} USD**" if check.cost_usd else "")
                        + (f" · about {formatting.fmt_seconds(check.eta_s)} from earlier runs" if check.eta_s else ""))
            for warning in check.warnings:
                st.warning(warning)
    launching = _launching()
    c_start, c_starting = st.columns([1, 4], vertical_alignment="center")
    c_start.button("Start batch", type="primary", key="bench_start", on_click=_start, args=(sweep,),
                   disabled=sweep is None or bool(check.error) or check.pending == 0 or bool(launching),
                   help="off while a batch started here is starting (a second click starts nothing)")
    if launching:
        c_starting.caption(f"`{launching[0]}` is starting (loading libraries, checking every request); "
                           "Start batch is off until it runs.")
if st.session_state.get("bench_command"):
    st.caption("Command of the last batch started here (runs the same from a shell):")
    st.code(st.session_state["bench_command"], language="bash")


# ---- watch -------------------------------------------------------------------------------------------
def _elapsed(run) -> str:
    created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=timezone.utc)
    end = run.finished_at or datetime.now(timezone.utc)
    end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
    seconds = max(0.0, (end - created).total_seconds())
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _cancel(run_id: int, now: bool = False) -> None:
    counts, run = data.run_progress(run_id)
    if run is None:
        return
    problem = batches.cancel_batch(run, now=now)
    done = (f"Stopped run {run_id} now (process {run.pid} killed); it shows as interrupted." if now else
            f"Asked run {run_id} to stop (process {run.pid}): it finishes the image in progress, then stops "
            "and records itself as cancelled. “Stop now” kills it at once.")
    st.session_state["bench_message"] = ("error", problem, time.time()) if problem else ("success", done, time.time())


def _resume(run_id: int) -> None:
    _, run = data.run_progress(run_id)
    argv = (run.params or {}).get("argv") if run else None
    if not argv:
        st.session_state["bench_message"] = ("error", f"run {run_id} has no command to resume", time.time())
        return
    proc = batches.restart_batch(argv, run.name or f"run-{run_id}")
    st.session_state.setdefault("bench_started", []).append(run.name or f"run-{run_id}")
    st.session_state["bench_message"] = ("success", f"Resuming run {run_id}'s batch (process {proc.pid}): jobs "
                                         "already stored are skipped.", time.time())


def _rate(run, done: int, total: int) -> str:
    created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=timezone.utc)
    seconds = (datetime.now(timezone.utc) - created).total_seconds()
    if done == 0 or seconds <= 0:
        return ""
    rate = done / seconds
    eta = (total - done) / rate if total > done else 0
    return f" · {rate:.2f} img/s · ETA {formatting.fmt_seconds(eta)}"


def _run_card(run) -> None:
    counts, run = data.run_progress(run.id)
    done = sum(counts.values())
    ok, failed = counts.get("ok", 0), counts.get("failed", 0) + counts.get("skipped", 0)
    total = run.jobs_total or done
    alive = batches.batch_process_alive(run)
    with st.container(border=True):
        c1, c2, c3 = st.columns([2.4, 1, 1], vertical_alignment="center")  # "Stop now" whole at 1024 px
        c1.markdown(f"**Run {run.id}** · `{run.name or run.kind}` · {run.weights} weights · {run.status} · "
                    f"{_elapsed(run)}")
        if run.status == "running" and alive:
            c2.button("Cancel", key=f"bench_cancel_{run.id}", on_click=_cancel, args=(run.id,), width="stretch",
                      help="finish the image in progress, then stop (the run is recorded as cancelled)")
            c3.button("Stop now", key=f"bench_kill_{run.id}", on_click=_cancel, args=(run.id, True), width="stretch",
                      help="kill the process at once (the run shows as interrupted; resume it later)")
        fraction = min(1.0, done / total) if total else 0.0
        st.progress(fraction, text=f"{done} / {total} jobs · {ok} ok · {failed} failed" + _rate(run, done, total))
        summary = data.run_summary_live(run.id)
        if not summary.empty:
            st.dataframe(data.summary_table(summary), hide_index=True, width="stretch")
        latest = data.latest_generations(run.id, limit=6)
        latest = latest[latest["image_path"].notna()] if not latest.empty else latest
        if not latest.empty:
            cols = st.columns(6)
            for col, (_, row) in zip(cols, latest.iterrows()):
                col.image(row["image_path"], caption=f"{row['model_key']} · {formatting.fmt_seconds(row['total_s'])}"
                          + (" (first call)" if row.get("first_call") else ""),
                          width="stretch")


def _pending() -> list[str]:
    """Batches this session started whose run row is not there yet (starting, or exited early)."""
    out = []
    for name in st.session_state.get("bench_started", []):
        if data.find_run(name) is None:
            out.append(name)
    return out


def _pending_card(name: str) -> None:
    batch = batches.launched_batches().get(name)
    if batch is None:
        return
    code = batch["process"].poll()
    with st.container(border=True):
        if code is None:
            st.markdown(f"**`{name}`** · starting (loading libraries, checking every request)…")
        else:
            tail = batches.log_tail(batch["log"])
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
    batches.reconcile_runs()
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
def _result(r) -> None:
    """A finished batch's result: images per second, p50/p90 per model × configuration, mean scores."""
    result = batch_report.batch_result(data.db_url(), int(r["id"]), r["weights"], r.get("seconds"), int(r["ok"]))
    if result.table.empty:
        st.caption("No timed image in this run (first calls after a load are left out of the times).")
    else:
        rate = f"{result.images_per_s:.2f} images/s over the run's wall time · " if result.images_per_s else ""
        st.caption(f"{rate}seconds per call and images per second per model × configuration, first calls after "
                   "a load left out")
        st.dataframe(result.table, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in result.table.columns
                                    if c.endswith(" s") or c.startswith(("img/s", "USD"))})
    if not result.scores.empty:
        st.caption("Mean scores per model" + (" · tiny scorer (noise scores)" if result.scorer == "tiny" else ""))
        st.dataframe(result.scores, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in result.scores.columns
                                    if c != "model"})


def _reason(r) -> None:
    """Why a batch failed or stopped: its error rows, else the last error of its log (and the log's tail)."""
    _, run = data.run_progress(int(r["id"]))
    log = (run.params or {}).get("log") if run is not None and isinstance(run.params, dict) else None
    line, tail = batch_report.failure_reason(data.db_url(), int(r["id"]), log)
    if line:
        st.error(line)
    elif r["status"] == "failed":
        st.error("No error was recorded for this run" + ("; its log ends as below." if tail else " and it has no log."))
    if tail:
        with st.expander("Log (last lines)"):
            st.code(tail, language="text")


st.subheader("Recent batches")
recent = data.runs_frame(data.db_url(), limit=10, kind="bench")
recent = recent[recent["status"] != "running"] if not recent.empty else recent
if recent.empty:
    st.caption("No finished batch yet.")
else:
    for i, (_, r) in enumerate(recent.iterrows()):
        with st.container(border=True):
            c1, c2, c3 = st.columns([3.2, 1.5, 1], vertical_alignment="center")
            c1.markdown(f"**Run {r['id']}** · `{r['name'] or 'bench'}` · **{r['status']}** · {r['weights']} weights · "
                        f"{int(r['ok'])} ok · {int(r['failed'])} failed · {formatting.fmt_seconds(r.get('seconds'))}")
            c2.markdown(f"[Rows in History](/history?run={int(r['id'])})")
            if r["status"] in ("cancelled", "interrupted"):
                c3.button("Resume", key=f"bench_resume_{r['id']}", on_click=_resume, args=(int(r["id"]),),
                          width="stretch", help="run the same batch again: stored jobs are skipped")
            if r["status"] in ("failed", "interrupted") or (r["status"] != "finished" and int(r["failed"])):
                _reason(r)
            if int(r["ok"]):
                if i == 0:  # the newest batch's result stays in view
                    _result(r)
                elif st.toggle("Result: p50/p90 per configuration, images/s, scores", key=f"bench_result_{r['id']}"):
                    _result(r)  # older batches' results are read only when asked: the page opens fast on a big store
if st.button("Refresh", key="bench_refresh"):
    data.clear_queries()
    st.rerun()
