"""Speed recipes: how fast a loaded pipeline can go, each step chosen by its family (`Family.speed`).

A recipe is a set of steps, applied in one fixed order (`STEPS`):
  - fuse_qkv       one QKV (or KV) projection per attention (diffusers' `fuse_qkv_projections`)
  - fp8            torchao float8 dynamic quantization of the denoiser's Linear layers (lossy, Hopper)
  - channels_last  channels-last memory format for U-Nets and VAEs
  - sdpa           the family's attention backend on Hopper or newer (diffusers' `set_attention_backend`)
  - cache          diffusers' first-block cache on the denoiser (lossy: skips the rest of a step)
  - compile        regional torch.compile of the denoiser's blocks (CUDA graphs where the family says so)
  - compile_vae    torch.compile of the VAE decoder
`compile` is the lossless set (bf16 rounding only). Steps a family does not take are skipped with the
reason its `Speed.why` gives; steps a recipe cannot do without (compile, fp8, cache) are checked before
anything loads (`check_recipe`).

The runner: `check_recipe(name, spec, device)` before loading, `apply_recipe(loaded, name)` after,
then the first call (compile, warm-up) is timed apart from steady state (`WarmUp`). Compiled
artifacts persist in `Settings.compile_cache_dir` (`configure_compile_cache`).
Longer than 400 lines: every step and its check sit together, so a recipe's preconditions and what it does
are read in one place (the per-family choices live beside each family, in `Family.speed`).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import statistics
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

from packaging.requirements import Requirement

from core.lazy import lazy_module
from core.errors import RecipeError
from core.families import FAMILY_MODULES, Speed, get_family
from core.loading import LoadedModel
from core.recipe_catalog import (CUDAGRAPHS, FP8_PACKAGE, HOPPER, LOSSLESS, RECIPES, STEPS, Recipe,  # noqa: F401
                                 get_recipe)
from core.registry import all_specs
from core.settings import get_settings
from core.spec import ModelSpec

torch = lazy_module("torch")

log = logging.getLogger(__name__)


# ---- checks before anything loads ------------------------------------------------------------------------
def step_support(speed: Speed | None, step: str) -> str | None:
    """None when a family's speed settings take `step`, else why not."""
    if speed is None:
        return "no speed settings for this family yet (core/families: `speed`)"
    if step == "fp8" and not speed.fp8:
        return speed.why.get("fp8", "float8 quantization is not enabled for this family")
    if step == "cache" and speed.cache_threshold is None:
        return speed.why.get("cache", "no first-block cache threshold for this family")
    return None


def supported_models(recipe: Recipe) -> list[str]:
    families = {name for name in FAMILY_MODULES
                if all(step_support(get_family(name).speed, s) is None for s in recipe.required)}
    return [s.key for s in all_specs("open") if s.family in families]


def cuda_capability(device: str) -> tuple[int, int] | None:
    """Compute capability of a CUDA `device` ("cuda", "cuda:1"); None for anything else or without CUDA."""
    if not (str(device).startswith("cuda") and torch.cuda.is_available()):
        return None
    return torch.cuda.get_device_capability(torch.device(device).index or 0)


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def package_problem(requirement: str) -> str | None:
    req = Requirement(requirement)
    version = installed_version(req.name)
    if version is None:
        return (f"needs the package {req.name} ({requirement}), which is not installed: pip install '{requirement}' "
                f"(or pip install -r requirements-fp8.txt)")
    if not req.specifier.contains(version, prereleases=True):
        return f"needs {requirement}, but {req.name} {version} is installed: pip install '{requirement}'"
    return None


def check_recipe(name: str, spec: ModelSpec, device: str) -> Recipe:
    """The recipe `name` for `spec` on `device`, or a RecipeError naming everything that is missing."""
    recipe = get_recipe(name)
    if not recipe.steps:
        return recipe
    if spec.is_api:
        raise RecipeError(name, [f"{spec.key} is an API model; recipes speed up open models (use 'eager')"])
    problems = []
    speed = get_family(spec.family).speed
    for step in recipe.required:
        why = step_support(speed, step)
        if why:
            problems.append(f"model {spec.key} (family {spec.family}) does not take {step}: {why}; "
                            f"models it supports: {', '.join(supported_models(recipe)) or 'none'}")
    if recipe.needs_cuda:
        need = ".".join(map(str, recipe.min_capability or (0, 0)))
        capability = cuda_capability(device)
        if capability is None:
            problems.append(f"needs a CUDA GPU of compute capability >= {need} (Hopper: H100, H200 or newer); "
                            f"device is {device!r}")
        elif recipe.min_capability and capability < recipe.min_capability:
            gpu = torch.cuda.get_device_name(torch.device(device).index or 0)
            problems.append(f"needs compute capability >= {need} (Hopper: H100, H200 or newer); {gpu} has "
                            f"{capability[0]}.{capability[1]}")
    if recipe.package and (problem := package_problem(recipe.package)):
        problems.append(problem)
    if problems:
        raise RecipeError(name, problems)
    return recipe


# ---- applying --------------------------------------------------------------------------------------------
@dataclass
class RecipeReport:
    """What a recipe did to one loaded model: steps applied (with detail), skipped (with the reason)."""

    recipe: str
    lossless: bool
    applied: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    apply_s: float = 0.0  # time to apply (fusing, quantizing); compilation happens in the first call

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def needs_reload(current: str, target: str) -> bool:
    """Whether a model running recipe `current` must be loaded afresh for `target` (steps cannot be undone)."""
    return not set(get_recipe(current).steps) <= set(get_recipe(target).steps)


def speed_with(speed: Speed, overrides: Mapping[str, Any] | None) -> Speed:
    """`speed` with some fields replaced (a GPU script trying another mode); unknown fields are an error."""
    if not overrides:
        return speed
    fields = [f.name for f in dataclasses.fields(Speed) if f.name != "why"]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"recipe override: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    return dataclasses.replace(speed, **overrides)


def apply_recipe(model: LoadedModel, name: str, *, backend: str = "inductor",
                 overrides: Mapping[str, Any] | None = None) -> RecipeReport:
    """Apply recipe `name` to a loaded model, on top of the recipe it already has when that one's steps are a
    subset (eager -> compile -> compile+fp8); anything else needs a fresh load. `backend` is torch.compile's
    (tests use "aot_eager"); `overrides` replace fields of the family's `Speed`."""
    recipe = check_recipe(name, model.spec, model.device)
    current = get_recipe(model.recipe)
    if needs_reload(current.name, name):
        raise RecipeError(name, [f"the model already runs recipe {current.name!r}, whose steps "
                                 f"{sorted(set(current.steps) - set(recipe.steps))} cannot be undone: reload it"])
    speed = speed_with(model.family.speed or Speed(), overrides)
    notes = {}
    if speed.compile_mode == CUDAGRAPHS and "cache" in recipe.steps:
        # The first-block cache keeps block outputs from one step to the next: CUDA graphs would overwrite them.
        speed = dataclasses.replace(speed, compile_mode=None)
        notes["cudagraphs"] = "off with the first-block cache (it keeps block outputs across steps): default mode"
    report = RecipeReport(recipe=name, lossless=recipe.lossless,
                          settings={k: v for k, v in dataclasses.asdict(speed).items() if k != "why"})
    report.skipped.update(notes)
    t0 = time.perf_counter()
    if any(step.startswith("compile") for step in recipe.steps):
        configure_compile_cache(get_settings().compile_cache_dir)
    for step in STEPS:
        if step in recipe.steps and step not in current.steps:
            detail = _STEP_FUNCS[step](model, speed, backend)
            if detail.startswith("skipped: "):
                report.skipped[step] = detail.removeprefix("skipped: ")
            else:
                report.applied[step] = detail
    if model.device.startswith("cuda"):
        torch.cuda.synchronize()
    report.apply_s = time.perf_counter() - t0
    model.recipe = name
    model.recipe_report = report.as_json()
    if report.applied:
        model.calls = 0  # the next call compiles: it is a first call again (Outcome.first_call)
    log.info("%s: recipe %s applied %s, skipped %s", model.spec.key, name, report.applied, report.skipped)
    return report


def _denoiser(model: LoadedModel) -> torch.nn.Module:
    return getattr(model.pipe, model.family.denoiser)


def _why(speed: Speed, step: str, default: str) -> str:
    return "skipped: " + speed.why.get(step, default)


def _fuse_qkv(model: LoadedModel, speed: Speed, backend: str) -> str:
    done = []
    for name in speed.fuse_qkv:
        module = getattr(model.pipe, name, None)
        if module is not None and hasattr(module, "fuse_qkv_projections"):
            module.fuse_qkv_projections()
            done.append(name)
    return ", ".join(done) if done else _why(speed, "fuse_qkv", "no component of this family fuses its projections")


def linear_for_fp8(module: torch.nn.Module, fqn: str) -> bool:
    """Linear layers float8 helps: both dims multiples of 16 (the fp8 matmul's rule), not the AdaLN modulation
    (`norm*.linear`: one row per image, bandwidth-bound either way)."""
    return (isinstance(module, torch.nn.Linear) and module.in_features % 16 == 0 and module.out_features % 16 == 0
            and not any(part.startswith("norm") for part in fqn.split(".")))


def _fp8(model: LoadedModel, speed: Speed, backend: str) -> str:
    # torchao is an optional extra (requirements-fp8.txt): imported only when the recipe asks for it.
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    denoiser = _denoiser(model)
    blocks = region_paths(denoiser, _regions(model, speed))  # where the FLOPs are; embedders keep bf16

    def chosen(module: torch.nn.Module, fqn: str) -> bool:
        return linear_for_fp8(module, fqn) and any(fqn.startswith(f"{path}.") for path in blocks)

    count = sum(chosen(m, fqn) for fqn, m in denoiser.named_modules())
    quantize_(denoiser, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()), filter_fn=chosen)
    return (f"{count} Linear layers in {len(blocks)} blocks of {model.family.denoiser}: float8 e4m3 weights and "
            f"activations, row-wise scales")


def _channels_last(model: LoadedModel, speed: Speed, backend: str) -> str:
    done = []
    for name in speed.channels_last:
        module = getattr(model.pipe, name, None)
        if module is not None:
            module.to(memory_format=torch.channels_last)
            done.append(name)
    return ", ".join(done) if done else _why(speed, "channels_last", "no convolutional component to convert")


def _sdpa(model: LoadedModel, speed: Speed, backend: str) -> str:
    if speed.sdpa is None:
        return _why(speed, "sdpa", "PyTorch's default attention backend suits this family")
    capability = cuda_capability(model.device)
    if capability is None or capability < HOPPER:
        return f"skipped: {speed.sdpa} is chosen for Hopper or newer; this device keeps PyTorch's default"
    _denoiser(model).set_attention_backend(speed.sdpa)
    return f"{model.family.denoiser}: attention backend {speed.sdpa}"


def _cache(model: LoadedModel, speed: Speed, backend: str) -> str:
    from diffusers.hooks import FirstBlockCacheConfig

    _denoiser(model).enable_cache(FirstBlockCacheConfig(threshold=speed.cache_threshold))
    return f"{model.family.denoiser}: first-block cache, threshold {speed.cache_threshold}"


def compile_options(backend: str, mode: str | None) -> dict[str, Any]:
    # Static shapes (one size per job): no dynamic-shape graphs, and a region seen at two sizes (SDXL's
    # stages) gets a static graph per size instead.
    options: dict[str, Any] = {"backend": backend, "dynamic": False}
    if backend == "inductor" and mode:
        options["mode"] = mode
    return options


def region_paths(module: torch.nn.Module, class_names: tuple[str, ...] | list[str]) -> list[str]:
    """Paths of the outermost sub-modules of `module` whose class name is in `class_names` ("" for itself)."""
    names, found = set(class_names), []
    for path, sub in module.named_modules():
        inside = any(done == "" or path.startswith(done + ".") for done in found)
        if type(sub).__name__ in names and not inside:
            found.append(path)
    return found


def compile_regions(module: torch.nn.Module, class_names: tuple[str, ...] | list[str], **options) -> int:
    """`torch.compile` each outermost sub-module whose class name is in `class_names`; how many were compiled."""
    paths = region_paths(module, class_names)
    for path in paths:
        module.get_submodule(path).compile(**options)
    return len(paths)


def _regions(model: LoadedModel, speed: Speed) -> tuple[str, ...]:
    denoiser = _denoiser(model)
    regions = tuple(speed.compile_regions or getattr(denoiser, "_repeated_blocks", None) or ())
    if not regions:
        raise RecipeError("compile", [f"{type(denoiser).__name__} names no repeated blocks; set "
                                      f"Speed.compile_regions for family {model.family.name}"])
    return regions


def _on_cuda(module: torch.nn.Module) -> bool:
    """Whether the module's weights are on a CUDA device (CUDA graphs exist only there)."""
    return any(p.device.type == "cuda" for p in module.parameters())


def _compile(model: LoadedModel, speed: Speed, backend: str) -> str:
    denoiser, regions = _denoiser(model), _regions(model, speed)
    mode = speed.compile_mode
    if mode == CUDAGRAPHS and not _on_cuda(denoiser):
        mode = None  # CUDA graphs need a GPU: on a CPU the default mode, and nothing said about graphs
    count = compile_regions(denoiser, regions, **compile_options(backend, mode))
    if not count:
        raise RecipeError("compile", [f"no {', '.join(regions)} in {type(denoiser).__name__}"])
    detail = f"{count} regions of {model.family.denoiser} ({', '.join(regions)}), mode {mode or 'default'}"
    if mode == CUDAGRAPHS:
        install_step_marks(denoiser)
        detail += "; each denoiser call marks a CUDA-graph step and clones its outputs"
    return detail


class CudaGraphSteps:
    """CUDA graphs of regionally compiled blocks, made safe across blocks and steps.

    torch's CUDA-graph trees start a new iteration at each call of a compiled function, and a new iteration may
    overwrite the outputs of the last one. With one compiled function per block, a block's output still needed
    later in the same denoiser call (the residual stream, SDXL's skip connections) would be overwritten by the next
    block ("accessing tensor output of CUDAGraphs that has been overwritten by a subsequent run"). So:
      - a forward pre-hook calls `torch.compiler.cudagraph_mark_step_begin()` at the start of each denoiser call:
        from then on the iteration is that call, every block inside it belongs to it;
      - a forward hook clones the denoiser's output tensors: what lives across calls (the scheduler's multistep
        history, CFG's first pass in pipelines that call the denoiser twice a step) is then never a CUDA-graph
        buffer that the next call overwrites. A clone of the latents is tiny next to a step.
    """

    def __init__(self) -> None:
        self.steps = 0

    def before(self, module: torch.nn.Module, args: Any) -> None:
        torch.compiler.cudagraph_mark_step_begin()
        self.steps += 1

    def after(self, module: torch.nn.Module, args: Any, output: Any) -> Any:
        return clone_tensors(output)


def clone_tensors(value: Any) -> Any:
    """`value` with every tensor in it cloned (tuples, lists, dicts and diffusers' output dataclasses)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(clone_tensors(v) for v in value)
    if isinstance(value, list):
        return [clone_tensors(v) for v in value]
    if isinstance(value, dict):  # BaseOutput is an OrderedDict and a dataclass: set both views
        for name, item in list(value.items()):
            value[name] = clone_tensors(item)
        return value
    return value


def install_step_marks(denoiser: torch.nn.Module) -> CudaGraphSteps:
    """Hook `CudaGraphSteps` onto the denoiser (once); kept on it as `_igcs_cudagraph_steps`."""
    steps = getattr(denoiser, "_igcs_cudagraph_steps", None)
    if steps is None:
        steps = CudaGraphSteps()
        denoiser.register_forward_pre_hook(steps.before)
        denoiser.register_forward_hook(steps.after)
        denoiser._igcs_cudagraph_steps = steps
    return steps


def _compile_vae(model: LoadedModel, speed: Speed, backend: str) -> str:
    decoder = getattr(getattr(model.pipe, "vae", None), "decoder", None)
    if not speed.compile_vae or not isinstance(decoder, torch.nn.Module):
        return _why(speed, "compile_vae", "no VAE decoder to compile")
    decoder.compile(**compile_options(backend, None))
    return "vae.decoder, mode default"


_STEP_FUNCS: dict[str, Callable[[LoadedModel, Speed, str], str]] = {
    "fuse_qkv": _fuse_qkv, "fp8": _fp8, "channels_last": _channels_last, "sdpa": _sdpa, "cache": _cache,
    "compile": _compile, "compile_vae": _compile_vae,
}


# ---- compiled artifacts across processes -----------------------------------------------------------------
def configure_compile_cache(cache_dir: str | os.PathLike) -> Path:
    """Keep inductor's on-disk caches (FX graphs, AOTAutograd, Triton kernels, autotuning) under `cache_dir`, so a
    second process skips most of the compile. A TORCHINDUCTOR_CACHE_DIR already set wins. Call before compiling."""
    path = Path(cache_dir).expanduser().resolve()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(path / "inductor"))
    Path(os.environ["TORCHINDUCTOR_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
    import torch._functorch.config as functorch_config  # heavy: only once a recipe compiles
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True  # compiled graphs, keyed by graph, inputs and versions
    functorch_config.enable_autograd_cache = True  # AOTAutograd's traced graphs on top of them
    return path


def artifacts_path(cache_dir: str | os.PathLike, model_key: str, recipe: str, device: str) -> Path:
    """Mega-cache file of one model, recipe, GPU and torch version (torch.compiler.save_cache_artifacts)."""
    gpu = torch.cuda.get_device_name(torch.device(device).index or 0) if cuda_capability(device) else "cpu"
    slug = "-".join(x.replace(" ", "_").replace("/", "_") for x in (model_key, recipe, gpu, torch.__version__))
    return Path(cache_dir).expanduser() / "mega" / f"{slug}.bin"


def save_compile_artifacts(path: Path) -> int:
    """Write this process's compiled artifacts (a portable blob: carry it to another machine); bytes written."""
    saved = torch.compiler.save_cache_artifacts()
    if not saved:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(saved[0])
    return len(saved[0])


def load_compile_artifacts(path: Path) -> bool:
    """Prime the local caches from a blob `save_compile_artifacts` wrote; call before the first compiled call."""
    if not path.is_file():
        return False
    return torch.compiler.load_cache_artifacts(path.read_bytes()) is not None


# ---- first call apart from steady state ------------------------------------------------------------------
@dataclass
class WarmUp:
    """Seconds of the first call (compilation, CUDA-graph recording, autotuning) and of steady calls after it."""

    first_s: float
    steady_s: list[float] = field(default_factory=list)

    @property
    def steady_median_s(self) -> float | None:
        return statistics.median(self.steady_s) if self.steady_s else None

    @property
    def compile_s(self) -> float | None:
        """What the first call cost beyond a steady one."""
        median = self.steady_median_s
        return None if median is None else max(0.0, self.first_s - median)


def timed_call(fn: Callable[[], Any], device: str) -> tuple[Any, float]:
    cuda = device.startswith("cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if cuda:
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def warm_up(fn: Callable[[], Any], *, device: str, steady: int = 1, extra_warm: int = 0) -> tuple[Any, WarmUp]:
    """Call `fn` once (timed as the first call), `extra_warm` more times untimed (CUDA graphs record on the
    second call), then `steady` timed calls. Returns the last result and the times."""
    out, first = timed_call(fn, device)
    for _ in range(extra_warm):
        out, _s = timed_call(fn, device)
    times = []
    for _ in range(steady):
        out, seconds = timed_call(fn, device)
        times.append(seconds)
    return out, WarmUp(first_s=first, steady_s=times)
