"""One generation request and its check against the model's spec, before anything loads."""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from core.errors import InvalidRequest, RequestError
from core.spec import ModelSpec
from core.registry import get_spec

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    prompt: str
    negative_prompt: str | None = None
    seed: int | None = None  # None: a random seed is drawn and recorded
    steps: int | None = None  # None: the model's default
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    num_images: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved(self, spec: ModelSpec | None = None) -> "GenerationRequest":
        """Fill every unset field from the model's defaults (and draw a seed), then validate."""
        spec = spec or get_spec(self.model)
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
        )
        validate_request(req, spec)
        return req

    def params(self) -> dict[str, Any]:
        return asdict(self)

    def job_key(self, weights: str) -> str:
        """Stable key of (model, weights, prompt, seed, every parameter): what resume skips on."""
        if self.seed is None:
            raise ValueError("job_key needs a resolved request (seed set)")
        payload = json.dumps({**self.params(), "weights": weights}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


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
    # 1. Prompt
    if not isinstance(req.prompt, str) or not req.prompt.strip():
        errors.append(RequestError("prompt", req.prompt, "the prompt must be non-empty text"))
    if req.negative_prompt and not spec.supports_negative and not spec.is_api:
        errors.append(RequestError(
            "negative_prompt", req.negative_prompt,
            f"{spec.key} takes no negative prompt ({spec.cfg_style} guidance); leave it empty",
        ))
    # 2. Size (API sizes map to the provider's nearest allowed size: core.providers checks them)
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
    # 3. Steps and guidance
    if not spec.is_api:
        if not isinstance(req.steps, int) or isinstance(req.steps, bool) or not spec.min_steps <= req.steps <= spec.max_steps:
            errors.append(RequestError("steps", req.steps, f"an integer from {spec.min_steps} to {spec.max_steps}"))
        lo, hi = spec.guidance_range
        if not isinstance(req.guidance, (int, float)) or not lo <= float(req.guidance) <= hi:
            errors.append(RequestError("guidance", req.guidance, f"a number from {lo} to {hi}"))
    # 4. Seed and count
    if not isinstance(req.seed, int) or isinstance(req.seed, bool) or not 0 <= req.seed <= MAX_SEED:
        errors.append(RequestError("seed", req.seed, f"an integer from 0 to {MAX_SEED}, or empty for a random seed"))
    if not isinstance(req.num_images, int) or not 1 <= req.num_images <= spec.max_images_per_call:
        errors.append(RequestError("num_images", req.num_images, f"from 1 to {spec.max_images_per_call} for {spec.key}"))
    return errors
