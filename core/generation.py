"""One request → images + measurements (`Outcome`), through the `Engine`.

`Engine` holds the resident models (the runner unloads them in bench mode), checks requests before
anything loads, and runs open models (through their family) and API models (through core.providers)
alike. It writes nothing: core.recording turns outcomes into files and store rows.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from sqlalchemy.engine import Engine as SqlEngine

from core import providers
from core.architecture import load_architecture
from core.errors import CaseStudyError, RequestError
from core.flops import FlopCache
from core.families import effective_spec, get_family
from core.loading import LoadedModel, load_model, resolve_device, unload
from core.environment import physical_gpu_ids
from core.profiling import PeakCache, StageTimer, flop_profile, held_peak_tflops
from core.spec import ModelSpec
from core.registry import get_spec
from core.jobs import EDIT, GenerationRequest, request_shape
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one request produced: images and measurements, or an error."""

    spec: ModelSpec
    request: GenerationRequest
    images: list = field(default_factory=list)
    error: str | None = None
    error_detail: str | None = None  # the traceback, for the detail view
    load_s: float | None = None
    first_call: bool = False
    total_s: float | None = None
    stage_s: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    peak_mem_gb: float | None = None
    params: dict[str, int] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)  # dtype, scheduler, weights revision, attention
    device: str | None = None
    host: str | None = None  # the machine that made it
    gpu_ids: str | None = None  # the physical GPUs the model held, comma-separated
    gpu_count: int | None = None  # how many GPUs the model held (0 on CPU); MFU is against their summed peak
    profile: dict[str, Any] = field(default_factory=dict)
    # compute of the calls the pipeline made (FLOPs = 2 x MACs, attention included)
    flops: dict[str, float] = field(default_factory=dict)  # FLOPs per stage
    flops_total: float | None = None
    macs_total: float | None = None
    tflops_per_s: float | None = None  # achieved: flops_total / total_s
    mfu: float | None = None  # tflops_per_s / the device's measured bf16 dense peak
    # API models
    request_id: str | None = None
    cost_usd: float | None = None
    api_params: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def get_family_of(spec: ModelSpec):
    return get_family(spec.family)


def open_inputs(request: GenerationRequest) -> list:
    """An edit's source images, read into memory (RGB) in the request's order."""
    out = []
    for source in request.inputs:
        with Image.open(source.path) as im:
            out.append(im.convert("RGB"))
    return out


def edit_default_size(spec: ModelSpec, request: GenerationRequest) -> GenerationRequest:
    """An open model's edit with no size: the size its family derives from the first source (unchanged otherwise).
    An unreadable source is left for `validate_request`/the job to report."""
    if (request.task != EDIT or not request.inputs or spec.is_api or request.width is not None
            or request.height is not None or EDIT not in spec.tasks):
        return request
    try:
        with Image.open(request.inputs[0].path) as im:
            size = im.size
    except (OSError, UnidentifiedImageError) as exc:
        raise RequestError("inputs", request.inputs[0].path, f"a readable image file ({exc})") from None
    width, height = (_within(spec, side) for side in get_family(spec.family).edit_size(spec, size))
    return replace(request, width=width, height=height)


def _within(spec: ModelSpec, side: int) -> int:
    """A side the spec allows: a very wide or tall source at a small area would fall under the minimum."""
    m = spec.size_multiple
    return min(max(side, -(-spec.min_size // m) * m), spec.max_size // m * m)


def make_generator(seed: int, count: int) -> list[torch.Generator]:
    """One CPU generator per image (seed, seed+1, ...): the same image for the same seed on any device."""
    return [torch.Generator(device="cpu").manual_seed(seed + i) for i in range(count)]


class Engine:
    def __init__(self, *, weights: str = "pretrained", device: str | None = None, settings: Settings | None = None,
                 profile_flops: bool = True, profile_stages: bool = True, flop_cache: FlopCache | None = None,
                 peaks: PeakCache | None = None):
        self.settings = settings or get_settings()
        self.weights = weights
        self.device = resolve_device(device or self.settings.device)
        # FLOPs of the calls each generation made: inputs captured during the call, counted afterwards on the
        # meta device once per (component, input shapes) and cached (in memory and the store's FlopCount table).
        self.profile_flops = profile_flops
        # Per-stage timing hooks (CUDA events); off, only the whole call is timed (the overhead baseline).
        self.profile_stages = profile_stages
        # The FLOP counts and the devices' measured peaks are cached by whoever made the engine (the CLI and the pages
        # hand in caches backed by their store: `Engine.caches_for(db)`); by default in memory: the engine opens no store.
        self.flop_cache = flop_cache if flop_cache is not None else FlopCache()
        self.peaks = peaks if peaks is not None else PeakCache()
        self._meta_twins: dict[str, dict[str, torch.nn.Module]] = {}  # model key -> meta twins of its components
        self.resident: dict[str, LoadedModel] = {}
        self._load_unreported: set[str] = set()  # loaded, and no generation has carried the load time yet
        self._lock = threading.RLock()  # one pipeline call at a time per engine

    @staticmethod
    def caches_for(db: SqlEngine | None) -> dict:
        """The engine's caches kept in the store `db` (FlopCount and DevicePeak tables): `Engine(**Engine.caches_for(db))`."""
        return {"flop_cache": FlopCache(db=db), "peaks": PeakCache(db=db)}

    # ---- requests ----------------------------------------------------------------------------
    def spec_for(self, key: str) -> ModelSpec:
        return effective_spec(get_spec(key), self.weights)

    def prepare(self, request: GenerationRequest) -> GenerationRequest:
        """Fill defaults, draw a seed and check every field. Raises RequestError; loads nothing.

        An edit for an open model with no size gets its family's size for the first source (each pipeline's
        own default for that aspect ratio), read from the image's header."""
        spec = self.spec_for(request.model)
        request = edit_default_size(spec, request)
        resolved = request.resolved(spec)
        if spec.is_api:
            providers.check_request(spec, resolved)
        return resolved

    # ---- residency ---------------------------------------------------------------------------
    def load(self, key: str) -> LoadedModel:
        with self._lock:
            if key not in self.resident:
                spec = get_spec(key)
                if spec.is_api:
                    raise CaseStudyError(f"model: {key} is an API model; nothing to load")
                self.resident[key] = load_model(spec, self.weights, device=self.device, settings=self.settings)
                self._load_unreported.add(key)  # the next generation of this model carries its load time
            return self.resident[key]

    def unload(self, key: str) -> None:
        with self._lock:
            model = self.resident.pop(key, None)
            self._load_unreported.discard(key)
            self._meta_twins.pop(key, None)
            if model is not None:
                unload(model)

    def unload_all(self) -> None:
        for key in list(self.resident):
            self.unload(key)

    # ---- generation --------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, *, warmup: bool = False, _seeds: list[int] | None = None) -> Outcome:
        """Run one (resolved) request. Errors of the model are returned in the outcome, not raised."""
        spec = self.spec_for(request.model)
        outcome = Outcome(spec=spec, request=request, device=spec.provider if spec.is_api else self.device,
                          host=socket.gethostname())
        try:
            if spec.is_api:
                self._generate_api(spec, request, outcome)
            else:
                self._generate_open(spec, request, outcome, seeds=_seeds, warmup=warmup)
        except Exception as exc:  # one model's failure is recorded, never raised past here
            outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.error_detail = traceback.format_exc()
            outcome.images = []
            if isinstance(exc, providers.ProviderError):  # keep what the provider said about it
                outcome.request_id = exc.request_id
                outcome.api_params = {**outcome.api_params, "error_kind": exc.kind, "http_status": exc.status,
                                      "error_code": exc.code, "task_id": exc.task_id, "attempts": exc.attempts}
            log.warning("%s failed: %s", spec.key, outcome.error)
            log.debug("%s", traceback.format_exc())
            if isinstance(exc, torch.cuda.OutOfMemoryError):
                torch.cuda.empty_cache()
        return outcome

    def generate_batch(self, requests: list[GenerationRequest]) -> list[Outcome]:
        """Several prompts of one open model in one pipeline call, where its family allows it.

        The requests must share every parameter but prompt and seed; image i of each request uses that
        request's seed + i, as in a single call. The call's time and FLOPs are shared out evenly
        (``profile["batch_size"]`` says how many shared it); peak memory is the whole call's. Anything
        that cannot be batched runs one request per call.
        """
        if len(requests) < 2 or not self._batchable(requests):
            return [self.generate(r) for r in requests]
        negative = requests[0].negative_prompt
        merged = replace(requests[0], prompt=[r.prompt for r in requests],
                         negative_prompt=[negative] * len(requests) if negative is not None else None)
        whole = self.generate(merged, _seeds=[r.seed for r in requests])
        n, per = len(requests), requests[0].num_images
        outcomes = []
        for i, req in enumerate(requests):
            part = replace(whole, request=req, images=whole.images[i * per:(i + 1) * per] if whole.ok else [],
                           load_s=whole.load_s if i == 0 else None, first_call=whole.first_call and i == 0,
                           stage_s={k: v / n for k, v in whole.stage_s.items()},
                           flops={k: v / n for k, v in whole.flops.items()},
                           profile={**whole.profile, "batch_size": n, "batch_total_s": whole.total_s})
            for name in ("total_s", "flops_total", "macs_total"):
                value = getattr(whole, name)
                setattr(part, name, value / n if value is not None else None)
            outcomes.append(part)
        return outcomes

    def _batchable(self, requests: list[GenerationRequest]) -> bool:
        spec = self.spec_for(requests[0].model)
        if spec.is_api or not get_family_of(spec).supports_batch:
            return False
        shape = request_shape(requests[0])
        return all(request_shape(r) == shape for r in requests[1:])

    def _generate_open(self, spec: ModelSpec, request: GenerationRequest, outcome: Outcome,
                       seeds: list[int] | None = None, warmup: bool = False) -> None:
        with self._lock:
            model = self.load(request.model)
            if request.model in self._load_unreported and not warmup:  # a warm-up call is not stored
                self._load_unreported.discard(request.model)
                outcome.load_s = model.load_s
            outcome.first_call = model.calls == 0
            outcome.params = dict(model.params)
            outcome.provenance = dict(model.provenance)
            outcome.device = model.device if model.device_map is None else f"{model.device_map}:{model.device}"
            held = model.held_devices()
            gpus = physical_gpu_ids(held)
            outcome.gpu_ids, outcome.gpu_count = ",".join(gpus) or None, len(gpus)
            components = model.family.components(model.pipe)
            stages = model.family.stages() if self.profile_stages else {}
            timer = StageTimer(components, stages, model.device, capture=self.profile_flops)
            generators = [g for seed in (seeds or [request.seed]) for g in make_generator(seed, request.num_images)]
            # Some schedulers draw noise from the global RNG, not the pipeline's generator
            # (HiDream's FlowMatchLCMScheduler): seed it too, so a seed always means one image.
            torch.manual_seed(request.seed)
            # an edit's sources, opened and prepared outside the timed call
            sources = {"images": model.family.edit_images(spec, request, open_inputs(request))} if request.inputs else {}
            with torch.inference_mode(), timer.measure():
                images = model.family.run(model.pipe, spec, request, generators, **sources)
            model.calls += 1
            report = timer.report()
            outcome.images = images
            outcome.total_s = report.total_s
            outcome.stage_s = report.stage_s
            if "denoise" not in outcome.stage_s and {"prior", "decoder"} & set(outcome.stage_s):
                # Two-stage models (Stable Cascade): denoising is the prior and the decoder together.
                outcome.stage_s["denoise"] = outcome.stage_s.get("prior", 0.0) + outcome.stage_s.get("decoder", 0.0)
            outcome.calls = report.calls
            outcome.peak_mem_gb = report.peak_mem_gb
            outcome.profile = {"calls": report.calls, "params": model.params}
            if "image_encode" in report.stage_s:  # an edit's source through the VAE: no column of its own
                outcome.profile["image_encode_s"] = report.stage_s["image_encode"]
            if self.profile_flops:
                self._add_flops(model, spec, timer, components, outcome)

    def _add_flops(self, model: LoadedModel, spec: ModelSpec, timer: StageTimer, components, outcome: Outcome) -> None:
        """FLOPs of the calls just made (counted on meta, outside the timed call), TFLOP/s and MFU."""
        arch = load_architecture(spec.key)
        prof = flop_profile(timer.records, components, model_key=spec.key, cache=self.flop_cache,
                            twins=self._meta_twins.setdefault(spec.key, {}), stage_of=arch.stage_of)
        outcome.flops = dict(prof.flops_by_stage)
        outcome.flops_total = prof.flops_total
        outcome.macs_total = prof.macs_total
        profile = prof.as_json()
        if outcome.total_s and prof.flops_total:
            outcome.tflops_per_s = prof.flops_total / outcome.total_s / 1e12
            profile["tflops_per_s_by_stage"] = {
                stage: flops / outcome.stage_s[stage] / 1e12
                for stage, flops in prof.flops_by_stage.items() if outcome.stage_s.get(stage)}
            peak = held_peak_tflops(model.held_devices(), peak_of=self.peaks.tflops)
            if peak:  # against every GPU the model held: a model split over two GPUs has twice the peak
                outcome.mfu = outcome.tflops_per_s / peak
                profile["peak_tflops"] = peak
        outcome.profile["flops"] = profile

    def _generate_api(self, spec: ModelSpec, request: GenerationRequest, outcome: Outcome) -> None:
        missing = providers.missing_credentials(spec, self.settings)
        if missing:
            raise CaseStudyError(missing)
        t0 = time.perf_counter()
        result = providers.generate(spec, request, settings=self.settings)
        outcome.total_s = result.latency_s if result.latency_s is not None else time.perf_counter() - t0
        outcome.images = list(result.images)
        outcome.request_id = result.request_id
        outcome.cost_usd = result.cost_usd
        outcome.api_params = dict(result.sent_params)
        outcome.api_params.update(model_id=result.model_id, task_id=result.task_id, attempts=result.attempts,
                                  filtered=result.filtered)
        if result.revised_prompt:
            outcome.api_params["revised_prompt"] = result.revised_prompt
        outcome.device = spec.provider
