"""Edit metrics: the edited image against its source, as the instruction-editing papers report them.

Both papers compare an edited image with a reference: Emu Edit (Sheynin et al. 2023, arXiv 2311.10089, its test
set having no target images) with the **source**; MagicBrush (Zhang et al. 2023, arXiv 2306.10012) with a
ground-truth target. We score against the source, as Emu Edit does, and add preservation outside the edited region.

| metric | definition | source |
|---|---|---|
| `edit_l1` | mean absolute pixel difference, RGB in [0, 1], outside the item's regions (whole image without) | MagicBrush's L1 (`nn.L1Loss` of `ToTensor` images, the output resized to the reference's size), Emu Edit's L1 |
| `edit_psnr` | 10 log10(1 / MSE) over the same pixels, RGB in [0, 1]; 100 dB when identical (capped) | |
| `edit_ssim` | SSIM (Wang et al. 2004; torchmetrics' defaults: 11 x 11 Gaussian, sigma 1.5, reflect-padded edges) map averaged over the same pixels less those within 5 px of a region (their window reaches into it); the whole image's is torchmetrics' SSIM | |
| `clip_i` | cos(E_img(output), E_img(source)) | MagicBrush's and Emu Edit's CLIP-I |
| `clip_t` | cos(E_img(output), E_txt(target caption, else the instruction)) | MagicBrush's CLIP-T, Emu Edit's CLIP-out |
| `clip_dir` | cos(E_img(output) - E_img(source), E_txt(target caption) - E_txt(source caption)), with L2-normalised embeddings; only where both captions exist | InstructPix2Pix's directional similarity (Brooks et al. 2023, `metrics/clip_similarity.py`), Emu Edit's CLIP-dir |

Cosines are plain (no x100, no clamp), as both papers print them. E is CLIP ViT-L/14 (openai/clip-vit-large-patch14,
the `clip` scorer's model and preprocessing), the model InstructPix2Pix's directional similarity used; MagicBrush's
script loads ViT-B/32, so our CLIP-I and CLIP-T are not on the scale of its tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image
from core.lazy import lazy_module

torch = lazy_module("torch")
_torchmetrics_functional_image = lazy_module("torchmetrics.functional.image")

Box = tuple[int, int, int, int]
PSNR_CAP_DB = 100.0  # identical pixels: the MSE is 0 and PSNR infinite; stored as this
SSIM_KERNEL = 11


@dataclass(frozen=True)
class Preservation:
    psnr_db: float | None
    ssim: float | None
    l1: float | None
    outside_share: float  # share of the image the numbers cover (0: the regions cover it all; numbers None)


def as_array(image: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1]; resized (bicubic) to `size` (W, H) first when it differs."""
    image = image.convert("RGB")
    if size is not None and image.size != tuple(size):
        image = image.resize(tuple(size), Image.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


def regions_mask(size: tuple[int, int], regions: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W) bool: inside any of the [x0, y0, x1, y1] boxes (x1, y1 exclusive)."""
    w, h = size
    mask = np.zeros((h, w), dtype=bool)
    for x0, y0, x1, y1 in regions:
        mask[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)] = True
    return mask


def preservation(output: Image.Image, source: Image.Image, regions: Sequence[Sequence[int]] = (), *,
                 ssim: bool = True) -> Preservation:
    """PSNR, SSIM and L1 of `output` (resized to the source's size) against `source`, outside `regions` (SSIM,
    the costly one, only when `ssim`)."""
    src = as_array(source)
    out = as_array(output, source.size)
    keep = ~regions_mask(source.size, regions)
    share = float(keep.mean())
    if not keep.any():
        return Preservation(None, None, None, 0.0)
    diff = out[keep] - src[keep]
    l1 = float(np.abs(diff).mean())
    mse = float((diff.astype(np.float64) ** 2).mean())
    psnr = PSNR_CAP_DB if mse == 0 else min(float(10 * np.log10(1.0 / mse)), PSNR_CAP_DB)
    if not ssim:
        return Preservation(psnr_db=psnr, ssim=None, l1=l1, outside_share=share)
    x = torch.from_numpy(out).permute(2, 0, 1)[None]  # float32: the float64 value to about 1e-6
    y = torch.from_numpy(src).permute(2, 0, 1)[None]
    _, full = _torchmetrics_functional_image.structural_similarity_index_measure(x, y, data_range=1.0, kernel_size=SSIM_KERNEL,
                                                  return_full_image=True)
    # The map torchmetrics averages (reflect-padded edges), less the pixels whose window reaches into a region.
    pad = (SSIM_KERNEL - 1) // 2
    keep_ssim = ~regions_mask(source.size, [(x0 - pad, y0 - pad, x1 + pad, y1 + pad) for x0, y0, x1, y1 in regions])
    value = float(full[0].mean(0).numpy()[keep_ssim].mean()) if keep_ssim.any() else None
    return Preservation(psnr_db=psnr, ssim=value, l1=l1, outside_share=share)


def clip_image_similarity(out_emb: torch.Tensor, src_emb: torch.Tensor) -> torch.Tensor:
    """CLIP-I: (n,) cosines of L2-normalised image embeddings."""
    return (out_emb * src_emb).sum(-1)


def clip_text_similarity(out_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """CLIP-T (CLIP-out): (n,) cosines of L2-normalised image and text embeddings."""
    return (out_emb * text_emb).sum(-1)


def clip_directional_similarity(out_emb: torch.Tensor, src_emb: torch.Tensor, target_text: torch.Tensor,
                                source_text: torch.Tensor) -> torch.Tensor:
    """CLIP-dir: (n,) cos(out - src, target - source) of L2-normalised embeddings (InstructPix2Pix's formula)."""
    return torch.nn.functional.cosine_similarity(out_emb - src_emb, target_text - source_text, dim=-1)
