"""What `python -m core.bench` runs once core.bench has parsed its flags: a sweep with progress bars, and
`--list-runs` (`--list` is core.cli.listing). Kept apart from the parser so that `--help` and a bad flag never import torch, diffusers or the store.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading

from sqlalchemy.engine import make_url
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from core import processes
from core.cli.bench import parser
from core.errors import CaseStudyError, StoreError
from core.generation import Outcome
from core.jobs import EDIT, TEXT_TO_IMAGE, Job
from core.runner import Cancelled, Progress
from core.scoring.metrics import parse_metrics
from core.settings import get_settings
from core.store import Generation, db_url, open_store, query_runs, run_counts, session_scope
from core.sweep import Sweep, prepare

log = logging.getLogger("core.bench")


def sweep_from_args(args: argparse.Namespace) -> Sweep:
    return Sweep(models=args.models, prompts_file=args.prompts, prompts=tuple(args.prompt), seeds=tuple(args.seeds),
                 task=args.task or (EDIT if args.inputs else TEXT_TO_IMAGE), inputs_file=args.inputs,
                 steps=args.steps, guidance=args.guidance, size=args.size, negative_prompt=args.negative_prompt,
                 weights=args.weights, batch_size=args.batch_size, repeats=args.repeats, warmup=args.warmup,
                 force=args.force, images=args.images, params=tuple(args.param), mode=args.mode,
                 max_cost=args.max_cost, allow_slow=args.allow_slow, score=args.score,
                 scorer_weights=args.scorer_weights, recipes=args.recipe, name=args.name, tags=tuple(args.tag),
                 note=args.note, db=args.db, out=args.out, device=args.device, executor=args.executor,
                 ray_address=args.ray_address)


# ---- listings ------------------------------------------------------------------------------------
def list_runs(url: str, limit: int = 20, tag: str | None = None) -> str:
    """The newest runs (those carrying `tag` when given) with their counts, tags and name; notes on a line below."""
    db = open_store(url)
    processes.reconcile(db)
    with session_scope(db, read_only=True) as session:
        runs = query_runs(session=session, limit=limit, tag=tag)
        counts = run_counts(session=session, run_ids=[r.id for r in runs])
    tags = {r.id: ",".join(r.tags or []) for r in runs}
    width = max([4, *(len(t) for t in tags.values())])
    rows = [f"{'run':>5} {'status':<11} {'kind':<8} {'weights':<10} {'ok':>5} {'failed':>6} {'created (UTC)':<19}  "
            f"{'tags':<{width}}  name"]
    for r in runs:
        c = counts.get(r.id, {})
        rows.append(f"{r.id:>5} {r.status:<11} {r.kind:<8} {r.weights:<10} {c.get('ok', 0):>5} {c.get('failed', 0):>6} "
                    f"{r.created_at:%Y-%m-%d %H:%M:%S}  {tags[r.id]:<{width}}  {r.name or ''}".rstrip())
        if r.notes:
            note = " ".join(r.notes.split())
            rows.append(f"{'':>5} note: {note if len(note) <= 100 else note[:99] + '…'}")
    if not runs:
        rows.append(f"(no runs{f' tagged {tag}' if tag else ''})")
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


def run(args: argparse.Namespace) -> int:
    """`python -m core.bench` once its flags are parsed (core.bench): a sweep, or --list-runs."""
    if args.score:
        try:
            args.score = tuple(parse_metrics(args.score))
        except (CaseStudyError, ValueError) as exc:
            parser().error(f"argument --score: {exc}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    url = db_url(args.db) if args.db else settings.database_url
    if args.list_runs:
        if len(args.tag) > 1:
            print("error: tag: --list-runs takes one --tag", file=sys.stderr)
            return 2
        try:
            print(list_runs(url, tag=args.tag[0] if args.tag else None))
        except CaseStudyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
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


