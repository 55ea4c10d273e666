"""Jobs: plan them, skip what is stored, run the rest, record every outcome, report each one.

Every entry point drives this module: the CLI (`python -m core.bench`), the Generate page and the
Benchmark page (through the CLI in a background process). An executor decides where jobs run, never
what a job is; this module is the one place that knows what a job is and what its key is.

    jobs = plan(engine, sweep_requests(sweep, specs))      # every request checked; nothing loaded
    summary = Runner(engine, db=db, output_dir=out).run(jobs, progress=...)

Failure policy: a model that cannot load fails its own jobs (each one a failed row) and the run goes
on with the next model; a job that fails (an API refusal, a timeout, out of memory at one size) fails
that job only, and the model's other jobs still run. Out of memory frees the CUDA cache first.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

import torch
from sqlalchemy.engine import Engine as SqlEngine

from core.errors import CaseStudyError, InvalidRequest, RequestError
from core.generation import Engine, Outcome
from core.prompts import Prompt
from core.recipe_jobs import EAGER, Done, compile_seconds, configuration, merge, quality_deltas, recipe_key
from core.recipes import apply_recipe, check_recipe, needs_reload
from core.recording import Recorder
from core.request import GenerationRequest
from core.scoring.backfill import ScorerSet
from core.spec import ModelSpec
from core.store import Generation, done_job_keys, session_scope
from core.summary import Summary

log = logging.getLogger(__name__)


# ---- jobs and their keys -------------------------------------------------------------------------
def job_key(request: GenerationRequest, *, weights: str, repeat: int = 0, recipe: str = EAGER) -> str:
    """The stable key of a job: model, weights, prompt, seed, every parameter, the speed recipe and the repeat.

    Eager, repeat 0 has the bare request key (what stores written before repeats and recipes existed hold);
    another recipe adds ``~<recipe>``, repeat r > 0 ``#r<r>``. Resume skips keys already stored ok.
    """
    base = recipe_key(request.job_key(weights), recipe)
    return base if repeat == 0 else f"{base}#r{repeat}"


@dataclass(frozen=True)
class Job:
    spec: ModelSpec
    request: GenerationRequest  # resolved and checked
    key: str
    category: str | None = None
    repeat: int = 0
    recipe: str = EAGER  # speed recipe (core.recipes)


@dataclass(frozen=True)
class Planned:
    """One request to plan, before checking: what a page or the CLI asks for."""

    request: GenerationRequest
    category: str | None = None
    repeat: int = 0
    recipe: str = EAGER


def sweep_requests(specs: Sequence[ModelSpec], prompts: Sequence[Prompt], seeds: Sequence[int], *,
                   steps: int | None = None, guidance: float | None = None, width: int | None = None,
                   height: int | None = None, negative_prompt: str | None = None, repeats: int = 1,
                   num_images: int = 1, params: dict[str, dict] | None = None,
                   recipes: Sequence[str] = (EAGER,)) -> list[Planned]:
    """models × recipes × repeats × prompts × seeds, in that order (a model's jobs stay together, eager first;
    each recipe runs the very same requests).

    A prompt file's own negative prompt wins over `negative_prompt`; models that take none get none.
    `params` holds per-model extra options ({model key: {name: value}}), e.g. an API's quality.
    """
    if repeats < 1:
        raise RequestError("repeats", repeats, "1 or more")
    out: list[Planned] = []
    ordered = sorted(dict.fromkeys(recipes), key=lambda r: r != EAGER)
    for spec in specs:
        extra = dict((params or {}).get(spec.key, {}))
        requests: list[Planned] = []
        for repeat in range(repeats):
            for p in prompts:
                negative = p.negative_prompt if p.negative_prompt is not None else negative_prompt
                if not spec.supports_negative:
                    negative = None
                for seed in seeds:
                    requests.append(Planned(GenerationRequest(
                        model=spec.key, prompt=p.prompt, negative_prompt=negative, seed=seed, steps=steps,
                        guidance=guidance, width=width, height=height, num_images=num_images, extra=extra),
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
    """Runs jobs model by model through one Engine; records every outcome; honours `cancel` between jobs.

    mode "bench" unloads each model after its jobs (and everything at the end); "dev" keeps them resident.
    `warmup` untimed calls run per model and configuration before its timed jobs (not stored). `force`
    measures again what is stored: the run's keys get ``@<run id>``, so nothing is skipped or overwritten.
    """

    def __init__(self, engine: Engine, *, db: SqlEngine, output_dir: str | Path, mode: str = "bench",
                 kind: str = "bench", name: str | None = None, params: dict | None = None, batch_size: int = 1,
                 warmup: int = 0, force: bool = False, scorers: ScorerSet | None = None, score_batch_size: int = 16):
        if mode not in ("dev", "bench"):
            raise RequestError("mode", mode, "dev or bench")
        if batch_size < 1:
            raise RequestError("batch_size", batch_size, "1 or more")
        if warmup < 0:
            raise RequestError("warmup", warmup, "0 or more")
        self.engine, self.db, self.output_dir, self.mode, self.kind = engine, db, output_dir, mode, kind
        self.name, self.params, self.batch_size, self.warmup, self.force = name, params or {}, batch_size, warmup, force
        # Quality scores after each model's jobs (its images in batches); in bench mode the scorers go back to
        # the CPU before the next generator loads, so they never take the room a generator needs.
        self.scorers, self.score_batch_size = scorers, score_batch_size
        self._scored_ids: list[int] = []
        self._group: list[Done] = []  # the jobs of the model × recipe running now, as recorded
        self._warm_first_s: dict[str, float] = {}  # configuration -> its first warm-up call (compile_s)
        self.cancel = threading.Event()
        self.recorder: Recorder | None = None

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
                                 params=self.params, jobs_total=len(todo))
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
        status = "finished"
        try:
            groups = list(by_model.items())
            for i, ((key, _recipe), model_jobs) in enumerate(groups):
                if self.cancel.is_set():
                    break
                last = i + 1 == len(groups) or groups[i + 1][0][0] != key  # the model's next group reuses it
                self._run_model(key, model_jobs, summary, progress, unload=last)
            if self.cancel.is_set():
                status = "cancelled"
        except (KeyboardInterrupt, Cancelled):
            status = "cancelled"
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
            self.recorder.finish(status)
            summary.status = status
            summary.seconds = time.perf_counter() - t0
        return summary

    # ---- one model ---------------------------------------------------------------------------
    def _run_model(self, key: str, jobs: list[Job], summary: Summary, progress: Progress, *,
                   unload: bool = True) -> None:
        """One model's jobs of one recipe; `unload` (bench mode): unload after them (not when its next recipe
        follows)."""
        progress.model_start(key, len(jobs))
        self._group, self._warm_first_s = [], {}
        try:
            load_error = self._load(jobs[0].spec, jobs[0].recipe)
            if load_error is not None:  # the model's jobs fail; the next model runs
                error, detail = load_error
                for job in jobs:
                    self._record(job, Outcome(spec=job.spec, request=job.request, error=error, error_detail=detail),
                                 summary, progress)
                return
            if self.warmup:
                self._warm_up(jobs)
            for chunk in self._chunks(jobs):
                if self.cancel.is_set():
                    return
                outcomes = (self.engine.generate_batch([j.request for j in chunk]) if len(chunk) > 1
                            else [self.engine.generate(chunk[0].request)])
                for job, outcome in zip(chunk, outcomes):
                    self._record(job, outcome, summary, progress)
        finally:
            recipe = jobs[0].recipe
            if self.mode == "bench" and unload:
                self.engine.unload(key)
                if recipe != EAGER:
                    torch._dynamo.reset()  # compiled graphs of the unloaded model go too
            self._recipe_columns()
            self._score()
            progress.model_done(key)

    def _recipe_columns(self) -> None:
        """compile_s of the group just run, and its images' delta against eager (core.recipe_jobs)."""
        done, self._group = self._group, []
        if not done or self.recorder is None:
            return
        clip = None
        if self.scorers is not None and done[0].job.recipe != EAGER:
            metric = next((m for m in ("clip", "pick") if m in self.scorers.metrics), None)
            try:
                clip = self.scorers.scorer(metric) if metric else None
            except (CaseStudyError, OSError, ValueError) as exc:
                log.warning("CLIP cosine against eager skipped: %s", exc)
        try:
            self.recorder.update(merge(compile_seconds(done, self._warm_first_s),
                                       quality_deltas(done, db=self.db, run_id=self.recorder.run.id, clip=clip)))
        except (CaseStudyError, OSError, ValueError) as exc:
            log.warning("recipe columns skipped: %s", exc)

    def _score(self) -> None:
        """Score the images the model just made (a scorer that cannot load is logged; the run goes on)."""
        ids, self._scored_ids = self._scored_ids, []
        if self.scorers is None or not ids:
            return
        try:
            self.scorers.score(store_engine=self.db, generation_ids=ids, batch_size=self.score_batch_size)
        except (CaseStudyError, OSError, ValueError) as exc:
            log.warning("scoring skipped: %s", exc)
        if self.mode == "bench":
            self.scorers.offload()

    def _load(self, spec: ModelSpec, recipe: str = EAGER) -> tuple[str, str] | None:
        """Load an open model and bring it to `recipe` (a fresh load when the one it runs has steps `recipe` lacks);
        (error, traceback) when it cannot (API models load nothing)."""
        if spec.is_api:
            return None
        try:
            resident = self.engine.resident.get(spec.key)
            if resident is not None and needs_reload(resident.recipe, recipe):
                self.engine.unload(spec.key)
                torch._dynamo.reset()
            model = self.engine.load(spec.key)
            if model.recipe != recipe:
                try:
                    apply_recipe(model, recipe, backend=self.engine.settings.compile_backend)
                except Exception as exc:  # noqa: BLE001 - recorded on each of the group's jobs
                    log.warning("%s: recipe %s failed: %s", spec.key, recipe, exc)
                    self.engine.unload(spec.key)  # half-applied: the next group loads it afresh
                    return f"recipe {recipe} failed: {type(exc).__name__}: {exc}", traceback.format_exc()
            return None
        except Exception as exc:  # noqa: BLE001 - recorded on each of the model's jobs
            log.warning("%s did not load: %s", spec.key, exc)
            detail = traceback.format_exc()
            log.debug("%s", detail)
            if isinstance(exc, torch.cuda.OutOfMemoryError):
                torch.cuda.empty_cache()
            return f"load failed: {type(exc).__name__}: {exc}", detail

    def _warm_up(self, jobs: list[Job]) -> None:
        """`warmup` untimed calls per configuration (size, steps, guidance ...), before the timed jobs."""
        seen: list[GenerationRequest] = []  # requests hold a dict (extra): compared, not hashed
        for job in jobs:
            shape = replace(job.request, prompt="", seed=0)
            if job.spec.is_api or shape in seen:
                continue
            seen.append(shape)
            for _ in range(self.warmup):
                outcome = self.engine.generate(job.request)
                if outcome.first_call and outcome.total_s is not None:
                    self._warm_first_s[configuration(job.request)] = outcome.total_s
        for model in self.engine.resident.values():
            model.calls = max(model.calls, 1)  # the timed calls that follow are not first calls

    def _chunks(self, jobs: list[Job]) -> list[list[Job]]:
        """Consecutive jobs that differ only in prompt and seed (same repeat), `batch_size` at a time."""
        out: list[list[Job]] = []
        for job in jobs:
            shape = (replace(job.request, prompt="", seed=0), job.repeat)
            last = out[-1] if out else None
            if last and len(last) < self.batch_size and (replace(last[0].request, prompt="", seed=0),
                                                          last[0].repeat) == shape:
                last.append(job)
            else:
                out.append([job])
        return out

    def _record(self, job: Job, outcome: Outcome, summary: Summary, progress: Progress) -> None:
        model = self.engine.resident.get(job.spec.key)
        if job.recipe != EAGER and model is not None and model.recipe_report is not None:
            outcome.profile = {**outcome.profile, "recipe": model.recipe_report}
        rows = self.recorder.record(outcome, job_key=job.key, category=job.category, repeat=job.repeat,
                                    recipe=job.recipe)
        self._group.append(Done(job, outcome, rows))
        self._scored_ids.extend(r.id for r in rows if r.status == "ok")
        summary.add(job, outcome)
        progress.job_done(job, outcome, rows)
