"""The Ray executor: a run's models spread over the GPUs of one node or a cluster.

    driver (python -m core.bench)                          Ray workers
    Runner ── chunks ──► RayExecutor ── run(model, requests) ──► Worker actor (1 GPU, its own Engine)
       ▲                     │     ── run(model, requests) ──► Worker actor (k GPUs, device_map balanced)
       └── (job, Outcome) ◄──┘     ── api_chunk(requests) ───► CPU task, at most N per provider at once
    Recorder → store + images (the driver is the one writer; images come back inside the Outcome)

One actor per GPU keeps an Engine, so a model loads once per worker; a free worker takes the next model
that fits its GPU (core.executors.placement), or helps with a model that has chunks waiting. A model that
needs several GPUs gets an actor with `num_gpus=k` (its pipeline is spread with `device_map="balanced"`
by core.loading). Each worker runs two chunks deep (the next one queued), so it never waits for the driver.

Faults: a worker that dies (kill -9, out of memory) is restarted by Ray; the chunks it had run again, once,
on any worker; a chunk whose worker dies twice is recorded as failed. The driver yields every job once.
Every worker gone for good (its node or the cluster went down; a restart not back within RESTART_TIMEOUT_S)
or the cluster unreachable raises ExecutorLost: the run stops as `interrupted`, and the jobs that did not run
are not recorded (no failed rows are made up for them), so the same command resumes them.
Cancel: no new chunk is sent, queued ones are cancelled, the chunk each worker is running finishes.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from core.errors import CaseStudyError
from core.environment import physical_gpu_ids
from core.executors.base import (Event, ExecutorLost, JobDone, ModelDone, ModelSession, ModelStarted, ModelWork,
                                 failed, run_chunk)
from core.executors.placement import Candidate, choose_model, needs_by_model
from core.generation import Engine, Outcome
from core.jobs import GenerationRequest
from core.settings import Settings

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a cluster's workers get of this folder (Ray's working_dir): the code and data/ specs, not results.
UPLOAD_EXCLUDES = [".git", ".venv", "**/__pycache__", "data/outputs", "data/*.db", "data/*.db-*", "node_modules",
                   "docs", "tests"]
DEPTH = 2  # chunks queued on a worker at once: the running one and the next
MAX_RESTARTS = 3
RAY_AUTH_MODE = "RAY_AUTH_MODE"  # Ray's switch for token authentication (token | disabled)
RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _token_auth_notice(record: logging.LogRecord) -> bool:
    """Drop Ray's per-start "Token authentication is enabled" warning (connect() says what it means, once)."""
    return not record.getMessage().startswith("Token authentication is enabled for this Ray cluster")
RESTART_TIMEOUT_S = 120.0  # a worker Ray has not brought back by then is taken as lost (its node is gone)


# ---- joining or starting Ray ---------------------------------------------------------------------
def runtime_env(address: str | None) -> dict:
    """A Ray started here: workers import this checkout (PYTHONPATH). A cluster: this folder is uploaded."""
    if address is None:
        paths = [str(REPO_ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
        return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(os.path.abspath(p) for p in paths))}}
    return {"working_dir": str(REPO_ROOT), "excludes": UPLOAD_EXCLUDES}


def _reachable(address: str, timeout_s: float = 3.0) -> None:
    hostport = address[len("ray://"):] if address.startswith("ray://") else address
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise CaseStudyError(f"ray-address: nothing answers at {address} ({exc}); start the head with "
                             "`ray start --head`, or leave --ray-address out to start Ray on this machine") from None


def connect(address: str | None) -> None:
    """Join the cluster at `address` (auto, ray://HOST:PORT, HOST:PORT) or start Ray on this machine (None).
    A cluster that cannot be reached is a CaseStudyError naming --ray-address, before anything loads."""
    import ray

    if address not in (None, "auto"):
        _reachable(address)
    if ray.is_initialized():
        return
    if address is None and RAY_AUTH_MODE not in os.environ:
        # Ray starts a local cluster with token authentication unless told otherwise, and warns so on every start:
        # said here once, in words, instead of Ray's warning.
        logging.getLogger(RAY_AUTH_LOGGER).addFilter(_token_auth_notice)
        log.info("Ray starts on this machine with token authentication, its default: only processes holding the "
                 "token in ~/.ray/auth_token can join or submit work; %s=disabled opts out", RAY_AUTH_MODE)
    try:
        ray.init(address=address, runtime_env=runtime_env(address), include_dashboard=False if address is None else None,
                 logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise CaseStudyError(f"ray-address: cannot {'start Ray' if address is None else f'join Ray at {address}'}: "
                             f"{exc}") from None


# ---- what runs on the workers --------------------------------------------------------------------
def _worker_engine(weights: str, device: str, settings: Settings) -> Engine:
    """A worker's Engine: its FLOP counts and device peak cached in the worker's memory (results and caches of the
    store stay with the driver; a worker opens no store)."""
    return Engine(weights=weights, device=device, settings=settings)


class Worker:
    """A Ray actor: one GPU (or k, or a CPU slot) and one Engine; keeps one model loaded at a time."""

    def __init__(self, weights: str, device: str, settings: Settings, threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.engine = _worker_engine(weights, device, settings)
        self.settings = settings
        self.session: ModelSession | None = None  # the model × recipe this worker holds

    def info(self) -> dict:
        import ray
        import torch

        cuda = self.engine.device.startswith("cuda") and torch.cuda.is_available()
        devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if cuda else []
        free = [torch.cuda.mem_get_info(i)[0] / 1e9 for i in range(len(devices))]
        return {"host": socket.gethostname(), "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(),
                "gpu_ids": physical_gpu_ids(devices), "free_gb": min(free) if free else None}

    def run(self, key: str, recipe: str, requests: list[GenerationRequest], warmup: int
            ) -> tuple[list[Outcome], dict[str, float]]:
        """One chunk of a model × recipe group through the worker's ModelSession (the local executor's steps); its
        outcomes and the session's first warm-up call per configuration (compile_s)."""
        if self.session is None or self.session.key != (key, recipe):
            # one model at a time: another model (or a recipe the loaded one cannot follow) goes first
            if self.session is not None:
                self.session.close(unload=self.session.spec.key != key)
            self.session = ModelSession(self.engine, self.engine.spec_for(key), recipe, warmup=warmup,
                                        compile_backend=self.settings.compile_backend)
            self.session.open()
        return self.session.run(requests), self.session.first_s


_API_ENGINES: dict[str, Engine] = {}


def api_chunk(weights: str, settings: Settings, requests: list[GenerationRequest]) -> list[Outcome]:
    """A Ray task: API requests (no GPU); the worker process keeps one Engine for them."""
    if weights not in _API_ENGINES:
        _API_ENGINES[weights] = _worker_engine(weights, "cpu", settings)
    return run_chunk(_API_ENGINES[weights], requests)


# ---- the driver's side ---------------------------------------------------------------------------
@dataclass
class Chunk:
    group: tuple[str, str]  # (model key, recipe)
    jobs: list
    attempts: int = 0

    @property
    def model(self) -> str:
        return self.group[0]


@dataclass
class Slot:
    handle: object
    gpus: int  # GPUs of this worker (1 for a CPU slot)
    info: dict
    group: tuple[str, str] | None = None  # the model × recipe it holds
    inflight: deque = field(default_factory=deque)  # refs, oldest (running) first
    restarting: object = None  # after a death: the ref of an info() call that answers once Ray restarted it
    restarting_since: float = 0.0  # time.monotonic() of the death
    dead: bool = False  # restarted MAX_RESTARTS times already, or not back within RESTART_TIMEOUT_S


class RayExecutor:
    """Runs a run's chunks on Ray workers: GPU actors (or CPU actors where the cluster has no GPU) and API
    tasks bounded per provider. `connect()` first (the CLI does, before the run starts)."""

    def __init__(self, *, weights: str, settings: Settings, address: str | None = None, device: str | None = None,
                 cpu_workers: int | None = None, api_in_flight: int = 4):
        self.weights, self.settings, self.address, self.device = weights, settings, address, device
        self.cpu_workers, self.api_in_flight = cpu_workers, api_in_flight
        self.slots: list[Slot] = []
        self.retried = 0  # chunks run again after their worker died

    def connect(self) -> None:
        connect(self.address)

    # ---- workers -----------------------------------------------------------------------------
    def _actor(self, gpus: int, node: str | None = None):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        use_gpu = gpus > 0 and self._gpu_mode
        options = dict(num_gpus=gpus if use_gpu else 0, num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=0)
        if node is not None:
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
        device = "cuda" if use_gpu else "cpu"
        return ray.remote(Worker).options(**options).remote(self.weights, device, self.settings,
                                                            None if use_gpu else 1)

    def _start(self) -> None:
        """One actor per GPU (or `cpu_workers` CPU actors); then models needing k GPUs take k of a node's."""
        import ray

        resources = ray.cluster_resources()
        gpu_total = int(resources.get("GPU", 0))
        self._gpu_mode = gpu_total > 0 and (self.device in (None, "", "auto") or self.device.startswith("cuda"))
        if self._gpu_mode:
            count = gpu_total
        else:
            count = self.cpu_workers or max(1, int(resources.get("CPU", 1)) // 2)
        handles = [self._actor(1) for _ in range(count)]
        infos = ray.get([h.info.remote() for h in handles])
        self.slots = [Slot(h, 1, i) for h, i in zip(handles, infos)]

    def _split(self, needs: dict[str, int]) -> None:
        """A model needing k > 1 GPUs: k single-GPU workers of one node make way for one k-GPU worker."""
        import ray

        for k in sorted({k for k in needs.values() if k > 1}, reverse=True):
            by_node: dict[str, list[Slot]] = {}
            for slot in self.slots:
                if slot.gpus == 1 and not slot.inflight:
                    by_node.setdefault(slot.info["node"], []).append(slot)
            node = next((n for n, s in by_node.items() if len(s) >= k), None)
            if node is None:
                continue
            for slot in by_node[node][:k]:
                ray.kill(slot.handle, no_restart=True)
                self.slots.remove(slot)
            handle = self._actor(k, node)
            self.slots.append(Slot(handle, k, ray.get(handle.info.remote())))

    # ---- the run -----------------------------------------------------------------------------
    def run(self, work: Sequence[ModelWork], *, cancel: threading.Event) -> Iterator[Event]:
        import ray
        from ray.exceptions import RayActorError, TaskCancelledError, WorkerCrashedError

        self.connect()
        specs = {w.key: w.spec for w in work}
        warmups = {(w.key, w.recipe): w.warmup for w in work}
        # model × recipe groups, in the runner's order (a model's eager group first)
        queues = {(w.key, w.recipe): deque(Chunk((w.key, w.recipe), list(c)) for c in w.chunks) for w in work}
        left = {(w.key, w.recipe): w.jobs for w in work}
        self._first_s: dict[tuple[str, str], dict[str, float]] = {}
        started: set[tuple[str, str]] = set()
        pending: dict = {}  # ref -> (slot or provider, chunk)
        api_busy: dict[str, int] = {}
        open_specs = {k: s for k, s in specs.items() if not s.is_api}
        try:
            needs = {k: 1 for k in specs}
            if open_specs:
                self._start()
                free = max((s.info["free_gb"] for s in self.slots if s.info["free_gb"]), default=None)
                per_node: dict[str, int] = {}
                for slot in self.slots:
                    per_node[slot.info["node"]] = per_node.get(slot.info["node"], 0) + 1
                needs = needs_by_model(open_specs, free_gb=free, multi_gpu=self.settings.multi_gpu,
                                       max_gpus=max(per_node.values()) if self._gpu_mode else 1)
                self._split(needs)
            while any(left.values()):
                if cancel.is_set():
                    self._cancel_queued()
                else:
                    yield from self._dispatch(queues, pending, needs, warmups, started, api_busy, left)
                if not pending:
                    if cancel.is_set():
                        return
                    if any(s.restarting is not None for s in self.slots):
                        time.sleep(0.2)  # work waits for a worker Ray is restarting
                        continue
                    if self.slots and all(s.dead for s in self.slots) and any(
                            queue and not queue[0].jobs[0].spec.is_api for queue in queues.values()):
                        raise ExecutorLost(self._lost_message(left, "every Ray worker is gone for good (its node or "
                                                                    "the cluster went down)"))
                    yield from self._unrunnable(queues, left, needs, started)
                    continue
                try:
                    done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                except (ray.exceptions.RaySystemError, ConnectionError) as exc:  # the driver lost the cluster
                    raise ExecutorLost(self._lost_message(left, f"the Ray cluster cannot be reached "
                                                                f"({type(exc).__name__})")) from exc
                for ref in done:
                    owner, chunk = pending.pop(ref)
                    if isinstance(owner, Slot):
                        if ref in owner.inflight:
                            owner.inflight.remove(ref)
                    else:
                        api_busy[owner] -= 1
                    try:
                        outcomes = ray.get(ref)
                    except TaskCancelledError:
                        continue
                    except (RayActorError, WorkerCrashedError) as exc:
                        if chunk.attempts == 0 and not cancel.is_set():
                            log.warning("a worker died running %s (%s); its chunk runs again", chunk.model,
                                        type(exc).__name__)
                            chunk.attempts = 1
                            self.retried += 1
                            queues[chunk.group].appendleft(chunk)
                            if isinstance(owner, Slot):
                                owner.group = None  # it restarts empty: it takes work as a fresh worker
                                if owner.restarting is None and not owner.dead:
                                    owner.restarting = owner.handle.info.remote()
                                    owner.restarting_since = time.monotonic()
                            continue
                        outcomes = [failed(j.spec, j.request, f"worker died: {type(exc).__name__}: {exc}")
                                    for j in chunk.jobs]
                    except ray.exceptions.RayTaskError as exc:  # an error outside the engine's own handling
                        outcomes = [failed(j.spec, j.request, f"{type(exc.cause).__name__}: {exc.cause}")
                                    for j in chunk.jobs]
                    if isinstance(outcomes, tuple):  # a worker's (outcomes, first warm-up call per configuration)
                        outcomes, first_s = outcomes
                        for config, seconds in first_s.items():
                            self._first_s.setdefault(chunk.group, {}).setdefault(config, seconds)
                    for job, outcome in zip(chunk.jobs, outcomes):
                        yield JobDone(job, outcome)
                    left[chunk.group] -= len(chunk.jobs)
                    if left[chunk.group] == 0:
                        yield ModelDone(chunk.model, chunk.group[1], self._first_s.get(chunk.group, {}))
        finally:
            for slot in self.slots:
                try:
                    ray.kill(slot.handle, no_restart=True)
                except Exception:  # noqa: BLE001 - already gone
                    pass
            self.slots = []

    @staticmethod
    def _eligible(group: tuple[str, str], queues, left) -> bool:
        """A recipe group runs once the model's earlier groups are in (eager first: its images are what the recipe's
        quality delta compares with)."""
        for other in queues:
            if other == group:
                return True
            if other[0] == group[0] and left[other]:
                return False
        return True

    def _dispatch(self, queues, pending, needs, warmups, started, api_busy, left) -> Iterator[Event]:
        import ray

        for slot in self.slots:
            if not self._ready(slot):
                continue
            while len(slot.inflight) < DEPTH:
                group = slot.group if slot.group and queues[slot.group] else self._choose(slot, queues, needs, left)
                if group is None:
                    break
                slot.group = group
                chunk = queues[group].popleft()
                if group not in started:
                    started.add(group)
                    yield ModelStarted(group[0], sum(len(c.jobs) for c in queues[group]) + len(chunk.jobs))
                ref = slot.handle.run.remote(group[0], group[1], [j.request for j in chunk.jobs], warmups[group])
                slot.inflight.append(ref)
                pending[ref] = (slot, chunk)
        task = ray.remote(api_chunk).options(num_cpus=0, max_retries=0)
        for group, queue in queues.items():
            spec = queue[0].jobs[0].spec if queue else None
            if spec is None or not spec.is_api:
                continue
            while queue and api_busy.get(spec.provider, 0) < self.api_in_flight:
                chunk = queue.popleft()
                if group not in started:
                    started.add(group)
                    yield ModelStarted(group[0], sum(len(c.jobs) for c in queue) + len(chunk.jobs))
                ref = task.remote(self.weights, self.settings, [j.request for j in chunk.jobs])
                api_busy[spec.provider] = api_busy.get(spec.provider, 0) + 1
                pending[ref] = (spec.provider, chunk)

    @staticmethod
    def _ready(slot: Slot) -> bool:
        """A worker takes work unless it is dead, or restarting (its info() call has not answered yet)."""
        import ray
        from ray.exceptions import ActorDiedError, RayActorError

        if slot.dead:
            return False
        if slot.restarting is None:
            return True
        done, _ = ray.wait([slot.restarting], timeout=0)
        if not done:
            if time.monotonic() - slot.restarting_since > RESTART_TIMEOUT_S:  # its node is gone: no place to restart
                slot.dead, slot.restarting = True, None
            return False
        try:
            slot.info = ray.get(slot.restarting)
            slot.restarting = None
            return True
        except ActorDiedError:  # restarted too often: Ray gave up on it
            slot.dead, slot.restarting = True, None
        except RayActorError:  # still coming back
            slot.restarting = slot.handle.info.remote()
        return False

    def _choose(self, slot: Slot, queues, needs, left) -> tuple[str, str] | None:
        """The next model × recipe group for a free worker: the placement's choice of model (core.executors.placement),
        then that model's first group that may run."""
        candidates, groups = [], {}
        for group, queue in queues.items():
            if not queue or queue[0].jobs[0].spec.is_api or not self._eligible(group, queues, left):
                continue
            if group[0] in groups:
                continue
            groups[group[0]] = group
            workers = sum(1 for s in self.slots if s.group is not None and s.group[0] == group[0] and s is not slot)
            candidates.append(Candidate(queue[0].jobs[0].spec, len(queue), workers, needs.get(group[0], 1)))
        model = choose_model(candidates, gpus=slot.gpus, free_gb=slot.info["free_gb"])
        return groups.get(model) if model is not None else None

    def _cancel_queued(self) -> None:
        """Cancel: every chunk waiting behind a running one is dropped (not recorded: it never ran)."""
        import ray

        for slot in self.slots:
            while len(slot.inflight) > 1:
                ray.cancel(slot.inflight.pop())

    def _lost_message(self, left: dict, why: str) -> str:
        return (f"{why}, with {sum(left.values())} job(s) not run (nothing is recorded for them); resume with the "
                "same command once Ray is back (stored jobs are skipped)")

    def _unrunnable(self, queues, left, needs, started) -> Iterator[Event]:
        """Chunks no live worker can take (a model needing more GPUs than any node has free): failed rows."""
        for group, queue in queues.items():
            if queue and group not in started:  # every ModelDone follows its ModelStarted
                started.add(group)
                yield ModelStarted(group[0], sum(len(c.jobs) for c in queue))
            while queue:
                chunk = queue.popleft()
                for job in chunk.jobs:
                    yield JobDone(job, failed(job.spec, job.request,
                                              f"no Ray worker can run it: it needs {needs.get(group[0], 1)} GPU(s) "
                                              f"with {job.spec.vram_gb} GB"))
                left[group] -= len(chunk.jobs)
                if left[group] == 0:
                    yield ModelDone(group[0], group[1])
