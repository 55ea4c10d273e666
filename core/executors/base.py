"""What every executor shares: the work it is handed, the events it hands back, and the model session: the steps one
engine takes for a model under a speed recipe (load → recipe → warm-up per configuration → jobs). The local executor
and each Ray worker run the same `ModelSession`, so a job (and a recipe) means the same thing wherever it runs."""
from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
import threading
from typing import Iterator, Protocol, Sequence, Union


from core.lazy import lazy_module
from core.errors import CaseStudyError
from core.executors import EXECUTORS, check_executor  # noqa: F401 - where the runner and the CLI find them
from core.generation import Engine, Outcome
from core.jobs import EAGER, GenerationRequest, Job, request_shape
from core.recipe_jobs import configuration
from core.recipes import apply_recipe, needs_reload
from core.spec import ModelSpec

torch = lazy_module("torch")

log = logging.getLogger(__name__)


# ---- what an executor is handed and hands back ---------------------------------------------------
@dataclass(frozen=True)
class ModelWork:
    """One model's jobs, in chunks (each chunk one pipeline call where the model batches)."""

    spec: ModelSpec
    chunks: list[list[Job]]
    warmup: int = 0
    recipe: str = EAGER  # the speed recipe these jobs run under (core.recipes)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def jobs(self) -> int:
        return sum(len(c) for c in self.chunks)


@dataclass(frozen=True)
class ModelStarted:
    key: str
    jobs: int


@dataclass(frozen=True)
class JobDone:
    job: Job
    outcome: Outcome


@dataclass(frozen=True)
class ModelDone:
    key: str
    recipe: str = EAGER
    warm_first_s: dict = field(default_factory=dict)  # configuration -> its first warm-up call (compile_s)


Event = Union[ModelStarted, JobDone, ModelDone]


class ExecutorLost(CaseStudyError):
    """The executor lost every place jobs run (a Ray node or cluster went down) with work left: the run stops as
    `interrupted`; the jobs that did not run are not recorded, so the same command resumes them."""


class Executor(Protocol):
    def run(self, work: Sequence[ModelWork], *, cancel: threading.Event) -> Iterator[Event]:
        """Run every chunk (until `cancel` is set), yielding each job's outcome exactly once."""


# ---- the steps one engine takes ------------------------------------------------------------------
def load_error(engine: Engine, spec: ModelSpec, recipe: str = EAGER, *,
               compile_backend: str = "inductor") -> tuple[str, str] | None:
    """Load an open model and bring it to `recipe` (a fresh load when the recipe it runs has steps `recipe`
    lacks); (error, traceback) when it cannot (API models load nothing)."""
    if spec.is_api:
        return None
    try:
        resident = engine.resident.get(spec.key)
        if resident is not None and needs_reload(resident.recipe, recipe):
            engine.unload(spec.key)
            torch._dynamo.reset()
        model = engine.load(spec.key)
    except Exception as exc:  # noqa: BLE001 - recorded on each of the model's jobs
        log.warning("%s did not load: %s", spec.key, exc)
        detail = traceback.format_exc()
        log.debug("%s", detail)
        if isinstance(exc, torch.cuda.OutOfMemoryError):
            torch.cuda.empty_cache()
        return f"load failed: {type(exc).__name__}: {exc}", detail
    if model.recipe != recipe:
        try:
            apply_recipe(model, recipe, backend=compile_backend)
        except Exception as exc:  # noqa: BLE001 - recorded on each of the group's jobs
            log.warning("%s: recipe %s failed: %s", spec.key, recipe, exc)
            engine.unload(spec.key)  # half-applied: the next group loads it afresh
            return f"recipe {recipe} failed: {type(exc).__name__}: {exc}", traceback.format_exc()
    return None


def failed(spec: ModelSpec, request: GenerationRequest, error: str | tuple[str, str]) -> Outcome:
    """A failed outcome: `error`, or (error, traceback) as load_error gives it."""
    error, detail = error if isinstance(error, tuple) else (error, None)
    return Outcome(spec=spec, request=request, error=error, error_detail=detail)


@dataclass
class WarmUp:
    """`count` untimed calls per configuration (size, steps, guidance ...) of a model, once each."""

    count: int
    seen: list[GenerationRequest] = field(default_factory=list)  # requests hold a dict: compared, not hashed
    first_s: dict[str, float] = field(default_factory=dict)  # configuration -> its first call (compile_s)

    def before(self, engine: Engine, spec: ModelSpec, requests: Sequence[GenerationRequest]) -> None:
        if not self.count or spec.is_api:
            return
        for request in requests:
            shape = request_shape(request)
            if shape in self.seen:
                continue
            self.seen.append(shape)
            for _ in range(self.count):
                outcome = engine.generate(request, warmup=True)
                if outcome.first_call and outcome.total_s is not None:
                    self.first_s[configuration(request)] = outcome.total_s
        for model in engine.resident.values():
            model.calls = max(model.calls, 1)  # the timed calls that follow are not first calls


def run_chunk(engine: Engine, requests: Sequence[GenerationRequest]) -> list[Outcome]:
    """One pipeline call for a batch of requests (or one request): its outcomes, in order; under a speed recipe
    each outcome's profile carries the recipe's report."""
    requests = list(requests)
    outcomes = engine.generate_batch(requests) if len(requests) > 1 else [engine.generate(requests[0])]
    model = engine.resident.get(requests[0].model)
    if model is not None and model.recipe != EAGER and model.recipe_report is not None:
        for outcome in outcomes:
            outcome.profile = {**outcome.profile, "recipe": model.recipe_report}
    return outcomes


class ModelSession:
    """One model under one speed recipe on one engine: `open()` loads it and applies the recipe (a fresh load when the
    model is resident under a recipe this one cannot follow), `run(requests)` warms up each new configuration
    (`warmup` untimed calls) and makes one pipeline call for the requests. A model that cannot load or take its
    recipe fails every request given to it with the reason. `first_s`: configuration -> its first warm-up call."""

    def __init__(self, engine: Engine, spec: ModelSpec, recipe: str = EAGER, *, warmup: int = 0,
                 compile_backend: str = "inductor"):
        self.engine, self.spec, self.recipe, self.compile_backend = engine, spec, recipe, compile_backend
        self.warm = WarmUp(warmup)
        self.error: tuple[str, str] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.spec.key, self.recipe

    @property
    def first_s(self) -> dict[str, float]:
        return dict(self.warm.first_s)

    def open(self) -> tuple[str, str] | None:
        self.error = load_error(self.engine, self.spec, self.recipe, compile_backend=self.compile_backend)
        return self.error

    def run(self, requests: Sequence[GenerationRequest]) -> list[Outcome]:
        if self.error is not None:
            return [failed(self.spec, r, self.error) for r in requests]
        self.warm.before(self.engine, self.spec, requests)
        return run_chunk(self.engine, requests)

    def close(self, *, unload: bool) -> None:
        """Unload the model (bench mode, or another model comes next); compiled graphs go with it."""
        if unload and not self.spec.is_api:
            self.engine.unload(self.spec.key)
            if self.recipe != EAGER:
                torch._dynamo.reset()
