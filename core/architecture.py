"""The project's architecture specs: what each open model is made of, at full size, with sources.

``data/architectures/<model key>/architecture.json`` (written by scripts/build_architectures.py from the
collected configs, then committed: self-contained) lists per component the library class, its config
dict, the stage it belongs to (text_encode, denoise, decode, or unused in text-to-image) and the source
file with its confidence (E exact, N near-exact, R reconstructed, M missing); the tokenizers' layout, vocabulary
size and maximum length; the schedulers' configs. A model or component whose config is missing is marked
unavailable with the reason: nothing is guessed.

This module reads the specs and builds one component from its config on any device (``meta`` included)
in any dtype, with no full-precision detour: parameters are created where and as they will live.
"""
from __future__ import annotations

import importlib
from typing import Any


from core.lazy import lazy_module
from core.architecture_spec import (ARCHITECTURES_DIR, STAGES, Architecture, ArchitectureUnavailable,  # noqa: F401
                                      architecture_path, load_architecture)
from core.flops import default_dtype
from core.families import tokenizers as tk

torch = lazy_module("torch")


def resolve_class(path: str):
    """'diffusers.FluxTransformer2DModel' or a dotted module path + class name → the class."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except AttributeError:
        # lazily exported names (diffusers' deprecated pipelines): search the package's submodules
        for modname in _submodules(module):
            mod = importlib.import_module(modname)
            if hasattr(mod, name):
                return getattr(mod, name)
        raise


def _submodules(package: str) -> list[str]:
    import pkgutil

    pkg = importlib.import_module(package)
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules(getattr(pkg, "__path__", []))]


def build_component(spec: dict, *, device: str | torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """One component from its spec, parameters created directly on `device` in `dtype` (random values)."""
    if not spec.get("available", True) or "config" not in spec:
        raise ArchitectureUnavailable(spec.get("reason", "component config missing"))
    cls = resolve_class(spec["class"])
    cfg = dict(spec["config"])
    with torch.device(device), default_dtype(dtype):
        if spec.get("library") == "transformers":
            config = cls.config_class.from_dict(cfg)
            model = cls._from_config(config, dtype=dtype)
        else:
            model = cls.from_config(cfg)
    if device != "meta" and str(device) != "meta":
        _fill_uninitialized(model)
    if any(p.is_floating_point() and p.dtype != dtype for p in model.parameters()):
        model = model.to(dtype=dtype)
    return model.eval().requires_grad_(False)


def _fill_uninitialized(model: torch.nn.Module) -> None:
    """Parameters some classes leave as `torch.empty` (uninitialised memory) get small random values, so a
    random-weight pipeline computes on numbers rather than on whatever the allocator held (NaN, inf)."""
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point() and not torch.isfinite(p).all():
                p.normal_(0.0, 0.02)


def component_params(spec: dict) -> int | None:
    """Parameters of one component from its config (built on meta: no memory, milliseconds)."""
    try:
        module = build_component(spec, device="meta", dtype=torch.bfloat16)
    except ArchitectureUnavailable:
        return None
    return sum(p.numel() for p in module.parameters())


def build_tokenizer(spec: dict) -> Any:
    """A tokenizer (or a Qwen2-VL processor around one) built in code (core.families.tokenizers) with the spec's
    layout, vocabulary size and length."""
    builders = {"clip": tk.clip_tokenizer, "t5": tk.t5_tokenizer, "gemma": tk.gemma_tokenizer,
                "decoder_lm": tk.decoder_lm_tokenizer, "qwen2": tk.qwen2_tokenizer, "glm": tk.glm_tokenizer,
                "bert": tk.bert_tokenizer, "gpt2": tk.gpt2_tokenizer, "qwen2_vl": tk.qwen2_vl_tokenizer,
                "qwen2_vl_processor": tk.qwen2_vl_processor, "qwen3": tk.qwen3_tokenizer}
    kind = spec["kind"]
    if kind not in builders:
        raise ArchitectureUnavailable(f"tokenizer kind {kind!r} has no builder; known: {', '.join(builders)}")
    kwargs: dict[str, Any] = {"model_max_length": int(spec["model_max_length"])}
    if spec.get("vocab_size"):
        kwargs["vocab_size"] = int(spec["vocab_size"])
    return builders[kind](**kwargs)


def build_scheduler(spec: dict) -> Any | None:
    """The scheduler from its config, or None where the spec has none (the caller falls back)."""
    if not spec.get("available"):
        return None
    cls = resolve_class(spec["class"])
    return cls.from_config(dict(spec["config"]))
