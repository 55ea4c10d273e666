"""Noise removed where it starts, not hidden by blanket filters.

Without torchvision, transformers' lazy module answers `transformers.CLIPImageProcessor` (which diffusers'
pipelines import) with a one-time warning and its PIL twin. We only ever need the PIL twin (no pipeline here
preprocesses images with it), so the names are bound to the PIL classes first: the same classes, no warning.
"""
from __future__ import annotations

import importlib.util
import sys

# The image processors diffusers' pipeline modules import from transformers.
IMAGE_PROCESSORS = ("CLIPImageProcessor", "SiglipImageProcessor")


def prefer_pil_image_processors() -> list[str]:
    """Bind transformers' image-processor names to their PIL classes when torchvision is absent; returns the
    names bound (none when torchvision is installed: then the default classes load without a warning)."""
    if importlib.util.find_spec("torchvision") is not None:
        return []
    import transformers  # heavy; only when a pipeline family is about to import diffusers

    pil = {name: getattr(transformers, f"{name}Pil", None) for name in IMAGE_PROCESSORS}
    # Resolving a lazy name can swap the module object in sys.modules: bind on the one imports will see.
    module = sys.modules["transformers"]
    bound = []
    for name, cls in pil.items():
        if cls is not None and name not in module.__dict__:
            setattr(module, name, cls)
            bound.append(name)
    return bound
