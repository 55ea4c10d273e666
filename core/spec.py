"""ModelSpec: what one model is (a leaf: imported by everything, importing nothing of ours)."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Mapping

CfgStyle = Literal["classic", "distilled", "true_cfg", "none"]
# How an open model's weights are had: from_pretrained, full-size random from its architecture, or the tiny twin
WEIGHTS: tuple[str, ...] = ("pretrained", "random", "tiny")
VRAM_HEADROOM = 0.95  # a model is placed where its VRAM need is under 95 % of the free memory


@dataclass(frozen=True)
class ModelSpec:
    key: str
    name: str
    kind: Literal["open", "api"]
    # open models
    family: str | None = None
    hf_id: str | None = None
    pipeline_class: str | None = None
    dtype: Literal["float16", "bfloat16", "float32"] = "bfloat16"
    variant: str | None = None
    # authors' defaults
    width: int = 1024
    height: int = 1024
    steps: int = 30
    guidance: float = 5.0
    supports_negative: bool = True
    cfg_style: CfgStyle = "classic"
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    # limits checked before anything loads
    size_multiple: int = 16
    min_size: int = 256
    max_size: int = 2048
    min_steps: int = 1
    max_steps: int = 200
    guidance_range: tuple[float, float] = (0.0, 30.0)
    max_images_per_call: int = 4
    # facts for people choosing a model
    vram_gb: float | None = None  # approximate, weights in `dtype` plus activations at the default size
    params_b: float | None = None  # every component, billions
    gated: bool = False
    license: str = ""
    notes: str = ""
    # tasks it takes: "text-to-image", "edit" (core.jobs checks requests against them)
    tasks: tuple[str, ...] = ("text-to-image",)
    max_input_images: int = 0  # source images an edit takes
    takes_mask: bool = False  # an edit mask (e.g. OpenAI images.edit)
    # API models
    provider: str | None = None

    @property
    def is_api(self) -> bool:
        return self.kind == "api"

    def fits(self, free_gb: float | None, gpus: int = 1) -> bool:
        """Whether the VRAM need fits `gpus` GPUs with `free_gb` free each, with headroom (unknown: it fits). What
        loading (split over GPUs or not) and Ray's placement both ask."""
        return self.vram_gb is None or free_gb is None or self.vram_gb <= free_gb * VRAM_HEADROOM * gpus
