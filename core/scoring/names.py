"""What people read for each metric: its title (charts, tables, menus) and a short form (cards, narrow columns).

The one home of metric display names; a leaf with no heavy imports, so the pages draw without loading torch. The
scorers' own `label` (core.scoring.base.Scorer) says which model made a score (e.g. "CLIPScore (ViT-L/14)")."""
from __future__ import annotations

# metric -> (title, short)
NAMES: dict[str, tuple[str, str]] = {
    # text-to-image (core.scoring.scorers)
    "clip": ("CLIPScore", "CLIP"),
    "pick": ("PickScore", "Pick"),
    "aesthetic": ("LAION aesthetic", "aesthetic"),
    "hps": ("HPSv2.1", "HPS"),
    "imagereward": ("ImageReward", "IR"),
    "vqascore": ("VQAScore", "VQA"),
    # edits (core.scoring.edit_scorers), against the source image
    "edit_psnr": ("PSNR outside the edit", "PSNR out"),
    "edit_ssim": ("SSIM outside the edit", "SSIM out"),
    "edit_l1": ("L1 outside the edit", "L1 out"),
    "edit_check": ("suite pixel check", "check"),
    "clip_i": ("CLIP-I", "CLIP-I"),
    "clip_t": ("CLIP-T", "CLIP-T"),
    "clip_dir": ("CLIP-dir", "CLIP-dir"),
    "dino": ("DINO similarity", "DINO"),
}
TITLES: dict[str, str] = {m: title for m, (title, _) in NAMES.items()}
SHORT: dict[str, str] = {m: short for m, (_, short) in NAMES.items()}


def title(metric: str) -> str:
    return TITLES.get(metric, metric)


def short(metric: str) -> str:
    return SHORT.get(metric, metric)
