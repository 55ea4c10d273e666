"""The local executor: this process, one model at a time on the engine's device, each model × recipe group through a
`ModelSession` (load → recipe → warm-up → its chunks), unloaded after its last group in bench mode. `cancel` is
honoured between chunks."""
from __future__ import annotations

import threading
from typing import Iterator, Sequence

from core.executors.base import Event, JobDone, ModelDone, ModelSession, ModelStarted, ModelWork
from core.generation import Engine


class LocalExecutor:
    def __init__(self, engine: Engine, *, unload_after: bool = True, compile_backend: str = "inductor"):
        self.engine, self.unload_after, self.compile_backend = engine, unload_after, compile_backend

    def run(self, work: Sequence[ModelWork], *, cancel: threading.Event) -> Iterator[Event]:
        for i, model in enumerate(work):
            if cancel.is_set():
                return
            yield ModelStarted(model.key, model.jobs)
            session = ModelSession(self.engine, model.spec, model.recipe, warmup=model.warmup,
                                   compile_backend=self.compile_backend)
            try:
                yield from self._model(model, session, cancel)
            finally:
                # bench mode: unload after the model's last recipe group (its next recipe reuses the load)
                last = i + 1 == len(work) or work[i + 1].key != model.key or cancel.is_set()
                session.close(unload=self.unload_after and last)
            yield ModelDone(model.key, model.recipe, session.first_s)

    @staticmethod
    def _model(model: ModelWork, session: ModelSession, cancel: threading.Event) -> Iterator[Event]:
        session.open()  # a model that cannot load fails its jobs with the reason; the next model runs
        for chunk in model.chunks:
            if cancel.is_set():
                return
            for job, outcome in zip(chunk, session.run([j.request for j in chunk])):
                yield JobDone(job, outcome)
