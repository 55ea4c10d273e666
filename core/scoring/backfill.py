"""Scoring stored images: inline after a model's jobs (the runner) or afterwards (`python -m core.bench score`).

`ScorerSet` holds the scorers of one sweep or backfill: each is loaded once, on first use, and kept until
`close()`; `offload()` moves them to the CPU so that a generator loading next has the GPU to itself (bench mode).
Scores are written one batch at a time, so a killed backfill resumes where it stopped; a score already stored for
(generation, metric, scorer revision) is never written twice.

Scorer weights `auto` (the `score` command's default) follows the rows: a row generated with tiny weights is scored
by the tiny scorers (built in code, offline; its image is noise anyway), every other row (pretrained, random, API)
by the pretrained ones. `MetricCounts.by_weights` says which scorers scored how many rows.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from PIL import Image
from sqlalchemy.engine import Engine

from core.edits import EditIndex, EditItem
from core.loading import resolve_device
from core.scoring.edit_scorers import EditPair, EditScorer, edit_pair
from core.scoring.metrics import make_scorers, parse_metrics
from core.scoring.scorers import SCORER_WEIGHTS, Scorer
from core.settings import Settings
from core.store import Generation, Score, add_scores, generations_missing_score, session_scope
from core.lazy import lazy_module

torch = lazy_module("torch")

log = logging.getLogger(__name__)

DTYPES = ("float32", "bfloat16", "float16")  # torch dtypes by name (torch loads with the first scorer)
AUTO = "auto"
WEIGHT_CHOICES: tuple[str, ...] = (AUTO, *SCORER_WEIGHTS)


def scorer_weights_for(generation_weights: str | None) -> str:
    """The scorer weights `auto` gives a row: tiny for tiny generator weights, pretrained for anything else."""
    return "tiny" if generation_weights == "tiny" else "pretrained"


@dataclass
class MetricCounts:
    """What one metric's pass did: scores written, rows whose image file is gone, scoring seconds, rows the
    metric does not apply to (an edit without captions for clip_dir, without ground truth for edit_check), and scores
    written per scorer weights mode."""

    scored: int = 0
    missing_file: int = 0
    seconds: float = 0.0
    not_applicable: int = 0
    by_weights: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: "MetricCounts") -> "MetricCounts":
        by = dict(self.by_weights)
        for mode, n in other.by_weights.items():
            by[mode] = by.get(mode, 0) + n
        return MetricCounts(self.scored + other.scored, self.missing_file + other.missing_file,
                            self.seconds + other.seconds, self.not_applicable + other.not_applicable, by)


# progress(metric, done, total)
Progress = Callable[[str, int, int], None]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _open(path: str) -> Image.Image | None:
    if not Path(path).is_file():
        return None
    with Image.open(path) as im:
        return im.convert("RGB")


class ScorerSet:
    """The scorers of one sweep or one backfill, loaded once each."""

    def __init__(self, metrics: str | Sequence[str], *, device: str = "auto", dtype: str = "float32",
                 weights: str = "pretrained", settings: Settings | None = None, edit_items: Sequence[EditItem] = ()):
        if dtype not in DTYPES:
            raise ValueError(f"dtype: {dtype!r} is not allowed; choose one of {', '.join(DTYPES)}")
        if weights not in WEIGHT_CHOICES:
            raise ValueError(f"scorer weights: {weights!r} is not allowed; choose one of {', '.join(WEIGHT_CHOICES)}")
        self.metrics = parse_metrics(metrics)
        self.device = resolve_device(device)
        self.dtype = getattr(torch, dtype) if self.device != "cpu" else torch.float32  # half precision on CPU: slow, partial
        self.weights = weights
        modes = SCORER_WEIGHTS if weights == AUTO else (weights,)
        # Checked now, before any model loads (a GPU-only scorer's pretrained weights on the CPU: when asked for
        # explicitly; with `auto`, when a row needs them).
        self._scorers: dict[tuple[str, str], Scorer] = {
            (m, mode): scorer for mode in modes
            for m, scorer in make_scorers(self.metrics, weights=mode, settings=settings).items()}
        if weights != AUTO:
            for scorer in self._scorers.values():
                scorer.check_device(self.device)
        # Edit metrics find a stored edit's suite item (region, captions) by source hash and instruction.
        self._edit_items = tuple(edit_items)
        self._edit_index: EditIndex | None = None

    @property
    def edit_index(self) -> EditIndex:
        """The shipped suites' items and the ones handed in, read on first use."""
        if self._edit_index is None:
            self._edit_index = EditIndex.shipped(extra=self._edit_items)
        return self._edit_index

    def scorer(self, metric: str, weights: str | None = None) -> Scorer:
        """The loaded scorer of `metric` (of `weights`; default: this set's mode, pretrained under auto), on this
        set's device."""
        mode = weights or (self.weights if self.weights != AUTO else "pretrained")
        scorer = self._scorers[(metric, mode)]
        if not scorer.loaded:
            _sync(self.device)
            t0 = time.perf_counter()
            scorer.load(self.device, self.dtype)
            _sync(self.device)
            log.info("scorer %s (%s) loaded from %s in %.1f s (revision %s)", metric, mode, scorer.scorer_id,
                     time.perf_counter() - t0, scorer.revision)
        elif scorer.device != self.device:
            scorer.to(self.device)
        return scorer

    def score(self, *, store_engine: Engine, run_id: int | None = None, generation_ids: Sequence[int] | None = None,
              batch_size: int = 16, progress: Progress | None = None) -> dict[str, MetricCounts]:
        """Score the ok generations (of `run_id`, or among `generation_ids`, or all) that have no score of a metric
        by a scorer of the weights mode they get (this set's, or under auto the rows' own: see the module doc;
        pretrained scores are not blocked by tiny ones, nor the reverse). Each metric scores the rows of its task
        (edit metrics: edits). A new revision of a scorer does not rescore what an older one scored."""
        if batch_size < 1:
            raise ValueError(f"batch_size: {batch_size!r} is not allowed; use 1 or more")
        counts: dict[str, MetricCounts] = {}
        for metric in self.metrics:
            counts[metric] = MetricCounts()
            for (m, mode), scorer in self._scorers.items():
                if m != metric:
                    continue
                with session_scope(store_engine, read_only=True) as s:
                    rows = generations_missing_score(session=s, metric=metric, scorer_weights=mode, run_id=run_id,
                                                     generation_ids=generation_ids, task=scorer.task)
                if self.weights == AUTO:
                    rows = [row for row in rows if scorer_weights_for(row.weights) == mode]
                if not rows:  # the scorer is loaded only when something lacks its metric
                    continue
                counts[metric] += self._score_rows(self.scorer(metric, mode), rows, store_engine=store_engine,
                                                   batch_size=batch_size, progress=progress)
        return counts

    def _score_rows(self, scorer: Scorer, rows: list[Generation], *, store_engine: Engine, batch_size: int,
                    progress: Progress | None) -> MetricCounts:
        counts = MetricCounts()
        for i in range(0, len(rows), batch_size):
            batch, images, pairs = [], [], []
            for row in rows[i:i + batch_size]:
                image = _open(row.image_path)
                pair = edit_pair(row, image, self.edit_index) if image is not None and scorer.task == "edit" else None
                if image is None or (scorer.task == "edit" and pair is None):
                    counts.missing_file += 1
                    log.warning("generation %s: image %s or its source is gone; not scored", row.id, row.image_path)
                    continue
                batch.append(row)
                images.append(image)
                pairs.append(pair)
            if batch:
                _sync(self.device)
                t0 = time.perf_counter()
                values = self._values(scorer, batch, images, pairs)
                _sync(self.device)
                seconds = time.perf_counter() - t0
                scores = [Score(generation_id=row.id, metric=scorer.metric, value=value, scorer_id=scorer.scorer_id,
                                scorer_revision=scorer.revision, weights=scorer.weights, seconds=seconds / len(batch),
                                batch_size=len(batch), device=self.device)
                          for row, value in zip(batch, values) if value is not None]
                counts.not_applicable += len(batch) - len(scores)
                with session_scope(store_engine) as s:
                    added = add_scores(session=s, scores=scores)
                counts.scored += added
                counts.by_weights[scorer.weights] = counts.by_weights.get(scorer.weights, 0) + added
                counts.seconds += seconds
            if progress is not None:
                label = scorer.metric if self.weights != AUTO else f"{scorer.metric} ({scorer.weights})"
                progress(label, min(i + batch_size, len(rows)), len(rows))
        return counts

    @staticmethod
    def _values(scorer: Scorer, rows: list[Generation], images: list[Image.Image],
                pairs: list[EditPair | None]) -> list[float | None]:
        if isinstance(scorer, EditScorer):
            return scorer.score_edits(pairs)
        return scorer.score(images, [row.prompt for row in rows])

    def offload(self) -> None:
        """Move every loaded scorer to the CPU (kept loaded): a generator can have the GPU."""
        for scorer in self._scorers.values():
            if scorer.loaded and scorer.device != "cpu":
                scorer.to("cpu")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def close(self) -> None:
        for scorer in self._scorers.values():
            if scorer.loaded:
                scorer.unload()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def __enter__(self) -> "ScorerSet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def score_missing(*, store_engine: Engine, metrics: str | Sequence[str], run_id: int | None = None,
                  generation_ids: Sequence[int] | None = None, batch_size: int = 16, device: str = "auto",
                  dtype: str = "float32", weights: str = "pretrained", settings: Settings | None = None,
                  progress: Progress | None = None, edit_items: Sequence[EditItem] = ()) -> dict[str, MetricCounts]:
    """Score every ok generation (of one run, or all) lacking a metric; each scorer loads once. A rerun adds none
    (an edit metric that does not apply to a row, e.g. clip_dir without captions, writes nothing for it).
    `weights`: pretrained, tiny, or auto (each row by the scorers of its own weights mode)."""
    with ScorerSet(metrics, device=device, dtype=dtype, weights=weights, settings=settings,
                   edit_items=edit_items) as scorers:
        return scorers.score(store_engine=store_engine, run_id=run_id, generation_ids=generation_ids,
                             batch_size=batch_size, progress=progress)
