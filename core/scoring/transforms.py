"""Image preprocessing of the scorers whose authors used torchvision, written with PIL and torch alone.

The CLIP-family scorers (CLIPScore, PickScore, aesthetic) go through transformers' PIL CLIP image processor. HPSv2.1
and ImageReward were trained and published with torchvision pipelines whose rounding differs from it by a pixel
on some sizes, so they get their authors' steps here, operation for operation (torchvision is not a dependency):

- `resize_crop` (ImageReward `_transform`): Resize(n, BICUBIC) on the PIL image (shortest edge to n, the other
  `int(n * long / short)`), CenterCrop(n) (offsets `int(round((size - n) / 2))`), RGB, ToTensor, Normalize.
- `resize_longest_pad` (hpsv2 `image_transform(..., resize_longest_max=True)`, what `hpsv2.score` uses): RGB,
  ToTensor, then on the float tensor ResizeMaxSize(n): longest edge to n (`round(dim * n / longest)`), bicubic
  with antialias (torchvision >= 0.17's default for tensors; `interpolate(..., antialias=True)`), zero padding
  centred (left/top get the floor half), then Normalize. The whole image is kept: nothing is cropped.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image
from core.lazy import lazy_module

torch = lazy_module("torch")
F = lazy_module("torch.nn.functional")

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """torchvision's ToTensor of an RGB image: (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float().div(255)


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    return (x - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)


def resize_crop(image: Image.Image, size: int, mean: Sequence[float] = OPENAI_MEAN,
                std: Sequence[float] = OPENAI_STD) -> torch.Tensor:
    """Shortest edge to `size` (PIL bicubic), centre crop `size` x `size`, RGB, [0, 1], normalised: (3, size, size)."""
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) != (w, h):
        image = image.resize((new_w, new_h), Image.BICUBIC)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    image = image.crop((left, top, left + size, top + size)).convert("RGB")
    return normalize(to_tensor(image), mean, std)


def resize_longest_pad(image: Image.Image, size: int, mean: Sequence[float] = OPENAI_MEAN,
                       std: Sequence[float] = OPENAI_STD) -> torch.Tensor:
    """Longest edge to `size` (bicubic, antialiased, on the float tensor), zero-padded to a centred square."""
    x = to_tensor(image.convert("RGB"))
    h, w = x.shape[1:]
    scale = size / float(max(h, w))
    if scale != 1.0:
        new_h, new_w = round(h * scale), round(w * scale)
        if (new_h, new_w) != (h, w):
            x = F.interpolate(x[None], size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True)[0]
        pad_h, pad_w = size - new_h, size - new_w
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), value=0.0)
    return normalize(x, mean, std)
