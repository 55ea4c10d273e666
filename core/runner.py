"""Jobs: plan them, skip what is stored, run the rest, record every outcome, report each one.

Every entry point drives this module: the CLI (`python -m core.bench`), the Generate page and the
Benchmark page (through the CLI in a background process). An executor decides where jobs run, never
what a job is; this module is the one place that knows what a job is and what its key is.

    jobs = plan(engine, sweep_requests(sweep, specs))      # every request checked; nothing loaded
    summary = Runner(engine, db=db, output_dir=out).run(jobs, progress=...)

Failure policy: a model that cannot load fails its own jobs (each one a failed row) and the run goes
on with the next model; a job that fails (an API refusal, a timeout, out of memory at one size) fails
that job only, and the model's other jobs still run. Out of memory frees the CUDA cache first.
A job key another process stored meanwhile (two copies of one batch) is a skip. The run stops when the store
refuses a row (StoreError, status failed) or the executor loses every worker (a Ray node or cluster went down:
status interrupted, nothing recorded for the jobs that did not run, the same command resumes them).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import SQLAlchemyError

from core.errors import CaseStudyError, InvalidRequest, RequestError
from core.executors.base import Executor, ExecutorLost, JobDone, ModelDone, ModelStarted, ModelWork
from core.executors.local import LocalExecutor
from core.generation import Engine, Outcome
from core.prompts import Prompt
from core.recipe_jobs import Done, compile_seconds, merge, quality_deltas
from core.recipes import check_recipe
from core.recording import Recorder
from core.jobs import EAGER, EDIT, TEXT_TO_IMAGE, GenerationRequest, Job, Planned, job_key
from core.scoring.backfill import ScorerSet
from core.spec import ModelSpec
from core.store import Generation, done_job_keys, session_scope
from core.summary import Summary

log = logging.getLogger(__name__)


# ---- planning --------------------------------------------------------------------------------------
def sweep_requests(specs: Sequence[ModelSpec], prompts: Sequence[Prompt], seeds: Sequence[int], *,
                   steps: int | None = None, guidance: float | None = None, width: int | None = None,
                   height: int | None = None, negative_prompt: str | None = None, repeats: int = 1,
                   num_images: int = 1, params: dict[str, dict] | None = None,
                   recipes: Sequence[str] = (EAGER,), per_model: dict[str, dict] | None = None,
                   task: str = TEXT_TO_IMAGE) -> list[Planned]:
    """models × recipes × repeats × prompts × seeds, in that order (a model's jobs stay together, eager first;
    each recipe runs the very same requests).

    A prompt file's own negative prompt wins over `negative_prompt`; models that take none get none.
    `params` holds per-model extra options ({model key: {name: value}}), e.g. an API's quality; `per_model` per-model
    settings ({model key: {"steps", "guidance", "width", "height"}}) over the sweep-wide ones (the Generate page's).
    A prompt with inputs is an edit of them (its text the instruction); `task` is the task of the others.
    """
    if repeats < 1:
        raise RequestError("repeats", repeats, "1 or more")
    out: list[Planned] = []
    ordered = sorted(dict.fromkeys(recipes), key=lambda r: r != EAGER)
    for spec in specs:
        extra = dict((params or {}).get(spec.key, {}))
        own = {"steps": steps, "guidance": guidance, "width": width, "height": height,
               **(per_model or {}).get(spec.key, {})}
        requests: list[Planned] = []
        for repeat in range(repeats):
            for p in prompts:
                negative = p.negative_prompt if p.negative_prompt is not None else negative_prompt
                if not spec.supports_negative:
                    negative = None
                for seed in seeds:
                    requests.append(Planned(GenerationRequest(
                        model=spec.key, prompt=p.prompt, negative_prompt=negative, seed=seed, num_images=num_images,
                        extra=extra, **own, task=EDIT if p.inputs else task, inputs=tuple(p.inputs)),
                        category=p.category, repeat=repeat))
        out += [replace(item, recipe=recipe) for recipe in ordered for item in requests]
    return out


def plan(engine: Engine, items: Iterable[Planned]) -> list[Job]:
    """Check every request and recipe against its model and the device (nothing loads) and key it. Every bad
    field of every model is reported at once: `PlanError.errors` maps model key → errors. One request planned
    with several recipes is resolved once (a seed drawn for it is the same for each)."""
    jobs: list[Job] = []
    errors: dict[str, list[CaseStudyError]] = defaultdict(list)
    resolved_of: dict[int, tuple[GenerationRequest, GenerationRequest]] = {}  # id -> (request kept alive, resolved)
    for item in items:
        try:
            spec = engine.spec_for(item.request.model)
            check_recipe(item.recipe, spec, engine.device)
            if id(item.request) not in resolved_of:
                resolved_of[id(item.request)] = (item.request, engine.prepare(item.request))
            resolved = resolved_of[id(item.request)][1]
        except CaseStudyError as exc:
            found = exc.errors if isinstance(exc, InvalidRequest) else [exc]
            known = {str(e) for e in errors[item.request.model]}
            errors[item.request.model].extend(e for e in found if str(e) not in known)
            continue
        weights = "api" if spec.is_api else engine.weights
        jobs.append(Job(spec=spec, request=resolved, category=item.category, repeat=item.repeat, recipe=item.recipe,
                        key=job_key(resolved, weights=weights, repeat=item.repeat, recipe=item.recipe)))
    if errors:
        raise PlanError(dict(errors))
    return jobs


class PlanError(CaseStudyError):
    """Invalid requests: nothing was loaded. `errors`: model key → the errors of its requests."""

    def __init__(self, errors: dict[str, list[CaseStudyError]]):
        self.errors = errors
        lines = [f"{key}: {e}" for key, errs in errors.items() for e in errs]
        super().__init__("invalid request(s), nothing was loaded:\n  " + "\n  ".join(lines))


# ---- progress ------------------------------------------------------------------------------------
class Progress:
    """What the runner reports as it goes; the CLI draws bars, the Generate page shows images. No-ops here."""

    def start(self, run_id: int | None, todo: dict[str, int], skipped: int) -> None: ...

    def model_start(self, key: str, jobs: int) -> None: ...

    def job_done(self, job: Job, outcome: Outcome, rows: list[Generation]) -> None: ...

    def model_done(self, key: str) -> None: ...


class Cancelled(BaseException):  # not an Exception: nothing on the way up may record it as a failure
    pass


# ---- the runner ----------------------------------------------------------------------------------
class Runner:
    """Hands jobs to an executor (this process by default: model by model through one Engine); records every
    outcome; honours `cancel` between jobs.

    mode "bench" unloads each model after its jobs (and everything at the end); "dev" keeps them resident.
    `warmup` untimed calls run per model and configuration before its timed jobs (not stored). `force`
    measures again what is stored: the run's keys get ``@<run id>``, so nothing is skipped or overwritten.
    """

    def __init__(self, engine: Engine, *, db: SqlEngine, output_dir: str | Path, mode: str = "bench",
                 kind: str = "bench", name: str | None = None, params: dict | None = None, batch_size: int = 1,
                 warmup: int = 0, force: bool = False, scorers: ScorerSet | None = None, score_batch_size: int = 16,
                 executor: Executor | None = None, tags: Sequence[str] = (), notes: str | None = None):
        if mode not in ("dev", "bench"):
            raise RequestError("mode", mode, "dev or bench")
        if batch_size < 1:
            raise RequestError("batch_size", batch_size, "1 or more")
        if warmup < 0:
            raise RequestError("warmup", warmup, "0 or more")
        self.engine, self.db, self.output_dir, self.mode, self.kind = engine, db, output_dir, mode, kind
        self.name, self.params, self.batch_size, self.warmup, self.force = name, params or {}, batch_size, warmup, force
        self.tags, self.notes = tuple(tags), notes  # the run's annotations (core.run_notes)
        # Quality scores after each model's jobs (its images in batches); in bench mode the scorers go back to
        # the CPU before the next generator loads, so they never take the room a generator needs.
        self.scorers, self.score_batch_size = scorers, score_batch_size
        self._scored_ids: dict[str, list[int]] = {}  # model key -> ids of its ok rows not scored yet
        self._groups: dict[tuple[str, str], list[Done]] = {}  # (model, recipe) -> its jobs as recorded
        self.cancel = threading.Event()
        # Where the jobs run: this process by default (core.executors.local), or Ray workers.
        self.executor = executor
        self.recorder: Recorder | None = None
        self.interrupted: str | None = None  # why the run stopped as interrupted (its executor was lost)

    def pending(self, jobs: Sequence[Job]) -> list[Job]:
        """The jobs not stored yet (all of them with `force`)."""
        if self.force:
            return list(jobs)
        with session_scope(self.db, read_only=True) as session:
            done = done_job_keys(session=session, keys=[j.key for j in jobs])
        return [j for j in jobs if j.key not in done]

    def run(self, jobs: Sequence[Job], *, progress: Progress | None = None) -> Summary:
        progress = progress or Progress()
        t0 = time.perf_counter()
        todo = self.pending(jobs)
        summary = Summary.planned(jobs, todo)
        by_model: dict[tuple[str, str], list[Job]] = defaultdict(list)  # (model, recipe): eager first
        for job in todo:
            by_model[job.spec.key, job.recipe].append(job)
        if not todo:  # everything is stored already: no new run, no new folder
            summary.status = "nothing to do"
            progress.start(None, {}, len(jobs))
            return summary
        self.recorder = Recorder(db=self.db, output_dir=self.output_dir, kind=self.kind, mode=self.mode,
                                 weights=self.engine.weights, device=self.engine.device, name=self.name,
                                 params=self.params, jobs_total=len(todo), tags=self.tags, notes=self.notes)
        summary.run_id, summary.output_dir = self.recorder.run.id, str(self.recorder.run_dir)
        if self.force:
            todo = [replace(j, key=f"{j.key}@{summary.run_id}") for j in todo]
            by_model = defaultdict(list)
            for job in todo:
                by_model[job.spec.key, job.recipe].append(job)
        per_model: dict[str, int] = defaultdict(int)
        for (key, _recipe), group in by_model.items():
            per_model[key] += len(group)
        progress.start(summary.run_id, dict(per_model), len(jobs) - len(todo))
        work = [ModelWork(spec=model_jobs[0].spec, chunks=self._chunks(model_jobs), warmup=self.warmup, recipe=recipe)
                for (_key, recipe), model_jobs in by_model.items()]
        status = "finished"
        try:
            self._drive(work, summary, progress)
            if self.cancel.is_set():
                status = "cancelled"
        except (KeyboardInterrupt, Cancelled):
            status = "cancelled"
        except ExecutorLost as exc:  # a Ray node or cluster went down: what ran is stored, the rest resumes
            status = "interrupted"
            self.interrupted = str(exc)
        except BaseException:
            status = "failed"
            raise
        finally:
            if self.mode == "bench":
                self.engine.unload_all()
            if self.scorers is not None:
                self.scorers.close()
            if status == "finished" and summary.ok == 0 and summary.failed:
                status = "failed"  # every job failed: the run did not produce anything
            try:
                self.recorder.finish(status)
            except SQLAlchemyError as exc:  # the store went away: the run's status stays as it was
                log.warning("run %s: its status (%s) could not be stored: %s", self.recorder.run.id, status,
                            str(exc).splitlines()[0])
            summary.status = status
            summary.seconds = time.perf_counter() - t0
        return summary

    # ---- the executor's events ---------------------------------------------------------------
    def _drive(self, work: list[ModelWork], summary: Summary, progress: Progress) -> None:
        """Hand the models to the executor; record each outcome as it comes back (the one writer), score
        each model's images once its jobs are in."""
        executor = self.executor or LocalExecutor(self.engine, unload_after=self.mode == "bench",
                                                  compile_backend=self.engine.settings.compile_backend)
        open_models: list[str] = []
        events = executor.run(work, cancel=self.cancel)
        try:
            for event in events:
                if isinstance(event, ModelStarted):
                    open_models.append(event.key)
                    progress.model_start(event.key, event.jobs)
                elif isinstance(event, JobDone):
                    self._record(event.job, event.outcome, summary, progress)
                elif isinstance(event, ModelDone):
                    if event.key in open_models:
                        open_models.remove(event.key)
                    self._recipe_columns(event.key, event.recipe, event.warm_first_s)
                    self._score(event.key)
                    progress.model_done(event.key)
        finally:  # stopped early (a second Cancel, an error): the executor cleans up, what was recorded is scored
            events.close()
            for key in open_models:
                self._score(key)
                progress.model_done(key)

    def _recipe_columns(self, key: str, recipe: str, warm_first_s: dict[str, float]) -> None:
        """compile_s of the model × recipe group just run, and its images' delta against eager (core.recipe_jobs)."""
        done = self._groups.pop((key, recipe), [])
        if not done or self.recorder is None:
            return
        clip = None
        if self.scorers is not None and recipe != EAGER:
            metric = next((m for m in ("clip", "pick") if m in self.scorers.metrics), None)
            try:
                clip = self.scorers.scorer(metric) if metric else None
            except (CaseStudyError, OSError, ValueError) as exc:
                log.warning("CLIP cosine against eager skipped: %s", exc)
        try:
            self.recorder.update(merge(compile_seconds(done, warm_first_s),
                                       quality_deltas(done, db=self.db, run_id=self.recorder.run.id, clip=clip)))
        except (CaseStudyError, OSError, ValueError) as exc:
            log.warning("recipe columns skipped: %s", exc)

    def _score(self, key: str) -> None:
        """Score the images the model just made (a scorer that cannot load is logged; the run goes on)."""
        ids = self._scored_ids.pop(key, [])
        if self.scorers is None or not ids:
            return
        try:
            self.scorers.score(store_engine=self.db, generation_ids=ids, batch_size=self.score_batch_size)
        except (CaseStudyError, OSError, ValueError) as exc:
            log.warning("scoring skipped: %s", exc)
        if self.mode == "bench":
            self.scorers.offload()

    def _chunks(self, jobs: list[Job]) -> list[list[Job]]:
        """Consecutive jobs that differ only in prompt and seed (same repeat), `batch_size` at a time."""
        out: list[list[Job]] = []
        for job in jobs:
            shape = (job.shape, job.repeat)
            last = out[-1] if out else None
            if last and len(last) < self.batch_size and (last[0].shape,
                                                          last[0].repeat) == shape:
                last.append(job)
            else:
                out.append([job])
        return out

    def _record(self, job: Job, outcome: Outcome, summary: Summary, progress: Progress) -> None:
        rows = self.recorder.record(outcome, job_key=job.key, category=job.category, repeat=job.repeat,
                                    recipe=job.recipe)
        if outcome.ok and not rows:  # another process stored this job meanwhile (a second copy of the batch)
            summary.skipped[job.spec.key] = summary.skipped.get(job.spec.key, 0) + 1
            progress.job_done(job, outcome, rows)
            return
        self._groups.setdefault((job.spec.key, job.recipe), []).append(Done(job, outcome, rows))
        self._scored_ids.setdefault(job.spec.key, []).extend(r.id for r in rows if r.status == "ok")
        summary.add(rows)
        progress.job_done(job, outcome, rows)
