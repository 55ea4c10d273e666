"""A sweep as a user asks for it (the CLI's flags, the Benchmark page's form), and its check before launch.

`Sweep` is the one description of a batch: the CLI parses its flags into one, the Benchmark page fills
one from its form and launches `sweep.argv()` in the background. `prepare(sweep)` is what both run
before anything starts: models resolved, prompts read, API keys looked up, every request checked,
jobs keyed, the API cost estimated and capped. A bad sweep fails here, with every error at once.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from sqlalchemy.engine import Engine as SqlEngine

from core import providers
from core.providers import catalog, options
from core.errors import CaseStudyError, RequestError
from core.executors.base import check_executor
from core.executors.ray_executor import RayExecutor
from core.generation import Engine
from core.processes import BATCH_LOG_ENV
from core.prompts import Prompt, load_prompts
from core.recipes import RECIPES
from core.registry import resolve_models
from core.edits import load_edit_items
from core.jobs import EDIT, TEXT_TO_IMAGE, InputImage, Job
from core.run_notes import clean_name, clean_notes, clean_tags
from core.runner import Runner, plan, sweep_requests
from core.scoring.backfill import ScorerSet
from core.settings import Settings, get_settings
from core.store import db_url, open_store, safe_url

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

# Tiny twins are built for a few hundred pixels: past this a CPU image takes minutes (sd21 tiny at 1024²: 334 s).
TINY_MAX_PIXELS = 256 * 256


@dataclass(frozen=True)
class Sweep:
    models: str = "all"  # comma-separated keys, or all | open | api
    prompts_file: str | None = None
    prompts: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    task: str = TEXT_TO_IMAGE  # or edit: each prompt is an instruction for a source image (inputs_file)
    inputs_file: str | None = None  # edits: a JSONL of image + instruction, a folder with a sidecar, or a suite name
    steps: int | None = None
    guidance: float | None = None
    size: tuple[int, int] | None = None
    negative_prompt: str | None = None
    weights: str = "pretrained"
    batch_size: int = 1
    repeats: int = 1
    warmup: int = 0
    force: bool = False
    images: int = 1
    params: tuple[str, ...] = ()  # MODEL.NAME=VALUE options for one model
    mode: str = "bench"
    max_cost: float | None = None
    allow_slow: bool = False
    score: tuple[str, ...] = ()  # quality metrics scored after each model (clip, pick, aesthetic)
    scorer_weights: str | None = None  # pretrained | tiny (default: tiny with tiny weights, else pretrained)
    recipes: tuple[str, ...] = ("eager",)  # speed recipes (core.recipes), each model runs each; eager first
    name: str | None = None
    tags: tuple[str, ...] = ()  # the run's tags and notes (core.run_notes)
    note: str | None = None
    db: str | None = None
    out: str | None = None
    device: str | None = None
    executor: str = "local"  # local | ray (core.executors)
    ray_address: str | None = None  # None: start Ray on this machine; auto or ray://HOST:10001 joins a cluster

    def argv(self) -> list[str]:
        """The `python -m core.bench` command line of this sweep (what the Benchmark page launches)."""
        argv = [sys.executable, "-m", "core.bench", "--models", self.models, "--seeds", *map(str, self.seeds),
                "--weights", self.weights, "--mode", self.mode, "--no-progress"]
        if self.prompts_file:
            argv += ["--prompts", self.prompts_file]
        if self.task != TEXT_TO_IMAGE:
            argv += ["--task", self.task]
        if self.inputs_file:
            argv += ["--inputs", self.inputs_file]
        for text in self.prompts:
            argv += ["--prompt", text]
        optional = {"--steps": self.steps, "--guidance": self.guidance, "--negative-prompt": self.negative_prompt,
                    "--max-cost": self.max_cost, "--name": self.name, "--db": self.db, "--out": self.out,
                    "--device": self.device, "--ray-address": self.ray_address}
        for flag, value in optional.items():
            if value is not None:
                argv += [flag, str(value)]
        if self.size is not None:
            argv += ["--size", f"{self.size[0]}x{self.size[1]}"]
        for flag, value, default in (("--batch-size", self.batch_size, 1), ("--repeats", self.repeats, 1),
                                     ("--warmup", self.warmup, 0), ("--images", self.images, 1)):
            if value != default:
                argv += [flag, str(value)]
        for item in self.params:
            argv += ["--param", item]
        for tag in self.tags:
            argv += ["--tag", tag]
        if self.note:
            argv += ["--note", self.note]
        if self.executor != "local":
            argv += ["--executor", self.executor]
        if self.force:
            argv.append("--force")
        if self.allow_slow:
            argv.append("--allow-slow")
        if self.score:
            argv += ["--score", ",".join(self.score)]
        if self.scorer_weights is not None:
            argv += ["--scorer-weights", self.scorer_weights]
        if self.recipes != ("eager",):
            argv += ["--recipe", ",".join(self.recipes)]
        return argv


def _stored_argv(argv: list[str]) -> list[str]:
    """The command line as the run stores it: a database password never reaches the store."""
    return [safe_url(a) if i and argv[i - 1] == "--db" else a for i, a in enumerate(argv)]


def reproduce(row: dict) -> Sweep:
    """The sweep that makes this stored generation again: same model, weights, prompt, seed, every parameter, speed
    recipe, batch size and images per call (a repeat of a job is the same job; API options from `extra` become
    --param)."""
    api = row.get("weights") == "api"
    extra = row.get("extra") or {}
    params = tuple(f"{row['model_key']}.{k}={json.dumps(v) if not isinstance(v, str) else v}"
                   for k, v in sorted(extra.items()) if api and k != "requested_size")
    size = tuple(extra.get("requested_size") or (row.get("width"), row.get("height")))
    sources = row.get("input_images") or []
    edit = {"task": EDIT, "inputs_file": sources[0]["path"]} if row.get("task") == EDIT and len(sources) == 1 else {}
    return Sweep(**edit, models=row["model_key"], prompts=(row["prompt"],), seeds=(row["seed"],) if row.get("seed") is not None
                 else (0,), steps=None if api else row.get("steps"), guidance=None if api else row.get("guidance"),
                 size=size if all(size) else None, negative_prompt=row.get("negative_prompt"),
                 weights="pretrained" if api else row.get("weights", "pretrained"), params=params,
                 recipes=(row.get("recipe") or "eager",), batch_size=int(row.get("batch_size") or 1),
                 images=int(row.get("images_per_call") or 1))


def reproduce_command(row: dict) -> str:
    """`python -m core.bench ...` for a stored generation, quoted for a POSIX shell (add --force to measure anew)."""
    argv = ["python", *reproduce(row).argv()[1:]]
    return " ".join(shlex.quote(a) for a in argv if a != "--no-progress")


@dataclass
class Prepared:
    """A checked sweep: what will run, what is skipped and why, and what it will cost."""

    sweep: Sweep
    settings: Settings
    engine: Engine
    db: SqlEngine
    jobs: list[Job]
    prompts: list[Prompt]
    skipped_models: dict[str, str] = field(default_factory=dict)  # model -> why it does not run (no API key)
    pending: int = 0  # jobs not stored yet
    cost_estimate_usd: float = 0.0
    warnings: list[str] = field(default_factory=list)
    scorers: ScorerSet | None = None

    def runner(self, **kw) -> Runner:
        s = self.sweep
        params = {"models": sorted({j.spec.key for j in self.jobs}), "seeds": list(s.seeds), "steps": s.steps,
                  "guidance": s.guidance, "size": list(s.size) if s.size else None, "batch_size": s.batch_size,
                  "repeats": s.repeats, "warmup": s.warmup, "prompts_file": s.prompts_file,
                  "prompts": len(self.prompts), "negative_prompt": s.negative_prompt, "images": s.images,
                  "task": s.task, "inputs_file": s.inputs_file,
                  "params": list(s.params), "score": list(s.score), "recipes": list(s.recipes),
                  "argv": _stored_argv(s.argv()[1:])}
        if os.environ.get(BATCH_LOG_ENV):  # started in the background (core.processes): where its output goes
            params["log"] = os.environ[BATCH_LOG_ENV]
        if s.executor == "ray":
            params["executor"] = {"name": "ray", "address": s.ray_address}
            kw.setdefault("executor", RayExecutor(weights=s.weights, settings=self.settings, address=s.ray_address,
                                                  device=s.device))
        return Runner(self.engine, db=self.db, output_dir=s.out or self.settings.output_dir, mode=s.mode,
                      name=s.name, params=params, batch_size=s.batch_size, warmup=s.warmup, force=s.force,
                      scorers=self.scorers, tags=clean_tags(s.tags), notes=clean_notes(s.note), **kw)


def _check_numbers(s: Sweep) -> list[RequestError]:
    errors = []
    for name, value, low in (("batch-size", s.batch_size, 1), ("repeats", s.repeats, 1), ("warmup", s.warmup, 0),
                             ("images", s.images, 1)):
        if value < low:
            errors.append(RequestError(name, value, f"{low} or more"))
    if s.mode not in ("dev", "bench"):
        errors.append(RequestError("mode", s.mode, "dev or bench"))
    if not s.recipes:
        errors.append(RequestError("recipe", "", "one or more of " + ", ".join(RECIPES)))
    for check, value in ((clean_tags, s.tags), (clean_name, s.name), (clean_notes, s.note)):
        try:
            check(value)
        except RequestError as exc:
            errors.append(exc)
    if s.max_cost is not None and s.max_cost < 0:
        errors.append(RequestError("max-cost", s.max_cost, "0 or more USD"))
    try:
        check_executor(s.executor, s.ray_address)
    except RequestError as exc:
        errors.append(exc)
    return errors


def prepare(sweep: Sweep, *, settings: Settings | None = None, engine: Engine | None = None,
            per_model: dict[str, dict] | None = None) -> Prepared:
    """Check a sweep completely before anything loads or is sent. Raises CaseStudyError (every problem).
    `per_model` ({model key: {steps, guidance, width, height}}) overrides the sweep's settings for one model (the
    Generate page sets each model's own)."""
    settings = settings or get_settings()
    errors = _check_numbers(sweep)
    if errors:
        raise CaseStudyError("\n".join(str(e) for e in errors))
    specs = resolve_models(sweep.models, task=sweep.task)
    for spec in specs:  # a retired API model is refused first, naming its replacement (keys or not)
        if spec.is_api:
            catalog.refuse_retired(spec)
    if sweep.weights != "pretrained":
        named_api = [s.key for s in specs if s.is_api and s.key in sweep.models.split(",")]
        if named_api:
            raise CaseStudyError(f"weights: {sweep.weights!r} applies to open models only; "
                                 f"{', '.join(named_api)} {'is an API model' if len(named_api) == 1 else 'are API models'}"
                                 " (use --weights pretrained)")
        specs = [s for s in specs if not s.is_api]  # `all` with tiny/random weights: the open models
    if sweep.task == EDIT or sweep.inputs_file:
        prompts = edit_prompts(sweep)
    else:
        prompts = [Prompt(t) for t in sweep.prompts]
        if sweep.prompts_file:
            prompts += load_prompts(sweep.prompts_file)
    if not prompts:
        raise CaseStudyError("prompts: give --prompts FILE or --prompt TEXT")
    params = options.parse_params(sweep.params, settings) if sweep.params else {}
    unselected = sorted(set(params) - {s.key for s in specs})
    if unselected:
        raise RequestError("param", unselected[0], f"not among the selected models ({sweep.models})")
    options.check_images([s for s in specs if s.is_api], sweep.images)
    skipped, runnable = {}, []
    for spec in specs:  # API models without keys are skipped, with the variables to set
        missing = providers.missing_credentials(spec, settings) if spec.is_api else None
        if missing:
            skipped[spec.key] = missing
        else:
            runnable.append(spec)
    if not runnable:
        raise CaseStudyError("models: nothing can run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    db = open_store(db_url(sweep.db) if sweep.db else settings.database_url)
    engine = engine or Engine(weights=sweep.weights, device=sweep.device, settings=settings, **Engine.caches_for(db))
    width, height = sweep.size if sweep.size else (None, None)
    jobs = plan(engine, sweep_requests(runnable, prompts, sweep.seeds, steps=sweep.steps, guidance=sweep.guidance,
                                       width=width, height=height, negative_prompt=sweep.negative_prompt,
                                       repeats=sweep.repeats, num_images=sweep.images, params=params,
                                       recipes=sweep.recipes, per_model=per_model, task=sweep.task))
    prepared = Prepared(sweep=sweep, settings=settings, engine=engine, db=db, jobs=jobs, prompts=prompts,
                        skipped_models=skipped)
    todo = Runner(engine, db=db, output_dir=".", force=sweep.force).pending(jobs)
    prepared.pending = len(todo)
    prepared.cost_estimate_usd = sum(providers.estimate_cost_usd(j.spec, j.request) for j in todo if j.spec.is_api)
    if sweep.max_cost is not None and prepared.cost_estimate_usd > sweep.max_cost + 1e-9:
        raise CaseStudyError(f"max-cost: the estimate {prepared.cost_estimate_usd:.3f} USD exceeds "
                             f"--max-cost {sweep.max_cost:.3f} USD; nothing was sent")
    if sweep.score:  # metrics, weights and device checked now; the scorers load after the first model's jobs
        # an edit sweep's own pairs (a user's file) give the edit metrics their regions and captions inline
        own_items = (load_edit_items(sweep.inputs_file) if sweep.task != TEXT_TO_IMAGE and sweep.inputs_file
                     and Path(sweep.inputs_file).suffix.lower() not in IMAGE_SUFFIXES else [])
        prepared.scorers = ScorerSet(sweep.score, device=engine.device, settings=settings, edit_items=own_items,
                                     weights=sweep.scorer_weights or ("tiny" if sweep.weights == "tiny" else "pretrained"))
    slow = _slow_tiny(todo, engine)
    if slow:
        message = (f"tiny twins at real sizes take minutes per image on a CPU ({', '.join(slow)}); tiny twins are "
                   f"meant for sizes up to {int(TINY_MAX_PIXELS ** 0.5)}² (their default)")
        if not sweep.allow_slow:
            raise CaseStudyError(f"size: {message}. Drop --size, or pass --allow-slow to run anyway")
        prepared.warnings.append(message)
    return prepared


def edit_prompts(sweep: Sweep) -> list[Prompt]:
    """The instructions of an edit sweep, each with its source image (hashed once per file)."""
    if sweep.task == TEXT_TO_IMAGE:
        raise RequestError("task", sweep.task, "edit when --inputs is given (or leave --task out)")
    if not sweep.inputs_file:
        raise RequestError("inputs", "", "--task edit needs --inputs FILE: a JSONL of image and instruction, a folder "
                                         "with instructions.jsonl/.txt, or a suite name in data/edits")
    if Path(sweep.inputs_file).suffix.lower() in IMAGE_SUFFIXES:  # one source, the instructions from --prompt
        if not sweep.prompts or sweep.prompts_file:
            raise RequestError("prompt", "", f"--inputs {sweep.inputs_file} is one image: give its instruction(s) "
                                             "with --prompt TEXT")
        source = InputImage.from_path(sweep.inputs_file)
        return [Prompt(text, inputs=(source,)) for text in sweep.prompts]
    if sweep.prompts or sweep.prompts_file:
        raise RequestError("prompt", sweep.prompts[0] if sweep.prompts else sweep.prompts_file,
                           f"the instructions of an edit sweep come from --inputs {sweep.inputs_file} (or give one "
                           "image as --inputs and its instructions as --prompt)")
    hashed: dict[str, InputImage] = {}
    out = []
    for item in load_edit_items(sweep.inputs_file):
        if item.image not in hashed:
            hashed[item.image] = item.input_image()
        out.append(Prompt(item.instruction, category=item.category, inputs=(hashed[item.image],)))
    return out


def _slow_tiny(jobs: Sequence[Job], engine: Engine) -> list[str]:
    if engine.weights != "tiny" or engine.device.startswith("cuda"):
        return []
    big = {f"{j.spec.key} {j.request.width}x{j.request.height}" for j in jobs
           if not j.spec.is_api and j.request.width * j.request.height > TINY_MAX_PIXELS}
    return sorted(big)
