"""Outcomes → image files (parameters in the PNG), `generation_config.json` and store rows.

One `Recorder` per run: it creates the run's row and folder, writes one row per image (or one failed
row per failed job) in one transaction after the image files, and closes the run with its status.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core.store import url as store_url
from core.environment import fingerprint
from core.errors import StoreError
from core.generation import Outcome
from core.outputs import image_filename, keep_input, make_run_dir, save_image, write_generation_config
from core.run_notes import clean_notes, clean_tags
from core.store import Generation, Run, add_run, done_job_keys, finish_run, session_scope, update_generations


class Recorder:
    """Writes one run's images, `generation_config.json` and store rows."""

    def __init__(self, *, db, output_dir: str | Path, kind: str, mode: str, weights: str, device: str,
                 params: dict[str, Any] | None = None, name: str | None = None, jobs_total: int = 0,
                 tags: Sequence[str] = (), notes: str | None = None):
        self.db = db
        self.run_dir = make_run_dir(output_dir)
        run = Run(kind=kind, mode=mode, weights=weights, name=name, output_dir=str(self.run_dir),
                  tags=clean_tags(tags), notes=clean_notes(notes),
                  params=params or {}, jobs_total=jobs_total, pid=os.getpid(), **fingerprint(device))
        with session_scope(db) as session:
            self.run = add_run(session=session, run=run)
        self._entries: list[dict[str, Any]] = []
        self._write_config()

    def _write_config(self) -> None:
        write_generation_config(self.run_dir, run=self.run.model_dump(mode="json"), generations=self._entries)

    def record(self, outcome: Outcome, *, job_key: str, category: str | None = None, repeat: int = 0,
               recipe: str = "eager") -> list[Generation]:
        """One row per image (or one failed row), written in one transaction after the image files.

        [] when another process stored this job (ok) meanwhile: two copies of one batch race on its keys; the
        loser's images are removed. A row the store refuses otherwise raises StoreError (its images removed)."""
        req, spec = outcome.request, outcome.spec
        base = dict(
            run_id=self.run.id, job_key=job_key, repeat=repeat, recipe=recipe, model_key=spec.key, provider=spec.provider,
            weights="api" if spec.is_api else self._weights(), prompt=req.prompt,
            negative_prompt=req.negative_prompt, category=category, steps=req.steps, guidance=req.guidance,
            width=req.width, height=req.height, extra=dict(req.extra), device=outcome.device,
            host=outcome.host, gpu_ids=outcome.gpu_ids, gpu_count=outcome.gpu_count,
            load_s=outcome.load_s, total_s=outcome.total_s, first_call=outcome.first_call,
            text_encode_s=outcome.stage_s.get("text_encode"), denoise_s=outcome.stage_s.get("denoise"),
            decode_s=outcome.stage_s.get("decode"), prior_s=outcome.stage_s.get("prior"),
            decoder_s=outcome.stage_s.get("decoder"), peak_mem_gb=outcome.peak_mem_gb,
            params_total=sum(outcome.params.values()) or None, profile=outcome.profile,
            flops_text_encode=outcome.flops.get("text_encode"), flops_denoise=_denoise_flops(outcome.flops),
            flops_decode=outcome.flops.get("decode"), flops_total=outcome.flops_total, macs_total=outcome.macs_total,
            tflops_per_s=outcome.tflops_per_s, mfu=outcome.mfu,
            request_id=outcome.request_id, api_params=outcome.api_params,
            dtype=outcome.provenance.get("dtype"), scheduler=outcome.provenance.get("scheduler"),
            scheduler_config=outcome.provenance.get("scheduler_config") or {},
            weights_revision=outcome.provenance.get("weights_revision"),
            attention_backend=outcome.provenance.get("attention_backend"),
            task=req.task, batch_size=int(outcome.profile.get("batch_size") or 1), images_per_call=req.num_images,
            input_images=[keep_input(i, self.run_dir) for i in req.inputs] or None,
            mask_image=keep_input(req.mask, self.run_dir) if req.mask is not None else None,
        )
        rows: list[Generation] = []
        if outcome.ok and outcome.images:
            per_image_cost = (outcome.cost_usd / len(outcome.images)) if outcome.cost_usd is not None else None
            for i, image in enumerate(outcome.images):
                seed = req.seed + i if req.seed is not None else None
                if spec.is_api and "seed" not in outcome.api_params:
                    seed = None  # this API was sent no seed: the image is not reproducible from one
                key = job_key if i == 0 else f"{job_key}-{i}"  # image 0 carries the job key resume looks for
                row = Generation(**{**base, "job_key": key}, seed=seed, image_index=i, status="ok",
                                 cost_usd=per_image_cost)
                if image.size != (req.width, req.height):
                    # Some pipelines (HiDream, API size mapping) return another size: record what came out.
                    row.extra = {**row.extra, "requested_size": [req.width, req.height]}
                    row.width, row.height = image.size
                path = self.run_dir / image_filename(model_key=spec.key, seed=seed, index=i, job_key=job_key,
                                                 recipe=recipe, repeat=repeat)
                save_image(image, path, self._png_params(row))
                row.image_path = str(path)
                rows.append(row)
        else:
            rows.append(Generation(**base, seed=req.seed, status="failed",
                                   error=outcome.error or "the pipeline returned no image",
                                   error_detail=outcome.error_detail,
                                   cost_usd=outcome.cost_usd))
        try:
            with session_scope(self.db) as session:
                for row in rows:
                    session.add(row)
                session.commit()
                for row in rows:
                    session.refresh(row)
        except SQLAlchemyError as exc:
            _remove_images(rows)  # no image without its row
            if isinstance(exc, IntegrityError) and outcome.ok and self._stored_elsewhere(job_key):
                return []  # another process (a second copy of this batch) stored this job meanwhile: a skip
            raise StoreError(f"store: the row of {spec.key} (job {job_key[:12]}) could not be written to "
                             f"{store_url.shown(str(self.db.url))}: {store_url.first_line(exc)}; the run stops here, "
                             "rerun the same command to resume once the store takes it") from exc
        self._entries.extend(r.model_dump(mode="json") for r in rows)
        if len(self._entries) <= 200 or not outcome.ok:
            self._write_config()
        return rows

    def _stored_elsewhere(self, job_key: str) -> bool:
        try:
            with session_scope(self.db, read_only=True) as session:
                return job_key in done_job_keys(session=session, keys=[job_key])
        except SQLAlchemyError:
            return False

    def update(self, updates: dict[int, dict[str, Any]]) -> None:
        """Set columns of rows this run wrote ({id: {column: value}}), in the store and generation_config.json."""
        if not updates:
            return
        with session_scope(self.db) as session:
            rows = {r.id: r.model_dump(mode="json") for r in update_generations(session=session, updates=updates)}
        self._entries = [rows.get(e.get("id"), e) for e in self._entries]
        self._write_config()

    def _weights(self) -> str:
        return self.run.weights

    @staticmethod
    def _png_params(row: Generation) -> dict[str, Any]:
        keep = ("model_key", "provider", "weights", "task", "prompt", "negative_prompt", "seed", "steps", "guidance",
                "width", "height", "extra", "recipe", "batch_size", "input_images", "job_key", "run_id", "request_id",
                "api_params")
        return {k: getattr(row, k) for k in keep}

    def finish(self, status: str) -> None:
        with session_scope(self.db) as session:
            run = finish_run(session=session, run_id=self.run.id, status=status)
        if run is not None:
            self.run = run
        self._write_config()


def _remove_images(rows: list[Generation]) -> None:
    for row in rows:
        if row.image_path:
            Path(row.image_path).unlink(missing_ok=True)


def _denoise_flops(flops: dict[str, float]) -> float | None:
    """Denoising FLOPs: the denoise stage, or Stable Cascade's prior and decoder stages together."""
    parts = [flops[s] for s in ("denoise", "prior", "decoder") if s in flops]
    return sum(parts) if parts else None
