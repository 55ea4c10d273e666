"""Random-weight pipelines: the full-size architecture from data/architectures, no download.

Each component is created directly on the target device in the target dtype (``torch.device`` context
and a temporary default dtype: no full-precision detour, no CPU copy), tokenizers are built in code with
the real vocabulary sizes and maximum lengths, schedulers come from their configs. ``device="meta"`` gives
the same pipeline with no memory at all (the compute atlas counts it).

The family's tiny twin is the template: it says which pipeline class, which slots are filled (a slot the
twin leaves empty, like Stable Cascade's image encoder, stays empty) and the pipeline's flags
(``requires_safety_checker``, ``force_zeros_for_empty_prompt`` ...); every module and tokenizer in it is
replaced by its full-size counterpart. Pipelines made of several pipelines (Stable Cascade's prior and
decoder, a dataclass of two) are rebuilt part by part, their components named ``<part>.<slot>``.
"""
from __future__ import annotations

import dataclasses
import inspect
import logging
from typing import Any


from core.lazy import lazy_module
from core.architecture import (Architecture, ArchitectureUnavailable, build_component, build_scheduler,
                               build_tokenizer, load_architecture)
from core.families import effective_spec
from core.spec import ModelSpec

torch = lazy_module("torch")

log = logging.getLogger(__name__)


def build_random_pipeline(family, spec: ModelSpec, *, device: str, dtype: torch.dtype) -> Any:
    """The model's pipeline at full size with random weights, on `device` in `dtype`."""
    arch = load_architecture(spec.key).require()
    template = family.build_tiny(effective_spec(spec, "tiny"))
    return _rebuild(template, arch, prefix="", device=device, dtype=dtype)


def _is_pipeline(obj: Any) -> bool:
    from diffusers import DiffusionPipeline

    return isinstance(obj, DiffusionPipeline)


def _rebuild(obj: Any, arch: Architecture, *, prefix: str, device: str, dtype: torch.dtype) -> Any:
    if _is_pipeline(obj):
        return _rebuild_pipeline(obj, arch, prefix=prefix, device=device, dtype=dtype)
    if dataclasses.is_dataclass(obj):
        parts = {f.name: _rebuild(getattr(obj, f.name), arch, prefix=f"{prefix}{f.name}.", device=device, dtype=dtype)
                 for f in dataclasses.fields(obj) if _is_pipeline(getattr(obj, f.name))}
        return dataclasses.replace(obj, **parts)
    raise ArchitectureUnavailable(f"{arch.key}: cannot rebuild a {type(obj).__name__} at full size")


def _rebuild_pipeline(pipe: Any, arch: Architecture, *, prefix: str, device: str, dtype: torch.dtype) -> Any:
    cls = type(pipe)
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    components = pipe.components
    kwargs: dict[str, Any] = {}
    for p in params:
        name, full = p.name, f"{prefix}{p.name}"
        current = components.get(name) if name in components else pipe.config.get(name, p.default)
        if current is inspect.Parameter.empty:
            continue
        if current is None:
            kwargs[name] = None  # the twin leaves this slot empty (safety checker, image encoder ...)
        elif full in arch.components:
            kwargs[name] = build_component(arch.components[full], device=device, dtype=dtype)
        elif full in arch.tokenizers:
            kwargs[name] = build_tokenizer(arch.tokenizers[full])
        elif full in arch.schedulers:
            scheduler = build_scheduler(arch.schedulers[full])
            if scheduler is None:
                log.info("%s: %s has no config in the spec; using the family's scheduler", arch.key, full)
                scheduler = current
            kwargs[name] = scheduler
        elif isinstance(current, torch.nn.Module):
            raise ArchitectureUnavailable(f"{arch.key}: component {full} has no full-size config in the spec")
        else:
            kwargs[name] = current  # flags and processors of the twin (no weights)
    return cls(**kwargs)
