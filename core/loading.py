"""How a spec becomes a pipeline: pretrained, random weights or tiny; device, dtype, multi-GPU, unload."""
from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal


from core.lazy import lazy_module
from core.families import Family, effective_spec, get_family
from core.provenance import provenance
from core.random_weights import build_random_pipeline
from core.availability import pretrained_source
from core.spec import WEIGHTS, ModelSpec  # noqa: F401 - WEIGHTS: where its users find it
from core.settings import Settings, get_settings

torch = lazy_module("torch")

log = logging.getLogger(__name__)

Weights = Literal["pretrained", "random", "tiny"]

_DTYPES = ("float16", "bfloat16", "float32")  # torch dtypes by name


def resolve_device(setting: str = "auto") -> str:
    if setting in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device: {setting!r} asked for, but no CUDA device is visible; use 'cpu' or 'auto'")
    return setting


def torch_dtype(spec: ModelSpec, weights: str, device: str) -> torch.dtype:
    if weights == "tiny" or device == "cpu":
        return torch.float32  # fp16 on CPU is slow and partly unsupported
    if spec.dtype not in _DTYPES:
        raise KeyError(f"dtype {spec.dtype!r} of {spec.key}; known: {', '.join(_DTYPES)}")
    return getattr(torch, spec.dtype)


@dataclass
class LoadedModel:
    spec: ModelSpec
    family: Family
    pipe: Any
    weights: str
    device: str
    dtype: torch.dtype
    load_s: float
    device_map: str | None = None
    calls: int = 0  # pipeline calls since load or recipe (the first one includes warm-up, compilation)
    recipe: str = "eager"  # the speed recipe applied since load (core.recipes)
    recipe_report: dict[str, Any] | None = None  # what the recipe did (RecipeReport.as_json())
    params: dict[str, int] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)  # dtype, scheduler, weights revision (core.provenance)

    @property
    def params_total(self) -> int:
        return sum(self.params.values())

    def held_devices(self) -> list[str]:
        """The devices the model's weights sit on: one, or each GPU of a `device_map` split."""
        placed = getattr(self.pipe, "hf_device_map", None) if self.device_map else None
        if placed:
            found = sorted({_device_name(d) for d in placed.values()} - {"cpu", "disk", "meta"})
            if found:
                return found
        return [self.device]


def _device_name(where) -> str:
    """accelerate writes a device map's places as GPU indices (0), names ('cuda:1') or torch devices."""
    if isinstance(where, int):
        return f"cuda:{where}"
    text = str(where)
    return f"cuda:{text}" if text.isdigit() else ("cuda:0" if text == "cuda" else text)


def _fits_one_gpu(spec: ModelSpec, device: str) -> bool:
    if not device.startswith("cuda") or spec.vram_gb is None:
        return True
    free, _ = torch.cuda.mem_get_info(torch.device(device).index or 0)
    return spec.fits(free / 1e9)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def load_model(spec: ModelSpec, weights: str, *, device: str, settings: Settings | None = None) -> LoadedModel:
    """Load one model's pipeline onto `device` and time it (synchronised)."""
    settings = settings or get_settings()
    if weights not in WEIGHTS:
        raise ValueError(f"weights: {weights!r} is not allowed; choose one of {', '.join(WEIGHTS)}")
    family = get_family(spec.family)
    dtype = torch_dtype(spec, weights, device)
    device_map = None
    source = None
    _sync(device)
    t0 = time.perf_counter()
    if weights == "tiny":
        pipe = family.to(family.build_tiny(effective_spec(spec, weights)), device)
    elif weights == "random":
        pipe = build_random_pipeline(family, spec, device=device, dtype=dtype)
    else:
        if torch.cuda.device_count() > 1 and device.startswith("cuda") and (
                settings.multi_gpu == "always" or (settings.multi_gpu == "auto" and not _fits_one_gpu(spec, device))):
            device_map = "balanced"
        token = settings.hf_token.get_secret_value() if settings.hf_token else None
        log.info("loading %s from %s (%s%s)", spec.key, pretrained_source(spec, settings), dtype,
                 ", balanced over GPUs" if device_map else "")
        source = pretrained_source(spec, settings)
        pipe = family.load_pretrained(spec, source=source, torch_dtype=dtype,
                                      token=token, device_map=device_map)
        if device_map is None:
            pipe = family.to(pipe, device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    _sync(device)
    load_s = time.perf_counter() - t0
    params = {name: sum(p.numel() for p in module.parameters()) for name, module in family.components(pipe).items()}
    return LoadedModel(spec=spec, family=family, pipe=pipe, weights=weights, device=device, dtype=dtype,
                       load_s=load_s, device_map=device_map, params=params,
                       provenance=provenance(pipe, weights=weights, source=source, model_key=spec.key, dtype=dtype))


def unload(model: LoadedModel) -> None:
    """Drop every reference the pipeline holds and return GPU and CPU memory."""
    if model.device_map and hasattr(model.pipe, "remove_all_hooks"):
        model.pipe.remove_all_hooks()  # accelerate's dispatch hooks would refuse the move to meta below
    for module in model.family.components(model.pipe).values():
        # Freeing parameters in place releases them even if a caller still holds the pipeline.
        try:
            module.to("meta")
        except (RuntimeError, NotImplementedError, ValueError):  # accelerate-dispatched modules
            pass
    model.pipe = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:  # give freed heap pages back to the OS (glibc)
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass
