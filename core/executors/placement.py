"""Where a model goes on Ray: how many GPUs it needs, and which model a free worker takes next.

Pure functions of the specs and the workers' free memory, so they are tested without Ray or GPUs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from core.spec import VRAM_HEADROOM, ModelSpec

STEAL_MIN_CHUNKS = 2  # a free worker loads a model another worker runs only when this many chunks wait


def gpus_needed(spec: ModelSpec, *, free_gb: float | None, multi_gpu: str = "auto", max_gpus: int = 1) -> int:
    """GPUs one worker of `spec` needs: 1, or k > 1 for a model that does not fit one GPU's free memory
    (`multi_gpu` "auto") or is asked to split ("always": two GPUs); "never" keeps every model on one GPU.
    Capped at the GPUs of the largest node (a model too big even then is loaded there and may fail)."""
    if spec.is_api or max_gpus <= 1 or multi_gpu == "never":
        return 1
    need = 1
    if spec.vram_gb is not None and free_gb:
        need = max(1, math.ceil(spec.vram_gb / (free_gb * VRAM_HEADROOM)))
    if multi_gpu == "always":
        need = max(need, 2)
    return min(need, max_gpus)


@dataclass(frozen=True)
class Candidate:
    spec: ModelSpec
    queued: int  # chunks waiting
    workers: int  # workers running this model now
    gpus: int  # GPUs one worker of it needs


def choose_model(candidates: Sequence[Candidate], *, gpus: int, free_gb: float | None) -> str | None:
    """The model a free worker with `gpus` GPUs (`free_gb` free each) takes next: a model no worker runs yet
    (the biggest first: most queued chunks, then most VRAM), else the one with the most chunks waiting when at
    least STEAL_MIN_CHUNKS wait (loading it a second time pays off). None: nothing for this worker."""
    mine = [c for c in candidates if c.queued and c.gpus == gpus and c.spec.fits(free_gb, gpus)]
    fresh = [c for c in mine if c.workers == 0]
    if fresh:
        return max(fresh, key=lambda c: (c.queued, c.spec.vram_gb or 0.0)).spec.key
    busy = [c for c in mine if c.queued >= STEAL_MIN_CHUNKS]
    return max(busy, key=lambda c: c.queued).spec.key if busy else None


def needs_by_model(specs: Mapping[str, ModelSpec], *, free_gb: float | None, multi_gpu: str,
                   max_gpus: int) -> dict[str, int]:
    return {key: gpus_needed(spec, free_gb=free_gb, multi_gpu=multi_gpu, max_gpus=max_gpus)
            for key, spec in specs.items()}
