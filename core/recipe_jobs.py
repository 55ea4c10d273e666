"""What a speed recipe adds to the runner's jobs: their key, and after a group of jobs (one model, one recipe)
the first-call cost (`compile_s`) and the image delta against eager (`psnr_db`, `ssim`, CLIP cosine).

- Key: a recipe other than eager adds ``~<recipe>`` to the job's key (eager keys are the keys stored before
  recipes existed), so the eager job of a recipe job is its key without that part.
- `compile_s`, per model × recipe (not eager) × configuration in one run: the first call after the recipe was applied (the
  first warm-up call with ``--warmup``, else the first timed job, which is stored with `first_call`) minus the
  median of that configuration's steady calls; the same value on each of those rows. None without a first call
  (the model was already warm) or without a steady call to subtract (one job and no warm-up).
- Delta, for every recipe but eager: each image against the eager image of the same job (same request and
  repeat, else repeat 0), from this run (``--force``) or as stored, read from its PNG (lossless); PSNR (inf when
  identical) and SSIM in columns, with the CLIP image cosine in ``profile["recipe_delta"]`` when the run scores
  with clip or pick.
"""
from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy.engine import Engine as SqlEngine

from core.errors import CaseStudyError
from core.generation import Outcome
from core.jobs import EAGER, GenerationRequest, Job, request_shape
from core.scoring.compare import compare
from core.scoring.scorers import Scorer
from core.store import Generation, generations_by_job_keys, session_scope


log = logging.getLogger(__name__)

def configuration(request: GenerationRequest) -> str:
    """Everything but prompt and seed: jobs of one configuration share a first call and a steady state."""
    return repr(request_shape(request))


@dataclass
class Done:
    """One job of the group as it was recorded."""

    job: Job
    outcome: Outcome
    rows: list[Generation]


def compile_seconds(done: Sequence[Done], warm_first_s: dict[str, float]) -> dict[int, dict[str, Any]]:
    """{row id: {"compile_s": seconds}} for the group's ok rows (see the module's docstring)."""
    configs: dict[str, list[Done]] = {}
    for d in done:
        if d.outcome.ok and d.job.recipe != EAGER:  # eager compiles nothing: its first call is load and warm-up
            configs.setdefault(configuration(d.job.request), []).append(d)
    updates: dict[int, dict[str, Any]] = {}
    for config, items in configs.items():
        first = warm_first_s.get(config)
        if first is None:
            first = next((d.outcome.total_s for d in items if d.outcome.first_call), None)
        steady = [d.outcome.total_s for d in items if not d.outcome.first_call and d.outcome.total_s is not None]
        if first is None or not steady:
            continue
        seconds = max(0.0, first - statistics.median(steady))
        updates.update({row.id: {"compile_s": seconds} for d in items for row in d.rows})
    return updates


def eager_keys(job: Job, run_id: int | None) -> list[str]:
    """Keys of the eager job of `job`, most specific first: this run's (--force), the same repeat, repeat 0."""
    key = job.key.replace(f"~{job.recipe}", "", 1)
    keys = [key, key.removesuffix(f"@{run_id}")]
    keys += [k.replace(f"#r{job.repeat}", "", 1) for k in keys if job.repeat]
    return list(dict.fromkeys(keys))


def quality_deltas(done: Sequence[Done], *, db: SqlEngine, run_id: int | None,
                   clip: Scorer | None = None) -> dict[int, dict[str, Any]]:
    """{row id: {"psnr_db", "ssim", "profile"}} of each ok image of a recipe job against its eager image."""
    wanted = {d.job.key: eager_keys(d.job, run_id) for d in done if d.job.recipe != EAGER and d.outcome.ok}
    if not wanted:
        return {}
    keys = [f"{k}-{i}" if i else k for d in done if d.job.key in wanted
            for k in wanted[d.job.key] for i in range(len(d.rows))]
    with session_scope(db, read_only=True) as session:
        eager = {g.job_key: g for g in generations_by_job_keys(session=session, keys=keys)}
    updates: dict[int, dict[str, Any]] = {}
    for d in done:
        for i, row in enumerate(d.rows if d.job.key in wanted else []):
            reference = next((eager[k] for k in (f"{k}-{i}" if i else k for k in wanted[d.job.key]) if k in eager), None)
            if reference is None:
                log.info("%s %s: no eager image of this job to compare with", d.job.spec.key, d.job.recipe)
                continue
            try:
                delta = compare(row, reference, clip=clip)
            except CaseStudyError as exc:
                log.warning("%s %s: no quality delta: %s", d.job.spec.key, d.job.recipe, exc)
                continue
            detail = {"against": reference.id, "psnr_db": None if delta.psnr_db == float("inf") else delta.psnr_db,
                      "ssim": delta.ssim, "clip_cosine": delta.clip_cosine,
                      "clip_scorer": clip.metric if clip is not None else None}
            updates[row.id] = {"psnr_db": delta.psnr_db, "ssim": delta.ssim,
                               "profile": {**row.profile, "recipe_delta": detail}}
    return updates


def merge(*updates: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for part in updates:
        for row_id, values in part.items():
            out.setdefault(row_id, {}).update(values)
    return out
