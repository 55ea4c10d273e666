"""How far an image is from a reference image of the same job: PSNR and SSIM (a recipe against eager).

SSIM follows Wang et al. 2004 as scikit-image computes it (`gaussian_weights=True`): an 11 x 11 Gaussian
window (sigma 1.5), K1 0.01, K2 0.03, population covariances, the mean over every window that lies inside
the image (torchmetrics also averages reflect-padded border windows), then the mean over the RGB channels.
Both numbers are on 8-bit RGB, data range 255.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

DATA_RANGE = 255.0
WINDOW, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03


@dataclass(frozen=True)
class ImageDelta:
    psnr_db: float  # inf for identical images
    ssim: float  # 1.0 for identical images

    def as_json(self) -> dict[str, float | None]:
        return {"psnr_db": None if math.isinf(self.psnr_db) else self.psnr_db, "ssim": self.ssim}


def as_rgb_array(image) -> np.ndarray:
    """A PIL image or an H x W x 3 uint8 array -> float64 H x W x 3."""
    array = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"image: expected H x W x 3 RGB, got shape {array.shape}")
    return array.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(DATA_RANGE ** 2 / mse)


def _gaussian_window() -> torch.Tensor:
    x = torch.arange(WINDOW, dtype=torch.float64) - (WINDOW - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * SIGMA ** 2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    if min(a.shape[:2]) < WINDOW:
        raise ValueError(f"image: SSIM needs at least {WINDOW} x {WINDOW} pixels, got {a.shape[1]} x {a.shape[0]}")
    x = torch.from_numpy(a).permute(2, 0, 1)[:, None]  # channels as a batch of 1-channel images
    y = torch.from_numpy(b).permute(2, 0, 1)[:, None]
    w = _gaussian_window()[None, None]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w)  # "valid": only windows inside the image

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(s.mean(dim=(1, 2, 3)).mean())


def image_delta(image, reference) -> ImageDelta:
    """PSNR (dB) and SSIM of `image` against `reference` (same size)."""
    a, b = as_rgb_array(image), as_rgb_array(reference)
    if a.shape != b.shape:
        raise ValueError(f"image: sizes differ, {a.shape[1]}x{a.shape[0]} against {b.shape[1]}x{b.shape[0]}")
    return ImageDelta(psnr_db=psnr(a, b), ssim=ssim(a, b))
