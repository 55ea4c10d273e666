"""The speed recipes by name: what each is made of and what it needs (no torch here, so the command line's help and
checks stay light). How each step is applied to a loaded pipeline is core.recipes."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from core.errors import UnknownRecipeError

STEPS = ("fuse_qkv", "fp8", "channels_last", "sdpa", "cache", "compile", "compile_vae")
LOSSLESS = ("fuse_qkv", "channels_last", "sdpa", "compile", "compile_vae")
FP8_PACKAGE = "torchao>=0.12,<0.20"
HOPPER = (9, 0)
CUDAGRAPHS = "reduce-overhead"  # torch.compile's CUDA-graph mode


@dataclass(frozen=True)
class Recipe:
    name: str
    steps: tuple[str, ...]
    description: str
    needs_cuda: bool = False
    min_capability: tuple[int, int] | None = None  # CUDA compute capability
    package: str | None = None  # a pip requirement: "torchao>=0.12,<0.20"

    @property
    def lossless(self) -> bool:
        return all(step in LOSSLESS for step in self.steps)

    @property
    def required(self) -> tuple[str, ...]:
        """Steps the recipe is pointless without: a model that cannot take them is refused."""
        return tuple(s for s in self.steps if s in ("compile", "fp8", "cache"))


_FP8 = dict(needs_cuda=True, min_capability=HOPPER, package=FP8_PACKAGE)
RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("eager", (), "plain diffusers: the baseline"),
    Recipe("compile", LOSSLESS, "regional compile, fused QKV, channels-last, best attention, compiled VAE decode"),
    Recipe("fp8", ("fp8",), "float8 weights and activations in the denoiser's Linear layers (torchao)", **_FP8),
    Recipe("cache", ("cache",), "first-block cache: a step whose first block barely changes reuses the rest"),
    Recipe("compile+fp8", LOSSLESS + ("fp8",), "compile, with float8 Linear layers", **_FP8),
    Recipe("compile+cache", LOSSLESS + ("cache",), "compile, with the first-block cache"),
)}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        close = difflib.get_close_matches(name, list(RECIPES), n=1)
        raise UnknownRecipeError(name, list(RECIPES), close[0] if close else None)
    return RECIPES[name]
