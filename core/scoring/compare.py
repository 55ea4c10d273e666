"""Image against image: two rows of the same job (same prompt, seed and size; another setting such as weights,
dtype or a speed recipe) compared pixel by pixel and in CLIP's embedding space.

- PSNR (dB) over RGB in [0, 255]: 10 log10(255^2 / MSE); inf for identical images.
- SSIM (Wang et al. 2004) with torchmetrics' defaults: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
  data range 255, averaged over the RGB channels and the image. 1.0 for identical images.
- CLIP image cosine: cosine of the two images' CLIP image embeddings, when a CLIP scorer is given (loaded).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image

from core.errors import CaseStudyError
from core.lazy import lazy_module
from core.scoring.scorers import Scorer

torch = lazy_module("torch")
image_metrics = lazy_module("torchmetrics.functional.image")

SAME_JOB_FIELDS: tuple[str, ...] = ("prompt", "seed", "width", "height")


class CompareError(CaseStudyError, ValueError):
    """The two rows cannot be compared image against image."""


@dataclass(frozen=True)
class Comparison:
    generation_a: int | None
    generation_b: int | None
    psnr_db: float
    ssim: float
    clip_cosine: float | None = None


def _as_dict(row: Any) -> dict[str, Any]:
    if isinstance(row, Mapping):
        return dict(row)
    if hasattr(row, "model_dump"):
        return row.model_dump()
    raise CompareError(f"row: {type(row).__name__} is not a Generation row or a dict of its columns")


def _image(row: dict[str, Any], name: str) -> Image.Image:
    if row.get("status", "ok") != "ok":
        raise CompareError(f"{name}.status: {row.get('status')!r}; only ok rows have an image to compare")
    path = row.get("image_path")
    if not path:
        raise CompareError(f"{name}.image_path: empty; the row has no image")
    if not Path(path).is_file():
        raise CompareError(f"{name}.image_path: {path!r} does not exist")
    with Image.open(path) as im:
        return im.convert("RGB")


def _tensor(image: Image.Image) -> torch.Tensor:
    """(1, 3, H, W) float64 in [0, 255]."""
    return torch.from_numpy(np.asarray(image, dtype=np.float64)).permute(2, 0, 1).unsqueeze(0)


@dataclass(frozen=True)
class PixelDelta:
    psnr_db: float  # inf for identical images
    ssim: float  # 1.0 for identical images

    def as_json(self) -> dict[str, float | None]:
        return {"psnr_db": None if self.psnr_db == float("inf") else self.psnr_db, "ssim": self.ssim}


def pixel_delta(image_a: Image.Image, image_b: Image.Image) -> PixelDelta:
    """PSNR and SSIM of two images of one size (a speed recipe's image against eager's, in memory)."""
    if image_a.size != image_b.size:
        raise CompareError(f"image size: {image_a.size} differs from {image_b.size}")
    x, y = _tensor(image_a.convert("RGB")), _tensor(image_b.convert("RGB"))
    return PixelDelta(psnr_db=float(image_metrics.peak_signal_noise_ratio(x, y, data_range=255.0)),
                      ssim=float(image_metrics.structural_similarity_index_measure(x, y, data_range=255.0)))


def check_same_job(a: dict[str, Any], b: dict[str, Any]) -> None:
    for field in SAME_JOB_FIELDS:
        if a.get(field) != b.get(field):
            raise CompareError(f"{field}: {a.get(field)!r} (row {a.get('id')}) differs from {b.get(field)!r} "
                               f"(row {b.get('id')}); compare() takes two rows of the same job "
                               f"(same {', '.join(SAME_JOB_FIELDS)})")


def compare(row_a: Any, row_b: Any, *, clip: Scorer | None = None) -> Comparison:
    """PSNR, SSIM and (with a loaded CLIP or PickScore scorer) CLIP image cosine of two rows of the same job."""
    # 1. Check inputs
    a, b = _as_dict(row_a), _as_dict(row_b)
    check_same_job(a, b)
    image_a, image_b = _image(a, "row_a"), _image(b, "row_b")
    if image_a.size != image_b.size:
        raise CompareError(f"image size: {image_a.size} (row {a.get('id')}) differs from {image_b.size} "
                           f"(row {b.get('id')})")
    if clip is not None and not hasattr(clip, "image_embeddings"):
        raise CompareError(f"clip: the {clip.metric!r} scorer has no CLIP image embeddings; pass 'clip' or 'pick'")
    # 2. Pixels
    pixels = pixel_delta(image_a, image_b)
    # 3. Embeddings
    cosine = None
    if clip is not None:
        emb = clip.image_embeddings([image_a, image_b])
        cosine = float((emb[0] * emb[1]).sum())
    return Comparison(generation_a=a.get("id"), generation_b=b.get("id"), psnr_db=pixels.psnr_db, ssim=pixels.ssim,
                      clip_cosine=cosine)
