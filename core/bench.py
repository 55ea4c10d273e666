"""The batch runner and the `python -m core.bench` CLI.

    python -m core.bench --models all --weights tiny --prompts data/prompts/suite.jsonl --seeds 0 1
    python -m core.bench atlas [--models flux-dev] [--size 1024x1024] [--steps 28]   (the compute atlas)

Every model runs over every prompt and seed (load → generate → unload in bench mode). Each job has a
stable key (model, weights, prompt, seed, every parameter); a rerun skips keys already stored, so a
killed run resumes without duplicates. One model failing is recorded and the run goes on.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import mean
from typing import Callable, Sequence

from tqdm import tqdm

from core import providers
from core.errors import CaseStudyError
from core.generation import Engine, Outcome, Recorder
from core.loading import WEIGHTS
from core.prompts import Prompt, load_prompts
from core.spec import ModelSpec
from core.registry import resolve_models
from core.request import GenerationRequest
from core.settings import get_settings
from core.store import done_job_keys, make_engine, session_scope

log = logging.getLogger("core.bench")


@dataclass
class Job:
    spec: ModelSpec
    request: GenerationRequest  # resolved and checked
    key: str
    category: str | None = None


@dataclass
class ModelSummary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    total_s: list[float] = field(default_factory=list)
    denoise_s: list[float] = field(default_factory=list)
    peak_mem_gb: list[float] = field(default_factory=list)
    load_s: float | None = None
    cost_usd: float = 0.0
    error: str | None = None


@dataclass
class Summary:
    run_id: int | None
    models: dict[str, ModelSummary]
    seconds: float = 0.0
    status: str = "finished"

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.models.values())

    def table(self) -> str:
        head = f"{'model':<16} {'ok':>4} {'fail':>4} {'skip':>4} {'load s':>8} {'mean s':>8} {'denoise s':>9} {'peak GB':>8} {'USD':>7}"
        lines = [head, "-" * len(head)]
        fmt = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
        for key, m in self.models.items():
            lines.append(
                f"{key:<16} {m.ok:>4} {m.failed:>4} {m.skipped:>4} {fmt(m.load_s):>8} "
                f"{fmt(mean(m.total_s) if m.total_s else None, 3):>8} "
                f"{fmt(mean(m.denoise_s) if m.denoise_s else None, 3):>9} "
                f"{fmt(max(m.peak_mem_gb) if m.peak_mem_gb else None):>8} {fmt(m.cost_usd or None, 3):>7}"
            )
        ok = sum(m.ok for m in self.models.values())
        skipped = sum(m.skipped for m in self.models.values())
        lines.append(f"run {self.run_id}: {ok} generated, {self.failed} failed, {skipped} already stored; "
                     f"{self.seconds:.1f} s; status {self.status}")
        errors = [f"  {k}: {m.error}" for k, m in self.models.items() if m.error]
        if errors:
            lines += ["errors:", *errors]
        return "\n".join(lines)


def build_jobs(engine: Engine, specs: Sequence[ModelSpec], prompts: Sequence[Prompt], seeds: Sequence[int], *,
               steps: int | None = None, guidance: float | None = None, width: int | None = None,
               height: int | None = None, negative_prompt: str | None = None) -> list[Job]:
    """Every (model, prompt, seed) as a checked request. All errors are collected and raised together."""
    jobs: list[Job] = []
    errors: list[str] = []
    for spec in specs:
        for p in prompts:
            negative = p.negative_prompt if p.negative_prompt is not None else negative_prompt
            if not spec.supports_negative:
                negative = None  # a suite's negative prompts apply to the models that take one
            for seed in seeds:
                req = GenerationRequest(model=spec.key, prompt=p.prompt, negative_prompt=negative, seed=seed,
                                        steps=steps, guidance=guidance, width=width, height=height)
                try:
                    resolved = engine.prepare(req)
                except CaseStudyError as exc:
                    msg = f"{spec.key}: {exc}"
                    if msg not in errors:
                        errors.append(msg)
                    continue
                jobs.append(Job(spec=spec, request=resolved, key=resolved.job_key(engine.weights if not spec.is_api else "api"),
                                category=p.category))
    if errors:
        raise CaseStudyError("invalid request(s), nothing was loaded:\n  " + "\n  ".join(errors))
    return jobs


class Cancelled(BaseException):  # not an Exception: generate() must not record it as a failure
    pass


class BenchRunner:
    """Runs jobs model by model; records every outcome; honours a cancel event between jobs."""

    def __init__(self, engine: Engine, *, db, output_dir: str | Path, mode: str = "bench",
                 progress: bool = True, name: str | None = None, params: dict | None = None,
                 on_result: Callable[[Job, Outcome], None] | None = None, batch_size: int = 1):
        if mode not in ("dev", "bench"):
            raise ValueError(f"mode: {mode!r} is not allowed; choose dev or bench")
        if batch_size < 1:
            raise ValueError(f"batch_size: {batch_size} is not allowed; 1 or more")
        self.batch_size = batch_size
        self.engine, self.db, self.output_dir, self.mode = engine, db, output_dir, mode
        self.progress, self.name, self.params, self.on_result = progress, name, params or {}, on_result
        self.cancel = threading.Event()

    def run(self, jobs: list[Job], *, kind: str = "bench") -> Summary:
        import time

        t0 = time.perf_counter()
        summary = Summary(run_id=None, models={})
        by_model: dict[str, list[Job]] = defaultdict(list)
        for job in jobs:
            by_model[job.spec.key].append(job)
            summary.models.setdefault(job.spec.key, ModelSummary())
        with session_scope(self.db) as session:
            done = done_job_keys(session=session, keys=[j.key for j in jobs])
        todo = [j for j in jobs if j.key not in done]
        for job in jobs:
            if job.key in done:
                summary.models[job.spec.key].skipped += 1
        if not todo:  # everything is stored already: no new run, no new folder
            summary.status = "nothing to do"
            return summary
        recorder = Recorder(db=self.db, output_dir=self.output_dir, kind=kind, mode=self.mode,
                            weights=self.engine.weights, device=self.engine.device, name=self.name,
                            params=self.params, jobs_total=len(todo))
        summary.run_id = recorder.run.id
        status = "finished"
        overall = tqdm(total=len(todo), desc="all models", unit="img", position=0, disable=not self.progress,
                       dynamic_ncols=True)
        try:
            for key, model_jobs in by_model.items():
                pending = [j for j in model_jobs if j.key not in done]
                if not pending:
                    continue
                self._run_model(key, pending, recorder, summary.models[key], overall)
            if self.cancel.is_set():
                status = "cancelled"
        except (KeyboardInterrupt, Cancelled):
            status = "cancelled"
        except BaseException:
            status = "failed"
            raise
        finally:
            overall.close()
            if self.mode == "bench":
                self.engine.unload_all()
            recorder.finish(status)
            summary.status = status
            summary.seconds = time.perf_counter() - t0
        return summary

    def _chunks(self, jobs: list[Job]) -> list[list[Job]]:
        """Consecutive jobs that differ only in prompt and seed, `batch_size` at a time."""
        out: list[list[Job]] = []
        for job in jobs:
            shape = replace(job.request, prompt="", seed=0)
            last = out[-1] if out else None
            if (last and len(last) < self.batch_size
                    and replace(last[0].request, prompt="", seed=0) == shape):
                last.append(job)
            else:
                out.append([job])
        return out

    def _run_model(self, key: str, jobs: list[Job], recorder: Recorder, ms: ModelSummary, overall) -> None:
        bar = tqdm(total=len(jobs), desc=key, unit="img", position=1, leave=False, disable=not self.progress,
                   dynamic_ncols=True)
        try:
            done = 0
            for chunk in self._chunks(jobs):
                if self.cancel.is_set():
                    return
                if len(chunk) == 1:
                    outcomes = [self.engine.generate(chunk[0].request)]
                else:
                    outcomes = self.engine.generate_batch([j.request for j in chunk])
                failure = None
                for job, outcome in zip(chunk, outcomes):
                    recorder.record(outcome, job_key=job.key, category=job.category)
                    done += 1
                    if outcome.load_s is not None:
                        ms.load_s = outcome.load_s
                    if self.on_result:
                        self.on_result(job, outcome)
                    bar.update(1)
                    overall.update(1)
                    if outcome.ok:
                        ms.ok += len(outcome.images)
                        ms.cost_usd += outcome.cost_usd or 0.0
                        if outcome.total_s is not None:
                            ms.total_s.append(outcome.total_s)
                        if "denoise" in outcome.stage_s:
                            ms.denoise_s.append(outcome.stage_s["denoise"])
                        if outcome.peak_mem_gb is not None:
                            ms.peak_mem_gb.append(outcome.peak_mem_gb)
                    else:
                        ms.failed += 1
                        failure = failure or outcome.error
                if failure is None:
                    continue
                # This model failed: record the jobs it will not run, free it, go on with the next model.
                ms.error = failure
                for other in jobs[done:]:
                    skipped = Outcome(spec=other.spec, request=other.request,
                                      error=f"not run: {key} failed earlier in this run ({failure})")
                    recorder.record(skipped, job_key=other.key, category=other.category)
                    ms.failed += 1
                    overall.update(1)
                return
        finally:
            bar.close()
            if self.mode == "bench":
                self.engine.unload(key)


# ---- CLI -----------------------------------------------------------------------------------------
def _size(text: str) -> tuple[int, int]:
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x", 1)
            return int(w), int(h)
        return int(text), int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size: {text!r} is not WIDTHxHEIGHT or N (e.g. 1024x768 or 512)") from None


def _db_url(text: str) -> str:
    return text if "://" in text else f"sqlite:///{text}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="all",
                   help="comma-separated model keys, or all | open | api (default: all)")
    p.add_argument("--prompts", metavar="FILE", help="prompt file: one prompt a line, or JSONL "
                   "(prompt, negative_prompt, category); e.g. data/prompts/suite.jsonl")
    p.add_argument("--prompt", action="append", default=[], metavar="TEXT", help="a prompt (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="N", help="seeds (default: 0)")
    p.add_argument("--steps", type=int, help="denoising steps (default: each model's own)")
    p.add_argument("--guidance", type=float, help="guidance scale (default: each model's own)")
    p.add_argument("--size", type=_size, metavar="WxH", help="image size (default: each model's own)")
    p.add_argument("--negative-prompt", help="negative prompt for models that take one")
    p.add_argument("--weights", choices=WEIGHTS, default="pretrained",
                   help="pretrained (hub id or IGCS_MODELS_DIR), random (full-size, random weights) or tiny")
    p.add_argument("--batch-size", type=int, default=1, metavar="N",
                   help="prompts per pipeline call where the model allows it (default 1); time and FLOPs are "
                        "shared out evenly over the batch")
    p.add_argument("--mode", choices=("dev", "bench"), default="bench",
                   help="bench: load → generate → unload each model; dev: keep models resident")
    p.add_argument("--db", type=_db_url, help="database URL or SQLite path (default: IGCS_DATABASE_URL)")
    p.add_argument("--out", help="output folder (default: IGCS_OUTPUT_DIR, data/outputs)")
    p.add_argument("--device", help="cuda, cuda:1, cpu or auto (default: IGCS_DEVICE)")
    p.add_argument("--max-cost", type=float, metavar="USD", help="refuse a sweep whose API cost estimate exceeds this")
    p.add_argument("--name", help="a name for this run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--list", action="store_true", help="list the models and exit")
    return p


def _list_models() -> str:
    from core.registry import all_specs

    rows = [f"{'key':<16} {'kind':<5} {'size':>9} {'steps':>5} {'cfg':>6} {'VRAM GB':>7}  name"]
    for s in all_specs():
        size = f"{s.width}x{s.height}"
        rows.append(f"{s.key:<16} {s.kind:<5} {size:>9} {s.steps:>5} {s.guidance:>6} "
                    f"{'' if s.vram_gb is None else s.vram_gb:>7}  {s.name}{' (gated)' if s.gated else ''}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "atlas":  # the compute atlas (core.atlas): FLOPs and parameters from architectures
        from core import atlas

        return atlas.main(argv[1:])
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.list:
        print(_list_models())
        return 0
    settings = get_settings()
    try:
        if args.batch_size < 1:
            raise CaseStudyError(f"batch-size: {args.batch_size} is not allowed; 1 or more")
        specs = resolve_models(args.models)
        if args.weights != "pretrained":
            named_api = [s.key for s in specs if s.is_api and s.key in args.models.split(",")]
            if named_api:
                raise CaseStudyError(f"weights: {args.weights!r} applies to open models only; "
                                     f"{', '.join(named_api)} are API models (use --weights pretrained)")
            specs = [s for s in specs if not s.is_api]  # `all` with tiny/random weights: the open models
        prompts = [Prompt(t) for t in args.prompt]
        if args.prompts:
            prompts += load_prompts(args.prompts)
        if not prompts:
            raise CaseStudyError("prompts: give --prompts FILE or --prompt TEXT")
        # API models without keys are skipped, with the variables to set.
        runnable = []
        for spec in specs:
            missing = providers.missing_credentials(spec, settings) if spec.is_api else None
            if missing:
                print(f"skipping {spec.key}: {missing}", file=sys.stderr)
            else:
                runnable.append(spec)
        engine = Engine(weights=args.weights, device=args.device, settings=settings,
                        db_url=args.db or settings.database_url)
        width, height = args.size if args.size else (None, None)
        jobs = build_jobs(engine, runnable, prompts, args.seeds, steps=args.steps, guidance=args.guidance,
                          width=width, height=height, negative_prompt=args.negative_prompt)
    except (CaseStudyError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    db = make_engine(args.db or settings.database_url)
    with session_scope(db) as session:
        done = done_job_keys(session=session, keys=[j.key for j in jobs])
    api_jobs = [j for j in jobs if j.spec.is_api and j.key not in done]
    if api_jobs:
        estimate = sum(providers.estimate_cost_usd(j.spec, j.request) for j in api_jobs)
        print(f"API cost estimate: {estimate:.3f} USD for {len(api_jobs)} request(s)", file=sys.stderr)
        if args.max_cost is not None and estimate > args.max_cost + 1e-9:
            print(f"error: max-cost: the estimate {estimate:.3f} USD exceeds --max-cost {args.max_cost:.3f} USD; "
                  "nothing was sent", file=sys.stderr)
            return 2
    params = {"models": [s.key for s in runnable], "seeds": args.seeds, "steps": args.steps,
              "guidance": args.guidance, "size": list(args.size) if args.size else None,
              "batch_size": args.batch_size, "prompts_file": args.prompts, "prompts": len(prompts), "negative_prompt": args.negative_prompt}
    runner = BenchRunner(engine, db=db, output_dir=args.out or settings.output_dir, mode=args.mode,
                         progress=not args.no_progress, name=args.name, params=params,
                         batch_size=args.batch_size)

    def _on_term(signum, frame):  # the dashboard's cancel button sends SIGTERM
        runner.cancel.set()
        raise Cancelled()

    previous = signal.signal(signal.SIGTERM, _on_term) if threading.current_thread() is threading.main_thread() else None
    try:
        summary = runner.run(jobs)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(summary.table())
    if summary.status == "cancelled":
        return 130
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
