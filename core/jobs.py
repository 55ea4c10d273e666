"""One definition of a request, its configuration and its job key (bottom layer: imports only core.spec and core.errors).

- `GenerationRequest`: what a page or the CLI asks of one model (prompt, seed, every parameter, the task and its input
  images), checked against the model's spec by `validate_request` before anything loads.
- `Job`: a resolved request with its speed recipe, repeat and stable key; what the runner, executors and recorder pass.
- `Configuration`: every axis that changes the cost or the image except prompt and seed (model, weights, task, size,
  steps, guidance, scheduler, dtype, recipe, batch size, images per call, API options, input images). Everything that
  groups rows (the CLI summary, Charts, export, Compare, History's matrix) groups by it, through `core.stats`; its
  label derives from it, and `labels()` never gives two different configurations one label.
- Job key: sha256 of (model, weights, prompt, seed, every parameter; input images by their sha256, never their path),
  plus ``~<recipe>`` for a recipe other than eager and ``#r<repeat>`` for a repeat > 0. A text-to-image request with no
  inputs has exactly the key it had before tasks existed, so stores written by earlier releases resume unchanged.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from core.errors import InvalidRequest, RequestError
from core.spec import ModelSpec

MAX_SEED = 2**32 - 1
EAGER = "eager"
TEXT_TO_IMAGE = "text-to-image"
EDIT = "edit"
TASKS = (TEXT_TO_IMAGE, EDIT)


# ---- input images --------------------------------------------------------------------------------
def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class InputImage:
    """A source image of an edit: where it is read from, and the sha256 of its bytes (what keys and configurations use)."""

    path: str
    sha256: str

    @classmethod
    def from_path(cls, path: str | Path) -> "InputImage":
        try:
            return cls(path=str(path), sha256=file_sha256(path))
        except OSError as exc:
            raise RequestError("inputs", str(path), f"a readable image file ({exc.strerror or exc})") from None

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


# ---- the request ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GenerationRequest:
    model: str
    prompt: str  # the prompt, or an edit's instruction
    negative_prompt: str | None = None
    seed: int | None = None  # None: a random seed is drawn and recorded
    steps: int | None = None  # None: the model's default
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    num_images: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    task: str = TEXT_TO_IMAGE
    inputs: tuple[InputImage, ...] = ()  # the source image(s) of an edit, in order
    mask: InputImage | None = None  # an optional edit mask (e.g. OpenAI images.edit)

    def resolved(self, spec: ModelSpec) -> "GenerationRequest":
        """Fill every unset field from the model's defaults (and draw a seed), then validate."""
        req = replace(
            self,
            seed=self.seed if self.seed is not None else random.randint(0, MAX_SEED),
            # API models: steps and guidance stay as given (most APIs take neither); the provider
            # records what it actually sent.
            steps=self.steps if self.steps is not None or spec.is_api else spec.steps,
            guidance=self.guidance if self.guidance is not None or spec.is_api else spec.guidance,
            width=self.width if self.width is not None else spec.width,
            height=self.height if self.height is not None else spec.height,
            extra={**dict(spec.extra), **self.extra},
            inputs=tuple(self.inputs),
        )
        validate_request(req, spec)
        return req

    def params(self) -> dict[str, Any]:
        return asdict(self)

    def key_params(self) -> dict[str, Any]:
        """What the job key hashes: every field; inputs by their sha256 only; task, inputs and mask only when set (so a
        plain text-to-image request keeps the key it had before tasks existed)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("task", "inputs", "mask")}
        out["extra"] = dict(self.extra)
        if self.task != TEXT_TO_IMAGE or self.inputs or self.mask is not None:
            out["task"] = self.task
            out["inputs"] = [i.sha256 for i in self.inputs]
            out["mask"] = self.mask.sha256 if self.mask is not None else None
        return out

    def job_key(self, weights: str) -> str:
        """Stable key of (model, weights, prompt, seed, every parameter): what resume skips on."""
        if self.seed is None:
            raise ValueError("job_key needs a resolved request (seed set)")
        payload = json.dumps({**self.key_params(), "weights": weights}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


def recipe_key(base: str, recipe: str) -> str:
    return base if recipe == EAGER else f"{base}~{recipe}"


def job_key(request: GenerationRequest, *, weights: str, repeat: int = 0, recipe: str = EAGER) -> str:
    """The stable key of a job: model, weights, prompt, seed, every parameter, the speed recipe and the repeat.

    Eager, repeat 0 has the bare request key (what stores written before repeats and recipes existed hold);
    another recipe adds ``~<recipe>``, repeat r > 0 ``#r<r>``. Resume skips keys already stored ok.
    """
    base = recipe_key(request.job_key(weights), recipe)
    return base if repeat == 0 else f"{base}#r{repeat}"


@dataclass(frozen=True)
class Job:
    spec: ModelSpec
    request: GenerationRequest  # resolved and checked
    key: str
    category: str | None = None
    repeat: int = 0
    recipe: str = EAGER  # speed recipe (core.recipes)

    @property
    def shape(self) -> "GenerationRequest":
        """The request without prompt and seed: jobs of one shape share a warm-up, a first call and a batch."""
        return request_shape(self.request)


@dataclass(frozen=True)
class Planned:
    """One request to plan, before checking: what a page or the CLI asks for."""

    request: GenerationRequest
    category: str | None = None
    repeat: int = 0
    recipe: str = EAGER


def request_shape(request: GenerationRequest) -> GenerationRequest:
    """Everything but prompt and seed (an edit's input images stay: another source is another shape)."""
    return replace(request, prompt="", seed=0)


# ---- checking a request against its model -------------------------------------------------------
def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` or ``N`` (square) → (width, height); RequestError naming the field otherwise."""
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x", 1)
            return int(w), int(h)
        return int(text), int(text)
    except ValueError:
        raise RequestError("size", text, "WIDTHxHEIGHT or N, e.g. 1024x768 or 512") from None


def validate_request(req: GenerationRequest, spec: ModelSpec) -> None:
    """Raise RequestError naming the field, the value and what is allowed (every bad field: `.errors`)."""
    errors = request_errors(req, spec)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidRequest(errors)


def request_errors(req: GenerationRequest, spec: ModelSpec) -> list[RequestError]:
    """Every field of `req` that `spec` does not allow, each naming the field, the value and what is allowed."""
    errors: list[RequestError] = []
    # 1. Task and inputs
    errors += _task_errors(req, spec)
    # 2. Prompt
    if not isinstance(req.prompt, str) or not req.prompt.strip():
        what = "the edit instruction" if req.task == EDIT else "the prompt"
        errors.append(RequestError("prompt", req.prompt, f"{what} must be non-empty text"))
    if req.negative_prompt and not spec.supports_negative and not spec.is_api:
        errors.append(RequestError(
            "negative_prompt", req.negative_prompt,
            f"{spec.key} takes no negative prompt ({spec.cfg_style} guidance); leave it empty",
        ))
    # 3. Size (API sizes map to the provider's nearest allowed size: core.providers checks them)
    for name in ("width", "height"):
        value = getattr(req, name)
        if spec.is_api:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(RequestError(name, value, "must be an integer number of pixels"))
        elif not spec.min_size <= value <= spec.max_size or value % spec.size_multiple:
            errors.append(RequestError(
                name, value,
                f"{spec.key} takes multiples of {spec.size_multiple} from {spec.min_size} to {spec.max_size}",
            ))
    # 4. Steps and guidance
    if not spec.is_api:
        if not isinstance(req.steps, int) or isinstance(req.steps, bool) or not spec.min_steps <= req.steps <= spec.max_steps:
            errors.append(RequestError("steps", req.steps, f"an integer from {spec.min_steps} to {spec.max_steps}"))
        lo, hi = spec.guidance_range
        if not isinstance(req.guidance, (int, float)) or not lo <= float(req.guidance) <= hi:
            errors.append(RequestError("guidance", req.guidance, f"a number from {lo} to {hi}"))
    # 5. Seed and count
    if not isinstance(req.seed, int) or isinstance(req.seed, bool) or not 0 <= req.seed <= MAX_SEED:
        errors.append(RequestError("seed", req.seed, f"an integer from 0 to {MAX_SEED}, or empty for a random seed"))
    if not isinstance(req.num_images, int) or not 1 <= req.num_images <= spec.max_images_per_call:
        errors.append(RequestError("num_images", req.num_images, f"from 1 to {spec.max_images_per_call} for {spec.key}"))
    return errors


def _task_errors(req: GenerationRequest, spec: ModelSpec) -> list[RequestError]:
    tasks = tuple(getattr(spec, "tasks", (TEXT_TO_IMAGE,)))
    if req.task not in TASKS:
        return [RequestError("task", req.task, f"one of {', '.join(TASKS)}")]
    if req.task not in tasks:
        return [RequestError("task", req.task, f"{spec.key} takes {' and '.join(tasks)}")]
    errors: list[RequestError] = []
    if req.task == TEXT_TO_IMAGE and (req.inputs or req.mask is not None):
        errors.append(RequestError("inputs", len(req.inputs), "no input image for text-to-image (use task edit)"))
    if req.task == EDIT:
        most = spec.max_input_images
        if not req.inputs:
            errors.append(RequestError("inputs", 0, f"an edit needs a source image ({spec.key} takes 1 to {most})"))
        elif len(req.inputs) > most:
            errors.append(RequestError("inputs", len(req.inputs),
                                       f"{spec.key} takes {'one input image' if most == 1 else f'1 to {most} input images'}"))
        if req.mask is not None and not spec.takes_mask:
            errors.append(RequestError("mask", req.mask.path, f"{spec.key} takes no mask"))
    return errors


# ---- the configuration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Configuration:
    """Every axis that changes the cost or the image, except prompt and seed (and the repeat).

    Built the same way from a job (`of_job`) and from a stored row (`of_row`), so a run's summary and every view of the
    store group alike. `None` means "not recorded" (rows written before the axis existed)."""

    model: str
    weights: str | None = None
    task: str = TEXT_TO_IMAGE
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None
    dtype: str | None = None
    recipe: str = EAGER
    batch_size: int = 1
    images_per_call: int = 1
    options: str = ""  # the request's extra options (API parameters, model quirks) as sorted JSON
    inputs: str = ""  # the input images' sha256, comma-separated

    # The columns of a generation row each axis reads (see `of_row`), in label order.
    AXES = ("model", "weights", "task", "width", "height", "steps", "guidance", "scheduler", "dtype", "recipe",
            "batch_size", "images_per_call", "options", "inputs")

    @classmethod
    def of_job(cls, job: Job, *, weights: str | None = None, batch_size: int = 1, dtype: str | None = None,
               scheduler: str | None = None) -> "Configuration":
        r, spec = job.request, job.spec
        return cls(model=spec.key, weights="api" if spec.is_api else weights, task=r.task, width=r.width,
                   height=r.height, steps=r.steps, guidance=_float(r.guidance), scheduler=scheduler,
                   dtype=dtype, recipe=job.recipe, batch_size=int(batch_size or 1),
                   images_per_call=int(r.num_images or 1), options=options_text(r.extra),
                   inputs=",".join(i.sha256 for i in r.inputs))

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> "Configuration":
        """From a generation row as a dict (a store row's columns, or a frame's record)."""
        get = row.get
        return cls(model=str(get("model_key")), weights=_text(get("weights")), task=_text(get("task")) or TEXT_TO_IMAGE,
                   width=_int(get("width")), height=_int(get("height")), steps=_int(get("steps")),
                   guidance=_float(get("guidance")), scheduler=_text(get("scheduler")),
                   dtype=_dtype(get("dtype")), recipe=_text(get("recipe")) or EAGER,
                   batch_size=_int(get("batch_size")) or 1, images_per_call=_int(get("images_per_call")) or 1,
                   options=options_text(get("extra")), inputs=inputs_text(get("input_images")))

    def without(self, *axes: str) -> "Configuration":
        return replace(self, **{a: Configuration.__dataclass_fields__[a].default for a in axes})

    def key(self) -> str:
        return json.dumps([getattr(self, a) for a in self.AXES], default=str)

    def label(self, *, show: Iterable[str] = ()) -> str:
        """`1024×1024 · 30 steps · cfg 5 · bf16 · compile · batch 4` (model left out: views show it beside).

        Always: task when an edit, size, steps, guidance, dtype, recipe when not eager, batch size and images per call
        when not 1, inputs as a short hash. `show` adds other axes (weights, scheduler, options) by name."""
        show = set(show)
        parts = []
        if "weights" in show and self.weights:
            parts.append(f"{self.weights} weights")
        if self.task != TEXT_TO_IMAGE:
            parts.append(self.task)
        if self.width is not None and self.height is not None:
            parts.append(f"{self.width}×{self.height}")
        if self.steps is not None:
            parts.append(f"{self.steps} steps")
        if self.guidance is not None:
            parts.append(f"cfg {self.guidance:g}")
        if self.dtype:
            parts.append(self.dtype)
        if "scheduler" in show and self.scheduler:
            parts.append(self.scheduler.removesuffix("Scheduler"))
        if self.recipe != EAGER:
            parts.append(self.recipe)
        if self.batch_size != 1:
            parts.append(f"batch {self.batch_size}")
        if self.images_per_call != 1:
            parts.append(f"{self.images_per_call} per call")
        if "options" in show and self.options and self.options != "{}":
            parts.append(self.options)
        if self.inputs:
            parts.append("input " + ",".join(s[:8] for s in self.inputs.split(",")))
        return " · ".join(parts) or "default settings"


def labels(configs: Iterable[Configuration]) -> dict[Configuration, str]:
    """A label for each configuration, unique among them: the base label, and where two configurations of one model
    would share it, the axes that tell them apart (weights, scheduler, options), then a short hash as a last resort."""
    configs = list(dict.fromkeys(configs))
    out = {c: c.label() for c in configs}
    for extra in (("weights",), ("weights", "scheduler"), ("weights", "scheduler", "options")):
        clashes = _clashes(out)
        if not clashes:
            return out
        for c in clashes:
            out[c] = c.label(show=extra)
    for c in _clashes(out):
        out[c] = f"{out[c]} · #{hashlib.sha256(c.key().encode()).hexdigest()[:6]}"
    return out


def _clashes(out: dict[Configuration, str]) -> list[Configuration]:
    seen: dict[tuple[str, str], list[Configuration]] = {}
    for c, text in out.items():
        seen.setdefault((c.model, text), []).append(c)
    return [c for group in seen.values() if len(group) > 1 for c in group]


def options_text(extra: Any) -> str:
    if _missing(extra):
        return ""
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            return extra
    if not extra:
        return ""
    return json.dumps(extra, sort_keys=True, default=str)


def inputs_text(value: Any) -> str:
    if _missing(value):
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if not value:
        return ""
    return ",".join(str(i.get("sha256") if isinstance(i, Mapping) else getattr(i, "sha256", i)) for i in value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _float(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def _text(value: Any) -> str | None:
    return None if _missing(value) or value == "" else str(value)


def _dtype(value: Any) -> str | None:
    text = _text(value)
    return text.removeprefix("torch.") if text else None
