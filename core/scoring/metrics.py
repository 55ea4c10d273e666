"""Every metric by name: the text-to-image scorers (core.scoring.scorers) and the edit scorers
(core.scoring.edit_scorers). `--score`, `score --metrics` and the ScorerSet read names here.

`make_scorers` builds one scorer per metric, with one CLIP model for `clip` and the CLIP edit metrics (clip_i,
clip_t, clip_dir), so a sweep that asks for several loads it once.
"""
from __future__ import annotations

from typing import Sequence

from core.scoring import scorers
from core.scoring.edit_scorers import EDIT_METRICS, EDIT_SCORERS, ClipEditScorer
from core.scoring.scorers import SCORERS, ClipScorer, Scorer, UnknownMetricError, make_scorer
from core.settings import Settings

TEXT_METRICS: tuple[str, ...] = scorers.METRICS
METRICS: tuple[str, ...] = tuple(dict.fromkeys((*SCORERS, *EDIT_SCORERS)))
LABELS: dict[str, str] = {name: cls.label for name, cls in {**SCORERS, **EDIT_SCORERS}.items()}
# What `score` and the pages pick when no metric is named: every metric but the opt-in ones (HPSv2.1, ImageReward,
# VQAScore: multi-GB downloads, VQAScore GPU-only), which a default never pulls in behind a user's back.
DEFAULT_METRICS: tuple[str, ...] = tuple(m for m in METRICS if {**SCORERS, **EDIT_SCORERS}[m].in_defaults)
__all__ = ["DEFAULT_METRICS", "EDIT_METRICS", "LABELS", "METRICS", "TEXT_METRICS", "make_scorers", "parse_metrics",
           "task_of"]


def parse_metrics(text: str | Sequence[str]) -> list[str]:
    """"clip,clip_i" or ["clip", "edit_psnr"] -> checked names (unknown ones fail with every known metric)."""
    return scorers.parse_metrics(text, known=METRICS)


def task_of(metric: str) -> str:
    """The task of the rows a metric scores: "text-to-image" or "edit"."""
    if metric in EDIT_SCORERS:
        return EDIT_SCORERS[metric].task
    if metric in SCORERS:
        return SCORERS[metric].task
    raise UnknownMetricError(metric, METRICS)


def make_scorers(metrics: str | Sequence[str], *, weights: str = "pretrained",
                 settings: Settings | None = None) -> dict[str, Scorer]:
    """{metric: scorer} for the checked names, the CLIP edit metrics sharing the `clip` scorer's model."""
    names = parse_metrics(metrics)
    made: dict[str, Scorer] = {m: make_scorer(m, weights=weights, settings=settings) for m in names if m in SCORERS}
    clip = made.get("clip")
    for name in names:
        cls = EDIT_SCORERS.get(name)
        if cls is None:
            continue
        if issubclass(cls, ClipEditScorer):
            if clip is None:
                clip = ClipScorer(weights=weights, settings=settings)
            made[name] = cls(weights=weights, settings=settings, clip=clip)
        else:
            made[name] = cls(weights=weights, settings=settings)
    return {name: made[name] for name in names}
