"""The store's SQLModel tables (one class per table; columns carry their units)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from core.store.json_column import StoreJSON

SQLITE_BUSY_TIMEOUT_MS = 30_000


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ---- tables --------------------------------------------------------------------------------------
class Run(SQLModel, table=True):
    """One user action or batch: what was asked for and on what machine."""

    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused after a delete (migration 0002)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    kind: str = Field(default="generate", index=True)  # generate | bench
    mode: str = "bench"  # dev (models stay resident) | bench (load → generate → unload)
    weights: str = "pretrained"  # pretrained | random | tiny
    # running | finished | failed (nothing ok) | cancelled | interrupted (its process died)
    status: str = Field(default="running", index=True)
    name: str | None = None
    output_dir: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(StoreJSON))  # shared parameters
    # the user's annotations (migration 0008): free notes, and tags (core.run_notes: a sorted list of short words)
    notes: str | None = Field(default=None, sa_type=Text)
    tags: list[str] = Field(default_factory=list, sa_column=Column(StoreJSON))
    jobs_total: int = 0
    pid: int | None = None
    # environment fingerprint
    hostname: str | None = None
    device: str | None = None
    gpu_name: str | None = None
    gpu_count: int = 0
    driver_version: str | None = None
    cuda_version: str | None = None
    python_version: str | None = None
    torch_version: str | None = None
    diffusers_version: str | None = None
    transformers_version: str | None = None
    git_revision: str | None = None
    git_dirty: bool | None = None  # uncommitted changes to tracked files when the run started


class Generation(SQLModel, table=True):
    """One image, or one failure (status 'failed' with the error text)."""

    __table_args__ = (
        # A job key is stored done at most once: resume skips it, duplicates are impossible.
        Index("ux_generation_job_ok", "job_key", unique=True,
              sqlite_where=text("status = 'ok'"), postgresql_where=text("status = 'ok'")),
        Index("ix_generation_model_created", "model_key", "created_at"),
        {"sqlite_autoincrement": True},  # ids are never reused after a delete (migration 0002)
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, index=True)
    job_key: str = Field(index=True)
    status: str = Field(default="ok", index=True)  # ok | failed | skipped
    error: str | None = None
    error_detail: str | None = None  # the traceback of a failure
    # what was asked
    model_key: str = Field(index=True)
    provider: str | None = None  # None for open models; "openai", "google", ... for APIs
    weights: str = "pretrained"
    prompt: str = ""
    negative_prompt: str | None = None
    category: str | None = Field(default=None, index=True)
    seed: int | None = Field(default=None, sa_type=BigInteger)  # 0 .. 2**32 - 1
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    image_index: int = 0
    repeat: int = 0  # timed repeat of the same job (0 = the first); resume keys carry it
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(StoreJSON))
    # the task, and an edit's source images (copies beside the output) with their sha256 (migration 0007)
    task: str = Field(default="text-to-image", index=True)
    input_images: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(StoreJSON))
    mask_image: dict[str, Any] | None = Field(default=None, sa_column=Column(StoreJSON))
    batch_size: int = 1  # requests that shared the pipeline call (time and FLOPs shared out evenly)
    images_per_call: int | None = None  # images the request asked of one call (num_images); None before 0007
    # what produced it (reproducibility)
    dtype: str | None = None
    scheduler: str | None = None
    scheduler_config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(StoreJSON))
    weights_revision: str | None = None  # hub commit, local folder hash, architecture hash or code revision
    attention_backend: str | None = None
    # what came out
    image_path: str | None = None
    device: str | None = None
    # where it was made: the host, the physical GPUs the model held (comma-separated ids) and how many
    host: str | None = None
    gpu_ids: str | None = None
    gpu_count: int | None = None
    # time (seconds, synchronised)
    load_s: float | None = None  # model load, when this generation paid for it
    total_s: float | None = None  # whole pipeline call (all images of the call)
    text_encode_s: float | None = None
    denoise_s: float | None = None
    decode_s: float | None = None
    prior_s: float | None = None  # Stable Cascade stage A/B split
    decoder_s: float | None = None
    first_call: bool = False  # the first call after load (includes warm-up)
    # speed recipe (core.recipes): "eager" is plain diffusers; others carry their first-call cost and image delta
    recipe: str = Field(default="eager", index=True)
    compile_s: float | None = None  # first call after the recipe minus the steady median (same configuration)
    psnr_db: float | None = None  # against the eager image of the same job (inf: identical)
    ssim: float | None = None
    # memory and size
    peak_mem_gb: float | None = None
    params_total: int | None = Field(default=None, sa_type=BigInteger)
    # compute (FLOPs = 2 x MACs; attention included)
    flops_text_encode: float | None = None
    flops_denoise: float | None = None
    flops_decode: float | None = None
    flops_total: float | None = None
    macs_total: float | None = None
    tflops_per_s: float | None = None
    mfu: float | None = None
    profile: dict[str, Any] = Field(default_factory=dict, sa_column=Column(StoreJSON))  # per-component detail
    # APIs
    request_id: str | None = None
    cost_usd: float | None = None
    api_params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(StoreJSON))


class Score(SQLModel, table=True):
    """One quality score of one image by one scorer revision (core.scoring). Never mixed into generation time:
    `seconds` is the scorer's own time per image. `weights` says which scorer weights made it: tiny-weight
    and random-weight scores are noise and are labelled wherever they show."""

    __table_args__ = (
        UniqueConstraint("generation_id", "metric", "scorer_revision", name="ux_score_generation_metric_revision"),
    )

    id: int | None = Field(default=None, primary_key=True)
    generation_id: int = Field(foreign_key="generation.id", index=True, ondelete="CASCADE")
    metric: str = Field(index=True)  # clip | pick | aesthetic | the edit metrics (core.scoring.metrics.METRICS)
    value: float
    scorer_id: str  # hub id or local folder of the weights
    scorer_revision: str  # hub commit, or a hash of the local folder (+ "@dtype" when not float32)
    weights: str = "pretrained"  # the scorer's weights: pretrained | random | tiny
    seconds: float | None = None  # scoring time per image (its batch's time / batch size)
    batch_size: int | None = None
    device: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Vote(SQLModel, table=True):
    """One blind A/B judgement on the Arena page (core.arena): two generations of one prompt and seed from two
    models, A shown on the left. `outcome`: a | b | tie | both_bad. `voter`: the login's email or name when
    IGCS_REQUIRE_LOGIN is on, else what the voter typed ("anonymous" when nothing)."""

    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    voter: str = Field(default="anonymous", index=True)
    generation_a_id: int = Field(foreign_key="generation.id", index=True, ondelete="CASCADE")
    generation_b_id: int = Field(foreign_key="generation.id", index=True, ondelete="CASCADE")
    outcome: str  # a | b | tie | both_bad


class FlopCount(SQLModel, table=True):
    """FLOPs of one component call at one set of input shapes, counted once on the meta device."""

    key: str = Field(primary_key=True)  # model key | component | shape signature
    model_key: str = Field(index=True)
    component: str
    shapes: str
    flops: float
    macs: float
    created_at: datetime = Field(default_factory=utcnow)


class DevicePeak(SQLModel, table=True):
    """A device's bf16 dense peak (TFLOP/s), measured once with a large matmul; MFU is measured against it."""

    name: str = Field(primary_key=True)  # torch.cuda.get_device_name
    peak_tflops: float
    dtype: str = "bfloat16"
    matmul_n: int = 8192
    torch_version: str | None = None
    measured_at: datetime = Field(default_factory=utcnow)


class AtlasEntry(SQLModel, table=True):
    """The compute atlas: one model at one size, step count and prompt setting, from its architecture alone
    (counted on the meta device). FLOPs = 2 x MACs, attention included; per image."""

    key: str = Field(primary_key=True)  # model key | WxH | steps | negative prompt or not
    model_key: str = Field(index=True)
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    negative_prompt: bool = False
    guidance: float | None = None
    available: bool = True
    reason: str | None = None  # why the entry is unavailable
    params_total: int | None = Field(default=None, sa_type=BigInteger)  # 64-bit: FLUX.1-dev has 16.9e9
    params_text_encode: int | None = Field(default=None, sa_type=BigInteger)
    params_denoise: int | None = Field(default=None, sa_type=BigInteger)
    params_decode: int | None = Field(default=None, sa_type=BigInteger)
    flops_text_encode: float | None = None
    flops_denoise: float | None = None
    flops_decode: float | None = None
    flops_per_image: float | None = None
    macs_per_image: float | None = None
    denoise_calls: int | None = None
    flops_per_denoise_call: float | None = None  # the largest denoiser pass (FLUX: one pass per step)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(StoreJSON))  # per component: calls, shapes
    count_s: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
