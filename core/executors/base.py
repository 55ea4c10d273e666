"""What every executor shares: the work it is handed, the events it hands back, and the steps one engine
takes for a model's chunks (load, warm up, generate). The local executor and each Ray worker run these same
steps, so a job means the same thing wherever it runs."""
from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field, replace
import threading
from typing import Iterator, Protocol, Sequence, Union

import torch

from core.errors import CaseStudyError, RequestError
from core.generation import Engine, Outcome
from core.recipe_jobs import EAGER, configuration
from core.recipes import apply_recipe, needs_reload
from core.request import GenerationRequest
from core.spec import ModelSpec

log = logging.getLogger(__name__)

EXECUTORS: tuple[str, ...] = ("local", "ray")


def check_executor(name: str, ray_address: str | None = None) -> None:
    """A bad --executor or --ray-address is an error naming the field, before anything starts."""
    if name not in EXECUTORS:
        raise RequestError("executor", name, " or ".join(EXECUTORS))
    if ray_address is None:
        return
    if name != "ray":
        raise RequestError("ray-address", ray_address, "only with --executor ray")
    text = ray_address.strip()
    if text == "auto":
        return
    rest = text[len("ray://"):] if text.startswith("ray://") else text
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in rest:
        raise RequestError("ray-address", ray_address, "auto, ray://HOST:PORT (Ray Client, e.g. port 10001) or "
                                                       "HOST:PORT (the head's GCS, e.g. port 6379)")


# ---- what an executor is handed and hands back ---------------------------------------------------
@dataclass(frozen=True)
class ModelWork:
    """One model's jobs, in chunks (each chunk one pipeline call where the model batches)."""

    spec: ModelSpec
    chunks: list[list]  # list[list[core.runner.Job]]
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
    job: object  # core.runner.Job
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
            shape = replace(request, prompt="", seed=0)
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
