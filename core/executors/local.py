"""The local executor: this process, one model at a time on the engine's device (load → warm up →
generate its chunks → unload in bench mode). `cancel` is honoured between chunks."""
from __future__ import annotations

import threading
from typing import Iterator, Sequence

import torch

from core.executors.base import Event, JobDone, ModelDone, ModelStarted, ModelWork, WarmUp, failed, load_error, run_chunk
from core.generation import Engine
from core.jobs import EAGER


class LocalExecutor:
    def __init__(self, engine: Engine, *, unload_after: bool = True, compile_backend: str = "inductor"):
        self.engine, self.unload_after, self.compile_backend = engine, unload_after, compile_backend

    def run(self, work: Sequence[ModelWork], *, cancel: threading.Event) -> Iterator[Event]:
        for i, model in enumerate(work):
            if cancel.is_set():
                return
            yield ModelStarted(model.key, model.jobs)
            warm = WarmUp(model.warmup)
            try:
                yield from self._model(model, warm, cancel)
            finally:
                # bench mode: unload after the model's last recipe group (its next recipe reuses the load)
                last = i + 1 == len(work) or work[i + 1].key != model.key or cancel.is_set()
                if self.unload_after and last:
                    self.engine.unload(model.key)
                    if model.recipe != EAGER:
                        torch._dynamo.reset()  # the unloaded model's compiled graphs go too
            yield ModelDone(model.key, model.recipe, dict(warm.first_s))

    def _model(self, model: ModelWork, warm: WarmUp, cancel: threading.Event) -> Iterator[Event]:
        error = load_error(self.engine, model.spec, model.recipe, compile_backend=self.compile_backend)
        if error is not None:  # the model's jobs fail; the next model runs
            for chunk in model.chunks:
                for job in chunk:
                    yield JobDone(job, failed(job.spec, job.request, error))
            return
        warm.before(self.engine, model.spec, [j.request for c in model.chunks for j in c])
        for chunk in model.chunks:
            if cancel.is_set():
                return
            for job, outcome in zip(chunk, run_chunk(self.engine, [j.request for j in chunk])):
                yield JobDone(job, outcome)
