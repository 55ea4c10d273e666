"""The local executor: this process, one model at a time on the engine's device (load → warm up →
generate its chunks → unload in bench mode). `cancel` is honoured between chunks."""
from __future__ import annotations

import threading
from typing import Iterator, Sequence

from core.executors.base import Event, JobDone, ModelDone, ModelStarted, ModelWork, WarmUp, failed, load_error, run_chunk
from core.generation import Engine


class LocalExecutor:
    def __init__(self, engine: Engine, *, unload_after: bool = True):
        self.engine, self.unload_after = engine, unload_after

    def run(self, work: Sequence[ModelWork], *, cancel: threading.Event) -> Iterator[Event]:
        for model in work:
            if cancel.is_set():
                return
            yield ModelStarted(model.key, model.jobs)
            try:
                yield from self._model(model, cancel)
            finally:
                if self.unload_after:
                    self.engine.unload(model.key)
            yield ModelDone(model.key)

    def _model(self, model: ModelWork, cancel: threading.Event) -> Iterator[Event]:
        error = load_error(self.engine, model.spec)
        if error is not None:  # the model's jobs fail; the next model runs
            for chunk in model.chunks:
                for job in chunk:
                    yield JobDone(job, failed(job.spec, job.request, error))
            return
        WarmUp(model.warmup).before(self.engine, model.spec, [j.request for c in model.chunks for j in c])
        for chunk in model.chunks:
            if cancel.is_set():
                return
            for job, outcome in zip(chunk, run_chunk(self.engine, [j.request for j in chunk])):
                yield JobDone(job, outcome)
