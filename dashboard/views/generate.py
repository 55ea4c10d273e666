"""Generate: one prompt through several models, the images side by side with their time, memory and FLOPs."""
from __future__ import annotations

import random

import streamlit as st

from core import providers
from core.errors import CaseStudyError, StoreError
from core.environment import gpus
from core.loading import WEIGHTS
from core.recipes import RECIPES
from core.registry import all_specs, get_spec
from core.jobs import MAX_SEED, TEXT_TO_IMAGE
from core.runner import Progress
from core.sweep import Prepared, Sweep, prepare
from core.scoring.metrics import DEFAULT_METRICS
from core.scoring.scorers import METRICS, SCORER_WEIGHTS
from dashboard import data, detail, formatting, model_facts, scores
from dashboard.catalog_view import show_catalog

GRID_COLUMNS = 3
SIZE_PRESETS = [(512, 512), (768, 768), (1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216),
                (1344, 768), (768, 1344)]
WEIGHTS_HELP = ("pretrained: the published weights (local copy or Hugging Face cache); random: the full-size "
                "architecture with random weights (real timings, noise images); tiny: small twins built in code, "
                "a few steps on CPU (for trying the workbench)")

st.title("Generate")
st.caption("The same prompt through several models, side by side. Every result is stored in History.")


# ---- helpers -----------------------------------------------------------------------------------------
def _presets(spec) -> list[tuple[int, int]]:
    """The preset sizes this model accepts (its checks: range and multiple)."""
    ok = [(w, h) for w, h in SIZE_PRESETS
          if all(spec.min_size <= v <= spec.max_size and v % spec.size_multiple == 0 for v in (w, h))]
    return ok


def _model_settings(spec, weights: str) -> dict:
    """An expander with this model's defaults, prefilled and overridable. Returns the request fields."""
    eff = model_facts.effective_spec(spec, weights)
    prefix = f"gen:{weights}:{spec.key}"
    with st.expander(f"{spec.key}: {eff.width}×{eff.height}, {eff.steps} steps, guidance {eff.guidance:g}"
                     if not spec.is_api else f"{spec.key}: {spec.name}"):
        if spec.notes:
            st.caption(spec.notes)
        default_label = f"model default ({eff.width}×{eff.height})"
        options = [default_label] + [f"{w}×{h}" for w, h in _presets(eff) if (w, h) != (eff.width, eff.height)] + ["custom"]
        choice = st.selectbox("Size", options, key=f"{prefix}:size",
                              help=f"{spec.key} takes multiples of {eff.size_multiple} px from {eff.min_size} to "
                                   f"{eff.max_size}" if not spec.is_api else "mapped to the provider's nearest size")
        if choice == "custom":
            c1, c2 = st.columns(2)
            width = c1.number_input("Width (px)", value=eff.width, step=eff.size_multiple, key=f"{prefix}:w")
            height = c2.number_input("Height (px)", value=eff.height, step=eff.size_multiple, key=f"{prefix}:h")
        elif choice == default_label:
            width, height = eff.width, eff.height
        else:
            width, height = (int(v) for v in choice.split("×"))
        if spec.is_api:
            return {"width": int(width), "height": int(height)}
        c1, c2 = st.columns(2)
        steps = c1.number_input("Steps", value=eff.steps, min_value=1, step=1, key=f"{prefix}:steps",
                                help=f"{eff.min_steps} to {eff.max_steps}")
        lo, hi = eff.guidance_range
        guidance = c2.number_input("Guidance", value=float(eff.guidance), step=0.5, format="%.2f",
                                   key=f"{prefix}:guidance", help=f"{lo:g} to {hi:g}; model default {eff.guidance:g}"
                                   + (" (guidance-distilled: no CFG pass)" if eff.cfg_style == "distilled" else ""))
        return {"width": int(width), "height": int(height), "steps": int(steps), "guidance": float(guidance)}


def _slot(model_key: str, recipe: str | None) -> str:
    """One gallery slot per model and speed recipe."""
    return model_key if recipe in (None, "eager") else f"{model_key} · {recipe}"


def _caption(row: dict) -> str:
    parts = [f"**{_slot(row['model_key'], row.get('recipe'))}**", formatting.fmt_seconds(row.get("total_s")), formatting.fmt_gb(row.get("peak_mem_gb")),
             formatting.fmt_flops(row.get("flops_total"))]
    if row.get("cost_usd") is not None:
        parts.append(f"${row['cost_usd']:.3f}")
    caption = " · ".join(parts)
    extra = []
    if row.get("load_s") is not None:
        extra.append(f"loaded in {formatting.fmt_seconds(row['load_s'])}")
    if row.get("first_call"):
        extra.append("first call (includes warm-up)")
    if row.get("width"):
        extra.append(f"{row['width']}×{row['height']}, {row.get('steps')} steps, seed {row.get('seed')}")
    return caption + ("  \n" + " · ".join(extra) if extra else "")


def _show_result(slot, row: dict, score: dict | None = None) -> None:
    with slot.container(border=True):
        if row.get("stored"):
            st.caption(f"stored earlier (run {row['run_id']})")
        if row.get("error"):
            st.markdown(f"**{_slot(row['model_key'], row.get('recipe'))}**")
            st.error(row["error"].removeprefix("CaseStudyError: "))
        else:
            st.image(row["image_path"], width="stretch")
            st.markdown(_caption(row))
            if score:
                st.caption("Scores: " + scores.score_line(score))


def _gallery_slots(keys: list[str]) -> dict:
    cols = st.columns(min(GRID_COLUMNS, max(1, len(keys))))
    return {key: cols[i % len(cols)].empty() for i, key in enumerate(keys)}


# ---- choices -----------------------------------------------------------------------------------------
weights = st.radio("Weights", WEIGHTS, index=WEIGHTS.index(model_facts.default_weights()), horizontal=True,
                   key="gen_weights", help=WEIGHTS_HELP)
# text-to-image models (the editors are on the Edit page)
open_specs = [s for s in all_specs("open") if TEXT_TO_IMAGE in s.tasks]
api_specs = [s for s in all_specs("api") if TEXT_TO_IMAGE in s.tasks]
labels = {s.key: model_facts.model_label(s, weights) for s in open_specs + api_specs}
c_open, c_api = st.columns([3, 2])
open_keys = c_open.multiselect("Open models", [s.key for s in open_specs], key="gen_open_models", filter_mode="prefix", wrap=True,
                               format_func=labels.get, placeholder="Choose open models",
                               help="key · default size · approximate VRAM · gated on the Hub · "
                                    "✓ when its weights are on this machine (see the catalog below)")
api_keys = c_api.multiselect("API models", [s.key for s in api_specs], key="gen_api_models", filter_mode="prefix", wrap=True,
                             format_func=labels.get, placeholder="Choose API models" if api_specs else "No API models",
                             disabled=not api_specs, help="✓ when the provider's key is set in the environment or .env")
with st.expander("Model catalog: defaults, size, VRAM, licence, what is available here"):
    show_catalog(weights)
    if st.button("Ask the providers which API models my keys can use", key="gen_key_models",
                 help="calls each provider's list-models endpoint (OpenAI, Gemini) with the keys set here"):
        st.session_state["gen_key_models_rows"] = model_facts.key_models()
    if st.session_state.get("gen_key_models_rows") is not None:
        st.dataframe(st.session_state["gen_key_models_rows"], hide_index=True, width="stretch",
                     column_config={"on this key": st.column_config.CheckboxColumn("on this key")})
recipes = st.multiselect("Speed recipes", list(RECIPES), default=["eager"], key="gen_recipes",
                         help="each model runs each recipe, eager first: " + "; ".join(
                             f"{r.name}: {r.description}" + ("" if r.lossless else " (lossy)") for r in RECIPES.values())
                         + ". A recipe a model, this device or the installed packages cannot run is refused before "
                           "anything loads; the first call after a recipe compiles (see History for compile_s and, "
                           "for lossy recipes, PSNR/SSIM against eager)")

prompt = st.text_area("Prompt", key="gen_prompt", height=90,
                      placeholder="Describe the image, e.g. a red cat sitting on a blue table")
c_neg, c_seed_mode, c_seed = st.columns([3, 1, 1])
negative = c_neg.text_input("Negative prompt", key="gen_negative",
                            help="used by models that take one; leave empty for models that do not "
                                 "(FLUX, UniDiffuser, HiDream)")
seed_mode = c_seed_mode.radio("Seed", ["random", "fixed"], horizontal=True, key="gen_seed_mode")
seed_value = c_seed.number_input("Seed value", min_value=0, max_value=MAX_SEED, value=0, step=1, key="gen_seed",
                                 disabled=seed_mode == "random")
c_keep, c_force = st.columns(2)
keep_loaded = c_keep.toggle("Keep models loaded", value=True, key="gen_keep_loaded",
                            help="dev mode: models stay in memory between generations; off: each model is unloaded after its "
                                 "image, as the batch runner does")
force = c_force.toggle("Measure again", value=False, key="gen_force",
                       help="a request already stored (same model, prompt, seed and settings) shows its stored "
                            "image; on: generate and time it again as a new row")

selected = [get_spec(k) for k in open_keys + api_keys]
overrides: dict[str, dict] = {}
if selected:
    st.markdown("**Settings per model** (each model's own defaults, change any of them)")
    cols = st.columns(min(3, len(selected)))
    for i, spec in enumerate(selected):
        with cols[i % len(cols)]:
            overrides[spec.key] = _model_settings(spec, weights)

missing = [s.key for s in selected if not model_facts.weights_here(s.key, "api" if s.is_api else weights)[0]]
if missing:
    st.warning("Not available on this machine, expect these to fail: " + ", ".join(
        f"{k} ({model_facts.weights_here(k, 'api' if get_spec(k).is_api else weights)[1]})" for k in missing))

c_go, c_hint = st.columns([1, 5], vertical_alignment="center")
clicked = c_go.button("Generate", type="primary", key="gen_go", disabled=not selected or not recipes,
                      width="stretch")
if not selected:
    c_hint.caption("Choose at least one model above.")
elif not recipes:
    c_hint.caption("Choose at least one speed recipe (eager is plain diffusers).")


# ---- generate ----------------------------------------------------------------------------------------
class LiveImages(Progress):
    """The runner's progress shown in the page: each model's slot says what it does, then shows its image."""

    def __init__(self, engine, slots: dict):
        self.engine, self.slots, self.results, self.done = engine, slots, [], set()

    def model_start(self, key: str, jobs: int) -> None:
        loading = not self.engine.spec_for(key).is_api and key not in self.engine.resident
        for name, slot in self.slots.items():  # the model's slots not filled yet (one per recipe)
            if name.split(" · ")[0] == key and name not in self.done:
                slot.info(f"{name}: {'loading, then ' if loading else ''}generating…")

    def job_done(self, job, outcome, rows) -> None:
        row = rows[0].model_dump()
        self.results.append(row)
        self.done.add(_slot(job.spec.key, job.recipe))
        _show_result(self.slots[_slot(job.spec.key, job.recipe)], row)


def _prepare(engine) -> tuple[list[Prepared], list[str]]:
    """The request as sweeps, checked by core.sweep.prepare as the CLI and the Benchmark page check theirs (request
    fields, recipes, the cost cap, keys, tiny twins at full size): open models with the chosen weights, API models
    against their APIs. Returns the prepared sweeps and the models skipped (no key), with why."""
    seed = int(seed_value) if seed_mode == "fixed" else random.randint(0, MAX_SEED)
    common = dict(prompts=(prompt,), seeds=(seed,), negative_prompt=negative.strip() or None,
                  recipes=tuple(recipes), mode="dev" if keep_loaded else "bench", force=force, device=engine.device)
    prepared, skipped = [], []
    for keys, mode in ((open_keys, weights), (api_keys, "pretrained")):
        if not keys:
            continue
        missing = {k: why for k in keys if mode == "pretrained" and (why := providers.missing_credentials(get_spec(k),
                                                                                                        data.settings()))}
        if len(missing) == len(keys) and prepared:  # no key for any chosen API model: the open models still run
            skipped += [f"{k} ({why})" for k, why in missing.items()]
            continue
        done = prepare(Sweep(models=",".join(keys), weights=mode, **common), settings=data.settings(),
                       engine=engine, per_model={k: overrides.get(k, {}) for k in keys})
        prepared.append(done)
        skipped += [f"{k} ({why})" for k, why in done.skipped_models.items()]
    return prepared, skipped


def _run(engine, prepared: list[Prepared]) -> list[dict]:
    """The jobs through the runner (the CLI's job keys); stored jobs show their stored image unless forced."""
    jobs = [j for p in prepared for j in p.jobs]
    runner = prepared[0].runner(kind="generate")
    stored = {} if force else {g.job_key: g.model_dump() for g in data.stored_generations([j.key for j in jobs])}
    slots = _gallery_slots([_slot(j.spec.key, j.recipe) for j in jobs])
    found = scores.scores_for(data.db_url(), tuple(int(g["id"]) for g in stored.values()))
    for job in jobs:
        if job.key in stored:
            _show_result(slots[_slot(job.spec.key, job.recipe)], {**stored[job.key], "stored": True},
                         found.get(stored[job.key]["id"]))
        else:
            slots[_slot(job.spec.key, job.recipe)].info("Waiting…")
    live = LiveImages(engine, slots)
    try:
        runner.run(jobs, progress=live)
    finally:
        data.clear_queries()
    by_key = {j.key: j for j in jobs}
    results = [{**stored[k], "stored": True} for k in by_key if k in stored] + live.results
    order = {j.spec.key: i for i, j in enumerate(jobs)}
    return sorted(results, key=lambda r: order.get(r["model_key"], 0))


# ---- scores ------------------------------------------------------------------------------------------
def _score_panel(results: list[dict]) -> None:
    """"Score these images": the chosen metrics of the ok results, by tiny or pretrained scorers."""
    ids = [int(r["id"]) for r in results if not r.get("error") and r.get("id") is not None]
    if not ids:
        return
    with st.container(border=True):
        # the metric chips and the scorer choice side by side, the button below them: at 1024 px a third column
        # cut its label ("Score the…") and hid the third chip
        c_metrics, c_weights = st.columns([3, 2], vertical_alignment="bottom")
        metrics = c_metrics.multiselect("Metrics", METRICS, default=[m for m in METRICS if m in DEFAULT_METRICS],
                                        key="gen_score_metrics", wrap=True,
                                        format_func=lambda m: scores.METRIC_LABELS.get(m, m),
                                        help="CLIPScore: prompt alignment; PickScore, HPSv2.1, ImageReward: human "
                                             "preference; LAION aesthetic: looks alone; VQAScore: prompt alignment "
                                             "by a VLM (GPU only). HPSv2.1, ImageReward and VQAScore download "
                                             "several GB on first use (README, Quality scores)")
        if st.session_state.get("gen_score_weights_for") != weights:  # the default follows the weights mode
            st.session_state["gen_score_weights"] = scores.default_scorer_weights(weights)
            st.session_state["gen_score_weights_for"] = weights
        scorer_weights = c_weights.radio("Scorer weights", SCORER_WEIGHTS, horizontal=True, key="gen_score_weights",
                                         help="tiny: scorers built in code, offline, noise scores (labelled "
                                              "“tiny scorer”); pretrained: the published scorer weights")
        go = st.button("Score these images", key="gen_score_go", disabled=not metrics)
        if go:
            try:
                with st.spinner("Scoring…"):
                    counts = scores.score_generations(ids, metrics, scorer_weights, keep_loaded=keep_loaded)
            except Exception as exc:  # noqa: BLE001 - weights missing, out of memory: shown, the page goes on
                st.error(f"Scoring failed: {type(exc).__name__}: {exc}")
            else:
                done = sum(c.scored for c in counts.values())
                gone = sum(c.missing_file for c in counts.values())
                st.success(f"{done} score(s) stored" + (f"; {gone} image file(s) missing" if gone else "")
                           + ("" if done else " (these images already had them)") + ".")


def _results_caption(results: list[dict]) -> str:
    """Counts and the run numbers of a generation's results (kept with them: shown on every later draw)."""
    failed = [r for r in results if r.get("error")]
    reused = [r for r in results if r.get("stored")]
    runs = sorted({r["run_id"] for r in results if r.get("run_id") is not None})
    return (f"{len(results) - len(failed)} image(s), {len(failed)} failure(s)"
            + (f", {len(reused)} already stored (tick “Measure again” to generate them anew)" if reused else "")
            + (f"; run {', '.join(map(str, runs))} in History." if runs else "."))


def _gallery(results: list[dict]) -> None:
    found = scores.scores_for(data.db_url(), tuple(int(r["id"]) for r in results if r.get("id") is not None))
    slots = _gallery_slots([_slot(r["model_key"], r.get("recipe")) for r in results])
    for r in results:
        _show_result(slots[_slot(r["model_key"], r.get("recipe"))], r,
                     found.get(int(r["id"])) if r.get("id") is not None else None)


engine = None
if clicked:
    engine = data.dev_engine(weights)
    try:
        prepared, skipped = _prepare(engine)
    except CaseStudyError as exc:  # every bad field of every model (PlanError), or why the run cannot start
        detail.show_refusal(st, exc)
    else:
        st.subheader("Results")
        if skipped:
            st.warning("Skipped: " + "; ".join(skipped))
        for warning in (w for p in prepared for w in p.warnings):
            st.warning(warning)
        head = st.container()  # the counts and the score panel sit above the images, as on every later draw
        try:
            results = _run(engine, prepared)
        except StoreError as exc:  # the store refused a row (or went away): one line, the run stopped
            st.error(str(exc))
            st.stop()
        st.session_state["gen_results"] = results
        st.session_state["gen_results_caption"] = _results_caption(results)
        with head:
            st.caption(st.session_state["gen_results_caption"])
            _score_panel(results)


if not clicked and st.session_state.get("gen_results"):
    # The same layout as right after generating (title, counts, score panel, images): scoring does not reflow it.
    st.subheader("Results")
    results = st.session_state["gen_results"]
    st.caption(st.session_state.get("gen_results_caption") or _results_caption(results))
    _score_panel(results)
    _gallery(results)


# ---- dev mode: resident models and GPUs --------------------------------------------------------------
def _load(key: str) -> None:
    try:
        model = data.dev_engine(weights).load(key)
        st.session_state["gen_dev_message"] = ("success", f"{key} loaded in {formatting.fmt_seconds(model.load_s)}")
    except Exception as exc:  # noqa: BLE001 - shown to the user, the page goes on
        st.session_state["gen_dev_message"] = ("error", f"{key} did not load: {type(exc).__name__}: {exc}")


def _unload(key: str | None) -> None:
    engine = data.current_dev_engine()
    if engine is not None:
        what = key or ", ".join(engine.resident) or "nothing"
        engine.unload_all() if key is None else engine.unload(key)
        data.note_unload(what)
        st.session_state["gen_dev_message"] = ("success", f"unloaded {key or 'every model'}")


def _dev_panel() -> None:
    st.subheader("Dev mode")
    others, newest = data.unloads_by_others(st.session_state.get("gen_unloads_seen", 0))
    st.session_state["gen_unloads_seen"] = newest
    for what in others:  # the engine is shared by every tab of this dashboard
        st.info(f"Another tab unloaded {what}: the next generation loads it again.")
    visible = gpus()
    if visible:
        st.markdown(f"**GPUs** ({len(visible)})")
        for g in visible:
            used = g["total_gb"] - g["free_gb"]
            st.progress(min(1.0, used / g["total_gb"]) if g["total_gb"] else 0.0,
                        text=f"cuda:{g['index']} {g['name']}: {used:.1f} / {g['total_gb']:.1f} GB used "
                             f"({g['allocated_gb']:.1f} GB by this process)")
    else:
        st.info("No CUDA GPU visible: models run on the CPU (tiny weights are the practical choice).")
    engine = data.current_dev_engine()
    resident = dict(engine.resident) if engine is not None else {}
    st.markdown(f"**Resident models** ({len(resident)})")
    if engine is not None and engine.weights != weights:
        st.caption(f"Loaded with {engine.weights} weights; generating or loading with {weights} unloads them.")
    if not resident:
        st.caption("None loaded.")
    for key, model in resident.items():
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        where = model.device + (f" ({model.device_map})" if model.device_map else "")
        c1.markdown(f"`{key}` · {where} · {formatting.fmt_params(model.params_total)}  \n"
                    f"loaded in {formatting.fmt_seconds(model.load_s)} · {model.calls} call(s)")
        c2.button("", icon=":material/eject:", key=f"gen_unload_{key}", on_click=_unload, args=(key,),
                  help=f"Unload {key}")
    st.selectbox("Model to load", [s.key for s in open_specs], key="gen_load_key")
    c1, c2 = st.columns(2)
    c1.button("Load", key="gen_load", on_click=lambda: _load(st.session_state["gen_load_key"]), width="stretch")
    c2.button("Unload all", key="gen_unload_all", on_click=_unload, args=(None,), disabled=not resident,
              width="stretch")
    message = st.session_state.pop("gen_dev_message", None)
    if message:
        (st.success if message[0] == "success" else st.error)(message[1])


with st.sidebar:
    _dev_panel()
