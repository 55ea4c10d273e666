"""Per-stage timing (synchronised), call counts and peak memory of one pipeline call.

`StageTimer` wraps the methods that make up each stage (text encoders' forward, the denoiser's
forward, the VAE's decode) on the components of a loaded pipeline. On CUDA every call records a
pair of CUDA events (no synchronisation inside the call); the times are read once, after the
pipeline returns and the device is synchronised. On CPU it uses perf_counter.
"""
from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch


@dataclass
class _Call:
    stage: str
    component: str
    start: Any
    end: Any = None


@dataclass
class StageReport:
    """Seconds per stage, calls per component, peak memory of one pipeline call."""

    total_s: float
    stage_s: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)  # component key → forward calls made
    peak_mem_gb: float | None = None


def _now_event(cuda: bool):
    if cuda:
        ev = torch.cuda.Event(enable_timing=True)
        ev.record()
        return ev
    return time.perf_counter()


def _elapsed(a, b, cuda: bool) -> float:
    return a.elapsed_time(b) / 1000.0 if cuda else b - a


class StageTimer:
    def __init__(self, components: dict[str, torch.nn.Module], stages: dict[str, tuple[tuple[str, ...], str, str]],
                 device: str):
        self.components = components
        self.stages = stages
        self.cuda = device.startswith("cuda") and torch.cuda.is_available()
        self.records: list[_Call] = []

    def _wrap(self, stage: str, key: str, module: torch.nn.Module, method: str):
        original = getattr(module, method)
        records, cuda = self.records, self.cuda

        @functools.wraps(original)
        def timed(*args, **kwargs):
            call = _Call(stage, key, _now_event(cuda))
            try:
                return original(*args, **kwargs)
            finally:
                call.end = _now_event(cuda)
                records.append(call)

        setattr(module, method, timed)
        return module, method

    @contextmanager
    def measure(self) -> Iterator["StageTimer"]:
        wrapped = []
        for stage, (keys, method, _mode) in self.stages.items():
            for key in keys:
                module = self.components.get(key)
                if module is not None and hasattr(module, method):
                    wrapped.append(self._wrap(stage, key, module, method))
        devices = _cuda_devices() if self.cuda else []
        for d in devices:
            torch.cuda.reset_peak_memory_stats(d)
        if self.cuda:
            torch.cuda.synchronize()
        self._t0 = time.perf_counter()
        try:
            yield self
        finally:
            if self.cuda:
                torch.cuda.synchronize()
            self._t1 = time.perf_counter()
            for module, method in wrapped:
                try:
                    delattr(module, method)  # drop the instance attribute: the class method is back
                except AttributeError:  # pragma: no cover
                    pass
            self._peak = (max(torch.cuda.max_memory_allocated(d) for d in devices) / 1e9) if devices else None

    def report(self) -> StageReport:
        out = StageReport(total_s=self._t1 - self._t0, peak_mem_gb=self._peak)
        for stage, (_keys, _method, mode) in self.stages.items():
            calls = [c for c in self.records if c.stage == stage]
            if not calls:
                continue
            if mode == "span":
                seconds = _elapsed(calls[0].start, calls[-1].end, self.cuda)
            else:
                seconds = sum(_elapsed(c.start, c.end, self.cuda) for c in calls)
            out.stage_s[stage] = seconds
        for c in self.records:
            out.calls[c.component] = out.calls.get(c.component, 0) + 1
        return out


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
