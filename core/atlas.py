"""The compute atlas: parameters and FLOPs per stage and per image of every open model, from its
architecture alone (data/architectures), on the meta device: no weights, no GPU, no network, seconds.

    python -m core.bench atlas [--models flux-dev,sdxl] [--size 1024x1024] [--steps 28] [--negative-prompt " "]

How: the model's real pipeline runs on the CPU with every component replaced by a `CountingProxy`. A proxy
runs the full-size module on the meta device on the inputs the pipeline handed it (counted once per input
signature, core.flops) and hands back CPU tensors of the output's shapes. So the calls counted are the ones
the pipeline's own code makes at that size and step count: one pass per step for FLUX (guidance-distilled),
a doubled batch for classic CFG, a second pass per step only with a negative prompt for Qwen-Image (whose
family always passes one), CFG truncated after a share of the steps for Lumina 2, Stable Cascade's prior
and decoder steps and its VQGAN: never a formula of steps x 2.

Text length: the pipelines pad most encoders to a fixed length (CLIP 77, FLUX's T5 512 ...), which the atlas
reproduces exactly; where a pipeline keeps only the prompt's own tokens (Lumina 2, Qwen-Image, CogView4) the
count depends on the prompt, and the atlas's prompt is tokenized word by word by the in-code tokenizers.
"""
from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from PIL import Image

from core.architecture import Architecture, ArchitectureUnavailable, load_architecture
from core.families import get_family
from core.flops import CallCount, ValuedMeta, count_call, signature
from core.random_weights import build_random_pipeline
from core.registry import get_spec, model_keys
from core.jobs import EDIT, TEXT_TO_IMAGE, GenerationRequest, InputImage
from core.store import AtlasEntry, put_atlas_entries, session_scope
from core.units import fmt_flops

log = logging.getLogger(__name__)

ATLAS_PROMPT = "a photograph of an astronaut riding a horse on the moon, detailed, high quality"
ATLAS_DTYPE = torch.float32  # the pipeline's own arithmetic runs on CPU; FLOPs do not depend on the dtype


# ---- proxies ------------------------------------------------------------------------------------------
class _Recorder:
    """Counts per (component, method, signature) and the calls made, for one atlas entry."""

    def __init__(self):
        self.results: dict[tuple[str, str, str], tuple[CallCount, Any]] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.count_s = 0.0

    def call(self, name: str, module: torch.nn.Module, method: str, args, kwargs):
        sig = signature(args, kwargs)
        ident = (name, method, sig)
        if ident not in self.results:
            t0 = time.perf_counter()
            try:
                self.results[ident] = count_call(module, method, args, kwargs)
            except Exception as exc:
                raise ComponentFailed(name, exc) from exc
            finally:
                self.count_s += time.perf_counter() - t0
        self.calls.append(ident)
        return _to_cpu(self.results[ident][1])


class ComponentFailed(RuntimeError):
    def __init__(self, component: str, exc: Exception):
        super().__init__(f"{component}: {type(exc).__name__}: {exc}")
        self.component = component


def _to_cpu(x: Any) -> Any:
    """A meta output tree → CPU tensors of the same shapes (ones; valued tensors keep their values)."""
    if isinstance(x, ValuedMeta):
        return x._values.clone()
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() or x.is_complex():
            return torch.ones(x.shape, dtype=x.dtype)
        return torch.zeros(x.shape, dtype=x.dtype)
    if _is_distribution(x):  # a VAE's encode: the latent distribution of an edit's source
        return type(x)(_to_cpu(x.parameters), **({"deterministic": x.deterministic} if hasattr(x, "deterministic") else {}))
    if isinstance(x, dict):  # ModelOutput / BaseOutput (ordered dict dataclasses) and plain dicts
        items = {k: _to_cpu(v) for k, v in x.items()}
        try:
            return type(x)(**items)
        except TypeError:
            return type(x)(items)
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_to_cpu(v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_to_cpu(v) for v in x)
    return x


def _is_distribution(x: Any) -> bool:
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution, IdentityDistribution

    return isinstance(x, (DiagonalGaussianDistribution, IdentityDistribution))


class CountingProxy(torch.nn.Module):
    """Stands in for one component in a CPU pipeline: calls run the full-size module on meta (counted),
    attributes (``config``, submodules ...) are the module's, the device is the CPU."""

    def __init__(self, name: str, module: torch.nn.Module, recorder: _Recorder):
        super().__init__()
        object.__setattr__(self, "_target", module)  # not a submodule: the pipeline's device stays the CPU
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_recorder", recorder)
        dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), ATLAS_DTYPE)
        # one CPU parameter: `next(component.parameters())` (device, dtype) answers like the real one
        self._anchor = torch.nn.Parameter(torch.zeros((), dtype=dtype), requires_grad=False)

    # the pipeline asks these of its components
    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        return self._anchor.dtype

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            value = getattr(object.__getattribute__(self, "_target"), name)
            if isinstance(value, torch.nn.modules.batchnorm._BatchNorm):
                # FLUX.2's pipeline normalises latents with the VAE's batch-norm statistics: a CPU batch norm of
                # the same size at its initial statistics (mean 0, variance 1) stands in for the meta one
                return type(value)(value.num_features, eps=value.eps, momentum=value.momentum, affine=value.affine,
                                   track_running_stats=value.track_running_stats, dtype=self._anchor.dtype).eval()
            return value

    def to(self, *args, **kwargs):
        dtype = kwargs.get("dtype") or next((a for a in args if isinstance(a, torch.dtype)), None)
        if dtype is not None:
            self._target.to(dtype=dtype)
            self._anchor.data = self._anchor.data.to(dtype)
        return self

    def _run(self, method: str, args, kwargs):
        return self._recorder.call(self._name, self._target, method, args, kwargs)

    def forward(self, *args, **kwargs):
        return self._run("forward", args, kwargs)

    def decode(self, *args, **kwargs):
        return self._run("decode", args, kwargs)

    def encode(self, *args, **kwargs):
        return self._run("encode", args, kwargs)


def _install_proxies(pipe: Any, recorder: _Recorder, prefix: str = "") -> dict[str, torch.nn.Module]:
    """Replace every module component (of a pipeline, or of each pipeline in a dataclass) by a proxy."""
    import dataclasses

    from diffusers import DiffusionPipeline

    targets: dict[str, torch.nn.Module] = {}
    if isinstance(pipe, DiffusionPipeline):
        for name, module in list(pipe.components.items()):
            if isinstance(module, torch.nn.Module):
                targets[f"{prefix}{name}"] = module
                object.__setattr__(pipe, name, CountingProxy(f"{prefix}{name}", module, recorder))
        pipe.set_progress_bar_config(disable=True)
    elif dataclasses.is_dataclass(pipe):
        for f in dataclasses.fields(pipe):
            targets.update(_install_proxies(getattr(pipe, f.name), recorder, prefix=f"{prefix}{f.name}."))
    return targets


# ---- one entry ----------------------------------------------------------------------------------------
@dataclass
class AtlasResult:
    model_key: str
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    negative_prompt: bool = False
    task: str = TEXT_TO_IMAGE  # an edit counts its source image too (a gray image of the output size)
    available: bool = True
    reason: str | None = None
    params: dict[str, int] = field(default_factory=dict)  # per component
    params_by_stage: dict[str, int] = field(default_factory=dict)
    flops_by_stage: dict[str, float] = field(default_factory=dict)
    macs_total: float = 0.0
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    denoise_calls: int = 0
    flops_per_denoise_call: float | None = None
    count_s: float = 0.0

    @property
    def flops_total(self) -> float:
        return 2.0 * self.macs_total

    @property
    def key(self) -> str:
        key = f"{self.model_key}|{self.width}x{self.height}|{self.steps}|{'neg' if self.negative_prompt else 'noneg'}"
        return key if self.task == TEXT_TO_IMAGE else f"{key}|{self.task}"  # text-to-image keys as before tasks

    def to_entry(self):
        fl = self.flops_by_stage
        return AtlasEntry(
            key=self.key, model_key=self.model_key, width=self.width, height=self.height, steps=self.steps,
            guidance=self.guidance, negative_prompt=self.negative_prompt, available=self.available,
            reason=self.reason, params_total=sum(self.params.values()) or None,
            params_text_encode=self.params_by_stage.get("text_encode"),
            params_denoise=self.params_by_stage.get("denoise"), params_decode=self.params_by_stage.get("decode"),
            flops_text_encode=fl.get("text_encode") if self.available else None,
            flops_denoise=fl.get("denoise") if self.available else None,
            flops_decode=fl.get("decode") if self.available else None,
            flops_per_image=self.flops_total if self.available else None,
            macs_per_image=self.macs_total if self.available else None,
            denoise_calls=self.denoise_calls if self.available else None,
            flops_per_denoise_call=self.flops_per_denoise_call, count_s=round(self.count_s, 3),
            detail={"components": self.components, "params": self.params, "task": self.task,
                    "flops_by_stage": self.flops_by_stage,
                    "unit": "FLOPs = 2 x MACs; matmuls, convolutions and attention; per image"},
        )


def atlas_entry(key: str, *, width: int | None = None, height: int | None = None, steps: int | None = None,
                negative_prompt: str | None = None, prompt: str = ATLAS_PROMPT, task: str | None = None) -> AtlasResult:
    """Parameters and FLOPs of one model at one size and step count, from its architecture alone.

    `task` (default: the model's first) "edit" runs the pipeline on a source image of the output size (the
    model's default size unless one is given), so the source's VAE encode and its tokens in every denoiser
    pass count: Kontext's sequence is twice FLUX's."""
    spec = get_spec(key)
    t0 = time.perf_counter()
    task = task or spec.tasks[0]
    result = AtlasResult(model_key=key, task=task)
    arch = load_architecture(key)
    source = None
    try:
        inputs: tuple[InputImage, ...] = ()
        if task == EDIT:
            size = (width or spec.width, height or spec.height)
            source = Image.new("RGB", size, (128, 128, 128))
            inputs = (InputImage(path=f"atlas:{size[0]}x{size[1]}", sha256=f"gray-{size[0]}x{size[1]}"),)
            if width is None and height is None and not spec.is_api:
                width, height = get_family(spec.family).edit_size(spec, size)
        req = GenerationRequest(model=key, prompt=prompt, negative_prompt=negative_prompt, seed=0, steps=steps,
                                width=width, height=height, task=task, inputs=inputs).resolved(spec)
    except Exception as exc:
        result.available, result.reason = False, f"request: {exc}"
        return result
    result.width, result.height, result.steps, result.guidance = req.width, req.height, req.steps, req.guidance
    result.negative_prompt = bool(req.negative_prompt)
    if not arch.available:
        result.available, result.reason = False, arch.reason
        return result
    family = get_family(spec.family)
    recorder = _Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pipe = build_random_pipeline(family, spec, device="meta", dtype=ATLAS_DTYPE)
        except ArchitectureUnavailable as exc:
            result.available, result.reason = False, str(exc)
            return result
        targets = _install_proxies(pipe, recorder)
        result.params = {name: sum(p.numel() for p in m.parameters()) for name, m in targets.items()}
        for name, n in result.params.items():
            stage = arch.stage_of(name) or "other"
            result.params_by_stage[stage] = result.params_by_stage.get(stage, 0) + n
        generators = [torch.Generator(device="cpu").manual_seed(req.seed + i) for i in range(req.num_images)]
        torch.manual_seed(req.seed)
        images = {"images": family.edit_images(spec, req, [source])} if source is not None else {}
        try:
            with torch.inference_mode():
                family.run(pipe, spec, req, generators, **images)
        except ComponentFailed as exc:
            result.available = False
            result.reason = (f"the {exc.component} config cannot run what the pipeline feeds it: "
                             f"{balanced(str(exc).removeprefix(exc.component + ': '))}")
        except Exception as exc:
            result.available = False
            result.reason = balanced(f"pipeline: {type(exc).__name__}: {exc}"[:500])
    _summarise(result, recorder, arch)
    result.count_s = time.perf_counter() - t0
    return result


def _summarise(result: AtlasResult, recorder: _Recorder, arch: Architecture) -> None:
    for name, method, sig in recorder.calls:
        count, _ = recorder.results[(name, method, sig)]
        stage = arch.stage_of(name, method) or "other"
        entry_name = name if stage == (arch.stage_of(name) or "other") else f"{name}:{method}"  # the VAE's encode
        comp = result.components.setdefault(entry_name, {"stage": stage, "calls": 0, "flops": 0.0, "signatures": {}})
        comp["calls"] += 1
        entry = comp["signatures"].setdefault(f"{method}{sig}", {"calls": 0, "flops_per_call": float(count.flops)})
        entry["calls"] += 1
        comp["flops"] += float(count.flops)
        result.macs_total += float(count.macs)
        result.flops_by_stage[stage] = result.flops_by_stage.get(stage, 0.0) + float(count.flops)
        if stage == "denoise":
            result.denoise_calls += 1
            per_call = float(count.flops)
            if result.flops_per_denoise_call is None or per_call > result.flops_per_denoise_call:
                result.flops_per_denoise_call = per_call


def build_atlas(keys: Sequence[str] | None = None, *, width: int | None = None, height: int | None = None,
                steps: int | None = None, negative_prompt: str | None = None,
                task: str | None = None) -> list[AtlasResult]:
    """One entry per model and task it takes (FLUX.2 [klein] generates and edits: two), or `task` only."""
    out = []
    for key in keys or model_keys("open"):
        for t in _tasks(get_spec(key), task):
            out.append(atlas_entry(key, width=width, height=height, steps=steps, negative_prompt=negative_prompt,
                                   task=t))
    return out


def _tasks(spec, task: str | None) -> tuple[str, ...]:
    if task is None:
        return tuple(spec.tasks)
    return (task,) if task in spec.tasks else ()


def balanced(text: str) -> str:
    """Close the brackets a quoted library message leaves open (transformers' "(got ... 77" has no ")")."""
    closing = {"(": ")", "[": "]"}
    stack = []
    for ch in text:
        if ch in closing:
            stack.append(closing[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
    return text + "".join(reversed(stack))


# ---- table and CLI --------------------------------------------------------------------------------------
def _fmt(v: float | None, scale: float, digits: int = 2) -> str:
    return "-" if v is None else f"{v / scale:.{digits}f}"


def table(results: Sequence[AtlasResult]) -> str:
    head = (f"{'model':<16} {'task':<4} {'size':>9} {'steps':>5} {'params B':>8} {'text':>10} {'source':>10} "
            f"{'denoise':>10} {'decode':>10} {'FLOP/img':>10} {'calls':>5} {'FLOP/pass':>10} {'s':>5}")
    lines = [head, "-" * len(head)]
    for r in results:
        size = f"{r.width}x{r.height}" if r.width else "-"
        task = "edit" if r.task == EDIT else "t2i"
        if not r.available:
            lines.append(f"{r.model_key:<16} {task:<4} {size:>9} {r.steps or '-':>5} "
                         f"{_fmt(sum(r.params.values()) or None, 1e9):>8}  unavailable: {r.reason}")
            continue
        fl = r.flops_by_stage
        lines.append(
            f"{r.model_key:<16} {task:<4} {size:>9} {r.steps:>5} {_fmt(sum(r.params.values()), 1e9):>8} "
            f"{fmt_flops(fl.get('text_encode')):>10} {fmt_flops(fl.get('image_encode')):>10} "
            f"{fmt_flops(fl.get('denoise')):>10} {fmt_flops(fl.get('decode')):>10} {fmt_flops(r.flops_total):>10} "
            f"{r.denoise_calls:>5} {fmt_flops(r.flops_per_denoise_call):>10} {r.count_s:>5.1f}")
    lines.append("FLOPs = 2 x MACs, attention included, per image; source = an edit's source through the VAE; calls = "
                 "denoiser passes; FLOP/pass = the largest pass")
    return "\n".join(lines)


def store_results(results: Sequence[AtlasResult], db) -> int:
    with session_scope(db) as session:
        return put_atlas_entries(session=session, entries=[r.to_entry() for r in results])
