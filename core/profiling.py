"""Per-stage timing (synchronised), call counts, input shapes and peak memory of one pipeline call; MFU.

`StageTimer` wraps the methods that make up each stage (text encoders' forward, the denoiser's
forward, the VAE's decode) on the components of a loaded pipeline. On CUDA every call records a
pair of CUDA events (no synchronisation inside the call); the times are read once, after the
pipeline returns and the device is synchronised. On CPU it uses perf_counter.

With ``capture=True`` it also keeps what each call was given (shapes and dtypes; small integer/bool
tensors such as masks are cloned on their device and read only afterwards), and wraps the ``forward`` of
components outside every stage (stage "other", e.g. a second denoiser) so that FLOPs can be counted for
exactly the calls the pipeline made (core.flops): no CFG pass for FLUX, CFG truncation for Lumina 2,
a negative pass only with a negative prompt for Qwen-Image, both stages of Stable Cascade.

`device_peak_tflops` measures a device's bf16 dense peak once (a large matmul) and keeps it in the store.
"""
from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch

from core.flops import TensorSpec, build_meta_twin, config_hash, count_call, module_dtype, signature, spec_tree
from core.store import DevicePeak, get_device_peak, put_device_peak, session_scope


@dataclass
class _Call:
    stage: str
    component: str
    start: Any
    end: Any = None
    method: str = "forward"
    args: Any = None  # spec trees (core.flops.spec_tree) when capturing
    kwargs: Any = None


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


OTHER_STAGE = "other"
OTHER_METHODS = ("forward", "encode", "decode")  # what a pipeline may call on a component outside every stage


class StageTimer:
    def __init__(self, components: dict[str, torch.nn.Module], stages: dict[str, tuple[tuple[str, ...], str, str]],
                 device: str, *, capture: bool = False):
        self.components = components
        self.stages = stages
        self.cuda = device.startswith("cuda") and torch.cuda.is_available()
        self.capture = capture
        self.records: list[_Call] = []

    def _wrap(self, stage: str, key: str, module: torch.nn.Module, method: str, depth: list[int] | None = None):
        original = getattr(module, method)
        records, cuda, capture = self.records, self.cuda, self.capture
        depth = depth if depth is not None else [0]  # shared by the wrapped methods of one component

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if depth[0]:  # a method of this component calling another wrapped one (decode -> forward)
                return original(*args, **kwargs)
            call = _Call(stage, key, _now_event(cuda), method=method)
            if capture:
                call.args, call.kwargs = spec_tree(args), spec_tree(kwargs)
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1
                call.end = _now_event(cuda)
                records.append(call)

        setattr(module, method, timed)
        return module, method

    @contextmanager
    def measure(self) -> Iterator["StageTimer"]:
        wrapped = []
        staged: set[str] = set()
        for stage, (keys, method, _mode) in self.stages.items():
            for key in keys:
                module = self.components.get(key)
                if module is not None and hasattr(module, method):
                    wrapped.append(self._wrap(stage, key, module, method))
                    staged.add(key)
        if self.capture:  # components outside every stage still count towards the FLOPs
            for key, module in self.components.items():
                if key not in staged:
                    depth = [0]
                    for method in OTHER_METHODS:
                        if callable(getattr(type(module), method, None)):
                            wrapped.append(self._wrap(OTHER_STAGE, key, module, method, depth))
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


# ---- FLOPs of the calls a generation made ---------------------------------------------------------------
@dataclass
class FlopProfile:
    """FLOPs (= 2 x MACs) of one pipeline call, from the component calls it actually made."""

    flops_by_stage: dict[str, float] = field(default_factory=dict)
    macs_total: float = 0.0
    components: dict[str, dict[str, Any]] = field(default_factory=dict)  # per component: calls, FLOPs, shapes
    count_s: float = 0.0  # time spent counting (meta device; zero once cached)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def flops_total(self) -> float:
        return 2.0 * self.macs_total

    def as_json(self) -> dict[str, Any]:
        return {"unit": "FLOPs = 2 x MACs; matmuls, convolutions and attention", "counted_on": "meta",
                "flops_by_stage": self.flops_by_stage, "flops_total": self.flops_total, "macs_total": self.macs_total,
                "components": self.components, "count_s": round(self.count_s, 4),
                **({"errors": self.errors} if self.errors else {})}


def flop_profile(records: list[_Call], components: dict[str, torch.nn.Module], *, model_key: str, cache,
                 twins: dict[str, torch.nn.Module], stage_of=None) -> FlopProfile:
    """Count each distinct (component, method, input signature) once on a meta twin (or take it from the
    cache) and add up every call the pipeline made. `twins` keeps meta twins between generations;
    `stage_of(component)` names the stage of calls recorded outside every stage."""
    out = FlopProfile()
    t0 = time.perf_counter()
    per_key: dict[tuple[str, str, str], Any] = {}
    for call in records:
        if call.args is None and call.kwargs is None:
            continue
        module = components.get(call.component)
        if module is None:
            continue
        sig = signature(call.args, call.kwargs)
        ident = (call.component, call.method, sig)
        if ident not in per_key:
            twin_key = f"{call.component}|{config_hash(module)}"
            key = cache.key(model_key, call.component, call.method, twin_key.split("|", 1)[1], sig)
            count = cache.get(key)
            if count is None:
                try:
                    if twin_key not in twins:
                        twins[twin_key] = build_meta_twin(module)
                    count = _count_on_twin(twins, twin_key, call)
                    cache.put(key, count, model_key=model_key, component=call.component, shapes=sig)
                except Exception as exc:  # a component that cannot run on meta is reported, not fatal
                    out.errors[call.component] = f"{type(exc).__name__}: {exc}"[:500]
                    count = None
            per_key[ident] = count
        count = per_key[ident]
        stage = call.stage
        if stage == OTHER_STAGE and stage_of is not None:
            stage = stage_of(call.component) or OTHER_STAGE
        comp = out.components.setdefault(call.component, {"stage": stage, "calls": 0, "flops": 0.0, "signatures": {}})
        comp["calls"] += 1
        entry = comp["signatures"].setdefault(sig, {"calls": 0, "flops_per_call": None})
        entry["calls"] += 1
        if count is None:
            continue
        entry["flops_per_call"] = float(count.flops)
        comp["flops"] += float(count.flops)
        out.macs_total += float(count.macs)
        out.flops_by_stage[stage] = out.flops_by_stage.get(stage, 0.0) + float(count.flops)
    out.count_s = time.perf_counter() - t0
    return out


def _float_dtypes(tree) -> list[torch.dtype]:
    out: list[torch.dtype] = []

    def walk(x):
        if isinstance(x, TensorSpec):
            if x.dtype.is_floating_point and x.dtype not in out:
                out.append(x.dtype)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)

    walk(tree)
    return out


def _count_on_twin(twins: dict[str, torch.nn.Module], twin_key: str, call: _Call):
    """Count on the meta twin in the module's dtype; if the call ran the module in another dtype (SDXL upcasts
    its VAE to float32 to decode), count on a twin cast to that dtype (FLOPs do not depend on it)."""
    twin = twins[twin_key]
    try:
        return count_call(twin, call.method, call.args, call.kwargs)[0]
    except RuntimeError as first:
        for dtype in _float_dtypes((call.args, call.kwargs)):
            if dtype == module_dtype(twin):
                continue
            key = f"{twin_key}|{dtype}"
            if key not in twins:
                twins[key] = _cast_twin(twin, dtype)
            try:
                return count_call(twins[key], call.method, call.args, call.kwargs)[0]
            except RuntimeError:
                continue
        raise first


def _cast_twin(twin: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    import copy

    return copy.deepcopy(twin).to(dtype)  # meta: no memory is copied


# ---- the device's bf16 dense peak (for MFU) ---------------------------------------------------------------
def measure_peak_tflops(device: str = "cuda", *, n: int = 8192, iters: int = 10, dtype=torch.bfloat16) -> float:
    """Achieved TFLOP/s of an n x n x n bf16 matrix product (the dense peak MFU is measured against)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        torch.mm(a, b)
    torch.cuda.synchronize(device)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        torch.mm(a, b)
    end.record()
    torch.cuda.synchronize(device)
    seconds = start.elapsed_time(end) / 1000.0
    del a, b
    return 2.0 * n ** 3 * iters / seconds / 1e12


_PEAKS: dict[str, float] = {}


def device_peak_tflops(device: str, *, db=None) -> float | None:
    """The bf16 dense peak of `device` in TFLOP/s: measured once per device name and kept (in memory and
    in the store's DevicePeak table). None on CPU (no MFU there)."""
    if not (device.startswith("cuda") and torch.cuda.is_available()):
        return None
    index = torch.device(device).index or 0
    name = torch.cuda.get_device_name(index)
    if name in _PEAKS:
        return _PEAKS[name]
    peak = None
    if db is not None:
        with session_scope(db) as session:
            row = get_device_peak(session=session, name=name)
        peak = row.peak_tflops if row is not None else None
    if peak is None:
        measured = None
        for n in (8192, 4096):
            try:
                measured = measure_peak_tflops(f"cuda:{index}", n=n)
                break
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
        if measured is None:
            return None
        peak = measured
        if db is not None:

            with session_scope(db) as session:
                put_device_peak(session=session, peak=DevicePeak(name=name, peak_tflops=peak, dtype="bfloat16",
                                                                 matmul_n=n, torch_version=torch.__version__))
    _PEAKS[name] = peak
    return peak


class PeakCache:
    """The devices' measured bf16 peaks (MFU's denominator): in memory, and in the store when one is handed in."""

    def __init__(self, db=None):
        self.db = db  # the process's store handle; None: measured and kept in memory only

    def tflops(self, device: str) -> float | None:
        return device_peak_tflops(device, db=self.db)


def held_peak_tflops(devices: list[str], *, db=None, peak_of=None) -> float | None:
    """The summed bf16 dense peak of every device a model held (what its MFU is measured against): a model
    split over k GPUs could at best run k times as fast as on one. None when any device has no peak (CPU)."""
    peak_of = peak_of or (lambda device: device_peak_tflops(device, db=db))
    peaks = [peak_of(d) for d in devices]
    return sum(peaks) if peaks and all(peaks) else None
