"""Pipeline families: how a spec becomes a pipeline, and how a request becomes pipeline kwargs.

One module per diffusers pipeline family. Each defines a `Family` subclass and registers it with
`register`. A family knows, in one place:
  - `load_pretrained`: `from_pretrained` from a hub id or local directory (dtype, variant, token);
  - `build_tiny`: the same pipeline class with tiny configs and tokenizers built in code (CPU, fp32);
  - `call_kwargs`: the family's call quirks (CFG style, negative prompt, extra arguments);
  - `run`: call the pipeline(s) and return PIL images (Stable Cascade overrides it: two stages);
  - `components`: the nn.Modules it holds, for parameter counts, profiling and memory;
  - `speed`: what speeds it up (`Speed`, applied by core.recipes), each choice with its reason.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import torch

from core.quiet import prefer_pil_image_processors
from core.registry import tiny_spec
from core.spec import ModelSpec

prefer_pil_image_processors()  # before any family module imports a diffusers pipeline


def dtype_kwargs(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """`{"dtype": ...}` for `from_pretrained` where the installed diffusers takes `dtype` (it deprecates
    `torch_dtype` and warns on every load), else `{"torch_dtype": ...}` for older releases."""
    return {"dtype" if _DIFFUSERS_TAKES_DTYPE else "torch_dtype": dtype}


def _diffusers_takes_dtype() -> bool:
    try:
        from diffusers.utils import deprecation_utils  # the release that resolves `torch_dtype` into `dtype`
    except ImportError:  # pragma: no cover - an older diffusers
        return False
    return hasattr(deprecation_utils, "_resolve_dtype")


_DIFFUSERS_TAKES_DTYPE = _diffusers_takes_dtype()

FAMILY_MODULES = (
    "sd", "sdxl", "cogview3", "pixart", "lumina", "hunyuandit", "sd3", "flux", "sana", "qwen_image",
    "unidiffuser", "cascade", "cogview4", "kandinsky3", "hidream", "lumina2",
    # editing (the source image in, core.families.EditFamily)
    "qwen_image_edit", "flux_kontext", "instruct_pix2pix", "flux2_klein",
)

_FAMILIES: dict[str, "Family"] = {}


def register(cls: type["Family"]) -> type["Family"]:
    _FAMILIES[cls.name] = cls()
    return cls


def get_family(name: str) -> "Family":
    if name not in _FAMILIES:
        if name not in FAMILY_MODULES:
            raise KeyError(f"unknown pipeline family '{name}'; known: {', '.join(FAMILY_MODULES)}")
        importlib.import_module(f"core.families.{name}")
    return _FAMILIES[name]


def effective_spec(spec: ModelSpec, weights: str) -> ModelSpec:
    """The spec requests are checked against: the tiny twin's has small default size and steps."""
    if weights == "tiny" and not spec.is_api:
        family = get_family(spec.family)
        return tiny_spec(spec, family.tiny_size, family.tiny_steps)
    return spec


def diffusers_class(name: str):
    import diffusers

    return getattr(diffusers, name)


@dataclass(frozen=True)
class Speed:
    """What speeds a family up; core.recipes applies it. Component names are the pipeline's attributes.

    `why` gives the reason of each choice, keyed by recipe step (compile, fuse_qkv, channels_last, sdpa,
    compile_vae, fp8, cache): reports and errors quote it.
    """

    # Regional compilation: class names of the denoiser's sub-modules compiled one by one (the outermost
    # match; the same code compiles once for every block). Empty: the model's own `_repeated_blocks`.
    compile_regions: tuple[str, ...] = ()
    # torch.compile mode of the regions: None (default: fused kernels, no CUDA graphs), "reduce-overhead"
    # (CUDA graphs: static shapes, launch-bound models), "max-autotune-no-cudagraphs" (long autotuning).
    compile_mode: str | None = None
    fuse_qkv: tuple[str, ...] = ()  # components whose attention gets one fused QKV (or KV) projection
    channels_last: tuple[str, ...] = ()  # convolutional components (U-Nets, VAEs)
    compile_vae: bool = True  # compile the decoder of the `vae` component too (default mode)
    sdpa: str | None = None  # diffusers attention backend on Hopper or newer ("_native_cudnn"); None: PyTorch's pick
    fp8: bool = False  # float8 dynamic quantization of the denoiser's Linear layers supported (bf16 models)
    cache_threshold: float | None = None  # diffusers' first-block cache threshold; None: not supported
    why: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class HubRepo:
    """A hub repo a model's pretrained weights read: what it holds, whether it is gated, and the file whose presence
    in the cache says it was downloaded."""

    repo: str
    holds: str
    gated: bool = False
    probe: str = "model_index.json"


class Family:
    name: str = ""
    # Component attribute names whose forward calls make up each stage (profiling reads these).
    text_encoders: tuple[str, ...] = ("text_encoder",)
    denoiser: str = "transformer"
    decoder: str = "vae"
    # Default size and steps of the tiny twin (the real model's size multiple still applies).
    tiny_size: int = 32
    tiny_steps: int = 2
    # Several prompts in one pipeline call (prompt given as a list); off where the pipeline cannot.
    supports_batch: bool = True
    # Speed recipes beyond eager (core.recipes); None: eager only.
    speed: Speed | None = None

    # ---- loading -------------------------------------------------------------------------
    def load_pretrained(self, spec: ModelSpec, *, source: str, torch_dtype: torch.dtype,
                        token: str | None, device_map: str | None) -> Any:
        cls = diffusers_class(spec.pipeline_class)
        kwargs: dict[str, Any] = {**dtype_kwargs(torch_dtype), "token": token}
        if spec.variant and source == spec.hf_id:
            kwargs["variant"] = spec.variant
        if device_map:
            kwargs["device_map"] = device_map
        return cls.from_pretrained(source, **kwargs)

    def build_tiny(self, spec: ModelSpec) -> Any:
        raise NotImplementedError(f"{self.name}: no tiny twin")

    def hub_repos(self, spec: ModelSpec) -> list[HubRepo]:
        """Every hub download `load_pretrained` reads (`python -m core.bench weights`); the first is the model's own
        (which `<IGCS_MODELS_DIR>/<key>` replaces)."""
        return [HubRepo(spec.hf_id, spec.pipeline_class or "pipeline", spec.gated)] if spec.hf_id else []

    def stages(self) -> dict[str, tuple[tuple[str, ...], str, str]]:
        """Stage name → (component keys, method to time, "sum" of call times | "span" first start→last end)."""
        return {
            "text_encode": (self.text_encoders, "forward", "sum"),
            "denoise": ((self.denoiser,), "forward", "span"),
            "decode": ((self.decoder,), "decode", "sum"),
        }

    # ---- calling -------------------------------------------------------------------------
    def call_kwargs(self, spec: ModelSpec, req) -> dict[str, Any]:
        """Request → kwargs for ``pipe(...)``. The default fits classic-CFG pipelines."""
        kwargs: dict[str, Any] = {
            "prompt": req.prompt,
            "num_inference_steps": req.steps,
            "guidance_scale": req.guidance,
            "width": req.width,
            "height": req.height,
            "num_images_per_prompt": req.num_images,
        }
        if spec.supports_negative and req.negative_prompt:
            kwargs["negative_prompt"] = req.negative_prompt
        return kwargs

    def run(self, pipe: Any, spec: ModelSpec, req, generator) -> list:
        kwargs = self.call_kwargs(spec, req)
        return list(pipe(**kwargs, generator=generator, output_type="pil").images)

    # ---- introspection -------------------------------------------------------------------
    def components(self, pipe: Any) -> dict[str, torch.nn.Module]:
        return {k: v for k, v in pipe.components.items() if isinstance(v, torch.nn.Module)}

    def to(self, pipe: Any, device: str) -> Any:
        return pipe.to(device)


def extra_kwargs(req, *names: str) -> dict[str, Any]:
    """Pick pipeline kwargs that the spec's `extra` (or the request) carries."""
    return {n: req.extra[n] for n in names if n in req.extra}


def fit_area(aspect: float, area: int, multiple: int) -> tuple[int, int]:
    """(width, height) of `area` pixels at `aspect` (width / height), each rounded to a multiple."""
    width = (area * aspect) ** 0.5
    height = width / aspect
    return (max(multiple, round(width / multiple) * multiple), max(multiple, round(height / multiple) * multiple))


class EditFamily(Family):
    """A family whose pipeline takes source images (``image=``): instruction editing.

    The Engine opens the request's inputs (RGB) and hands them to `run` as `images`, after
    `edit_images` prepared them the way the pipeline expects; a request without a size gets
    `edit_size` of its first source (each pipeline's own default for that aspect ratio).
    """

    # Resize each source to the output size before the call (pipelines that encode the source at the
    # output size); False where the pipeline resizes the source itself (Qwen-Image-Edit-Plus).
    resize_inputs: bool = True
    # Output sizes derived from a source are rounded to this multiple (None: the spec's size_multiple).
    edit_multiple: int | None = None

    def stages(self):
        stages = super().stages()
        # The source's VAE encode: a stage of its own, so it is neither decode time nor missing from FLOPs.
        stages["image_encode"] = ((self.decoder,), "encode", "sum")
        return stages

    def edit_size(self, spec: ModelSpec, source_size: tuple[int, int]) -> tuple[int, int]:
        """The output size for a source of `source_size` when the request names none: the source's aspect
        ratio at the spec's default area (the tiny twin's spec has a tiny one)."""
        width, height = source_size
        return fit_area(width / height, spec.width * spec.height, self.edit_multiple or spec.size_multiple)

    def edit_images(self, spec: ModelSpec, req, images: list) -> list:
        """The sources as the pipeline gets them: RGB, resized to the output size unless the pipeline
        resizes them itself."""
        from PIL import Image

        out = [im.convert("RGB") for im in images]
        if self.resize_inputs:
            out = [im if im.size == (req.width, req.height) else
                   im.resize((req.width, req.height), Image.Resampling.LANCZOS) for im in out]
        return out

    def call_kwargs(self, spec: ModelSpec, req, images=None) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, req)
        kwargs["image"] = list(images or [])
        return kwargs

    def run(self, pipe: Any, spec: ModelSpec, req, generator, images=None) -> list:
        kwargs = self.call_kwargs(spec, req, images=images)
        return list(pipe(**kwargs, generator=generator, output_type="pil").images)
