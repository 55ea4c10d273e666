"""The `python -m core.bench` command line: run a sweep, list models or runs; subcommands for the rest.

    python -m core.bench --models all --weights tiny --prompts data/prompts/suite.jsonl --seeds 0 1
    python -m core.bench atlas [--models flux-dev] [--size 1024x1024] [--steps 28]   (the compute atlas)
    python -m core.bench --list | --list-runs

Every model runs over every prompt and seed (load → generate → unload in bench mode) through
core.runner. Each job has a stable key; a rerun skips what is stored, so a killed run resumes without
duplicates. A failed job is recorded and the run goes on. Exit codes: 0 ok, 1 something failed,
2 bad input (nothing ran), 130 cancelled.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
from typing import Sequence

from sqlalchemy.engine import make_url
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from core import processes
from core.providers import listing
from core.availability import available
from core.errors import CaseStudyError, RequestError, StoreError
from core.executors.base import EXECUTORS
from core.generation import Outcome
from core.loading import WEIGHTS
from core.recipes import RECIPES, get_recipe
from core.registry import all_specs
from core.jobs import parse_size
from core.jobs import Job
from core.runner import Cancelled, Progress
from core.scoring.scorers import parse_metrics
from core.settings import get_settings
from core.store import Generation, db_url, open_store, query_runs, run_counts, session_scope
from core.sweep import Sweep, prepare

log = logging.getLogger("core.bench")

# Subcommands: each module parses its own flags in `main(argv)`.
SUBCOMMANDS = {"atlas": "core.atlas", "score": "core.scoring.cli", "export": "core.export", "db": "core.db"}


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except RequestError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _metrics(text: str) -> tuple[str, ...]:
    try:
        return tuple(parse_metrics(text))
    except (CaseStudyError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _recipes(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    try:
        for name in names:
            get_recipe(name)
    except CaseStudyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not names:
        raise argparse.ArgumentTypeError(f"give one or more of {', '.join(RECIPES)}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench", description=__doc__.split("\n\n")[0],
                                epilog=f"subcommands: {', '.join(SUBCOMMANDS)} (python -m core.bench atlas --help)",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="all", help="comma-separated model keys, or all | open | api (default: all)")
    p.add_argument("--prompts", metavar="FILE", help="prompt file: one prompt a line, or JSONL "
                   "(prompt, negative_prompt, category); e.g. data/prompts/suite.jsonl")
    p.add_argument("--prompt", action="append", default=[], metavar="TEXT", help="a prompt (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="N", help="seeds (default: 0)")
    p.add_argument("--steps", type=int, help="denoising steps (default: each model's own)")
    p.add_argument("--guidance", type=float, help="guidance scale (default: each model's own)")
    p.add_argument("--size", type=_size, metavar="WxH", help="image size (default: each model's own)")
    p.add_argument("--negative-prompt", help="negative prompt for models that take one")
    p.add_argument("--weights", choices=WEIGHTS, default="pretrained",
                   help="pretrained (hub id or IGCS_MODELS_DIR), random (full-size, random weights) or tiny; "
                        "random and tiny run the open models only")
    p.add_argument("--images", type=int, default=1, metavar="N", help="images per request (default 1)")
    p.add_argument("--param", action="append", default=[], metavar="MODEL.NAME=VALUE",
                   help="a per-model option, e.g. gpt-image-1.5.quality=high (repeatable)")
    p.add_argument("--batch-size", type=int, default=1, metavar="N",
                   help="prompts per pipeline call where the model allows it (default 1); time and FLOPs are "
                        "shared out evenly over the batch")
    p.add_argument("--repeats", type=int, default=1, metavar="N",
                   help="timed repeats of every job (default 1); each is stored, summaries show p50/p90")
    p.add_argument("--warmup", type=int, default=0, metavar="K",
                   help="untimed calls per model and configuration before the timed ones (not stored)")
    p.add_argument("--force", action="store_true", help="measure again what is already stored (new rows)")
    p.add_argument("--mode", choices=("dev", "bench"), default="bench",
                   help="bench: load → generate → unload each model; dev: keep models resident")
    p.add_argument("--db", help="database URL or SQLite path (default: IGCS_DATABASE_URL)")
    p.add_argument("--out", help="output folder (default: IGCS_OUTPUT_DIR, data/outputs)")
    p.add_argument("--device", help="cuda, cuda:1, cpu or auto (default: IGCS_DEVICE)")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="where the jobs run: local (this process, one model at a time) or ray (one worker per GPU "
                        "of this machine or of a Ray cluster; results come back here)")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="with --executor ray: auto or ray://HOST:10001 joins a running cluster (default: start Ray "
                        "on this machine)")
    p.add_argument("--max-cost", type=float, metavar="USD", help="refuse a sweep whose API cost estimate exceeds this")
    p.add_argument("--allow-slow", action="store_true", help="run tiny twins at sizes far above their own")
    p.add_argument("--score", type=_metrics, default=(), metavar="METRICS",
                   help="quality scores after each model's jobs: comma-separated clip, pick, aesthetic")
    p.add_argument("--scorer-weights", choices=("pretrained", "tiny"),
                   help="the scorers' weights (default: tiny with --weights tiny, else pretrained)")
    p.add_argument("--recipe", type=_recipes, default=("eager",), metavar="RECIPES",
                   help=f"speed recipes, comma-separated ({', '.join(RECIPES)}); each model runs each, eager first "
                        "(default: eager)")
    p.add_argument("--name", help="a name for this run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--list", action="store_true", help="list the models (defaults, availability, price) and exit")
    p.add_argument("--list-runs", action="store_true", help="list the latest runs with their status and exit")
    return p


def sweep_from_args(args: argparse.Namespace) -> Sweep:
    return Sweep(models=args.models, prompts_file=args.prompts, prompts=tuple(args.prompt), seeds=tuple(args.seeds),
                 steps=args.steps, guidance=args.guidance, size=args.size, negative_prompt=args.negative_prompt,
                 weights=args.weights, batch_size=args.batch_size, repeats=args.repeats, warmup=args.warmup,
                 force=args.force, images=args.images, params=tuple(args.param), mode=args.mode,
                 max_cost=args.max_cost, allow_slow=args.allow_slow, score=args.score,
                 scorer_weights=args.scorer_weights, recipes=args.recipe, name=args.name, db=args.db, out=args.out,
                 device=args.device, executor=args.executor, ray_address=args.ray_address)


# ---- listings ------------------------------------------------------------------------------------
def runs_here(spec, settings) -> str:
    """What runs here, with which weights: "tiny, random; pretrained: missing" for an open model, "key set" or
    "no key" for an API model."""
    if spec.is_api:
        return "key set" if available(spec, "api", settings)[0] else "no key"
    modes = sorted(WEIGHTS, key=("tiny", "random", "pretrained").index)  # no download first
    ok = [w for w in modes if available(spec, w, settings)[0]]
    missing = [w for w in modes if w not in ok]
    return ", ".join(ok) + (f"; {', '.join(missing)}: missing" if missing else "")


def list_models() -> str:
    """The models: defaults, VRAM, what runs here with which weights; the API catalog with prices."""
    settings = get_settings()
    specs = list(all_specs())
    kinds = {s.key: f"api:{s.provider}" if s.is_api else "open" for s in specs}
    here = {s.key: runs_here(s, settings) for s in specs}
    kw, kk, hw = (max(len(v) for v in col) for col in ([s.key for s in specs], kinds.values(), here.values()))
    kw, hw = max(kw, 3), max(hw, len("runs here"))
    rows = [f"{'key':<{kw}}  {'kind':<{kk}} {'size':>9} {'steps':>5} {'cfg':>5} {'VRAM GB':>7}  {'runs here':<{hw}}  name"]
    for s in specs:
        steps = "" if s.is_api else s.steps
        cfg = "" if s.is_api else f"{s.guidance:g}"
        vram = "" if s.is_api or s.vram_gb is None else f"{s.vram_gb:g}"
        rows.append(f"{s.key:<{kw}}  {kinds[s.key]:<{kk}} {f'{s.width}x{s.height}':>9} {steps:>5} {cfg:>5} {vram:>7}  "
                    f"{here[s.key]:<{hw}}  {s.name}{' (gated)' if s.gated else ''}")
    rows.append("runs here: the weights modes this machine can run (--weights; tiny and random need no download, "
                "pretrained needs IGCS_MODELS_DIR or the Hugging Face cache), or whether the API key is set")
    text = "\n".join(rows) + "\n\nAPI models today: status and list price\n" + listing.catalog_table()
    keys = listing.key_table(settings)  # asks the providers whose keys are set (their list-models call)
    return text + ("\n\nWhat your keys can use (the providers' own model lists)\n" + keys if keys else "")


def list_runs(url: str, limit: int = 20) -> str:
    db = open_store(url)
    processes.reconcile(db)
    with session_scope(db, read_only=True) as session:
        runs = query_runs(session=session, limit=limit)
        counts = run_counts(session=session, run_ids=[r.id for r in runs])
    rows = [f"{'run':>5} {'status':<11} {'kind':<8} {'weights':<10} {'ok':>5} {'failed':>6} {'created (UTC)':<19}  name"]
    for r in runs:
        c = counts.get(r.id, {})
        rows.append(f"{r.id:>5} {r.status:<11} {r.kind:<8} {r.weights:<10} {c.get('ok', 0):>5} {c.get('failed', 0):>6} "
                    f"{r.created_at:%Y-%m-%d %H:%M:%S}  {r.name or ''}")
    return "\n".join(rows)


# ---- progress bars -------------------------------------------------------------------------------
class Bars(Progress):
    """An overall bar and one per model (tqdm)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.overall = None
        self.models: dict[str, tqdm] = {}  # one bar per model running (several at once on Ray)

    def start(self, run_id, todo, skipped) -> None:
        self.overall = tqdm(total=sum(todo.values()), desc="all models", unit="img", position=0,
                            disable=not self.enabled, dynamic_ncols=True)

    def model_start(self, key: str, jobs: int) -> None:
        self.models[key] = tqdm(total=jobs, desc=key, unit="img", position=1 + len(self.models), leave=False,
                                disable=not self.enabled, dynamic_ncols=True)

    def job_done(self, job: Job, outcome: Outcome, rows: list[Generation]) -> None:
        if job.spec.key in self.models:
            self.models[job.spec.key].update(1)
        self.overall.update(1)

    def model_done(self, key: str) -> None:
        bar = self.models.pop(key, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        if self.overall is not None:
            self.overall.close()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a store that cannot be opened (any subcommand) is one line and exit code 2."""
    try:
        return _main(argv)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    url = db_url(args.db) if args.db else settings.database_url
    if args.list:
        print(list_models())
        return 0
    if args.list_runs:
        print(list_runs(url))
        return 0
    try:
        prepared = prepare(sweep_from_args(args), settings=settings)
    except (CaseStudyError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    processes.reconcile(prepared.db)
    for key, why in prepared.skipped_models.items():
        print(f"skipping {key}: {why}", file=sys.stderr)
    for warning in prepared.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if prepared.cost_estimate_usd:
        n = sum(1 for j in prepared.jobs if j.spec.is_api)
        print(f"API cost estimate: {prepared.cost_estimate_usd:.3f} USD for up to {n} request(s)", file=sys.stderr)
    runner = prepared.runner()
    if runner.executor is not None:  # join or start Ray now: a bad address fails before the run starts
        try:
            runner.executor.connect()
        except CaseStudyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    bars = Bars(enabled=not args.no_progress)

    def _on_term(signum, frame):  # the dashboard's Cancel: finish the image in progress, then stop
        if runner.cancel.is_set():
            raise Cancelled()  # a second SIGTERM: stop now
        runner.cancel.set()
        print("cancel asked: stopping after the image in progress", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGTERM, _on_term) if threading.current_thread() is threading.main_thread() else None
    # While bars are drawn, log records go through tqdm.write: a scorer's INFO line prints above the bars, not in them.
    redirect = logging_redirect_tqdm() if bars.enabled else contextlib.nullcontext()
    try:
        with redirect:
            summary = runner.run(prepared.jobs, progress=bars)
    except StoreError as exc:  # a row the store refused: the run stopped (its status: failed)
        bars.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        bars.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    summary.database = make_url(url).render_as_string(hide_password=True)
    print(summary.table())
    if summary.status == "cancelled":
        return 130
    if runner.interrupted:
        print(f"interrupted: {runner.interrupted}", file=sys.stderr)
        return 1
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
