"""The quality metrics by name: labels, what each judges, and which are heavy. The one place labels live.

No torch here: the dashboard's labels and the CLI's choices read this without loading a scorer. Each metric's
scorer (its preprocessing and formula) is in core.scoring.scorers (CLIPScore, PickScore, LAION aesthetic),
core.scoring.hps, core.scoring.imagereward and core.scoring.vqascore.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str  # the key in the store and on the command line
    label: str  # charts, tables, menus
    short: str  # narrow table columns
    judges: str  # one line: what it says about an image
    heavy: bool = False  # GPU-only, several GB: never in a default list


METRIC_INFO: dict[str, Metric] = {m.name: m for m in (
    Metric("clip", "CLIPScore", "CLIP", "prompt alignment (CLIP ViT-L/14 cosine)"),
    Metric("pick", "PickScore", "Pick", "human preference (PickScore v1)"),
    Metric("aesthetic", "LAION aesthetic", "aesthetic", "looks alone, prompt unused (LAION aesthetic v2)"),
    Metric("hps", "HPSv2.1", "HPS", "human preference (HPSv2.1, cosine of its fine-tuned CLIP ViT-H/14)"),
    Metric("imagereward", "ImageReward", "IR", "human preference (ImageReward v1.0, BLIP reward model)"),
    Metric("vqascore", "VQAScore", "VQA", "prompt alignment: P(\"Yes\") of a VLM asked if the image shows the "
           "prompt (Qwen2.5-VL-7B)", heavy=True),
)}
METRICS: tuple[str, ...] = tuple(METRIC_INFO)
# What `score` and the pages pick when no metric is named: the light ones of the first release (a default never
# downloads a new multi-GB model behind a user's back; name hps, imagereward or vqascore to add them).
DEFAULT_METRICS: tuple[str, ...] = ("clip", "pick", "aesthetic")
METRIC_LABELS: dict[str, str] = {m.name: m.label for m in METRIC_INFO.values()}
METRIC_SHORT: dict[str, str] = {m.name: m.short for m in METRIC_INFO.values()}
