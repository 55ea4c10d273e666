"""One generation request and its check against the model's spec, before anything loads."""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from core.errors import RequestError
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


def validate_request(req: GenerationRequest, spec: ModelSpec) -> None:
    """Raise RequestError naming the field, the value and what is allowed."""
    # 1. Prompt
    if not isinstance(req.prompt, str) or not req.prompt.strip():
        raise RequestError("prompt", req.prompt, "the prompt must be non-empty text")
    if req.negative_prompt and not spec.supports_negative and not spec.is_api:
        raise RequestError(
            "negative_prompt", req.negative_prompt,
            f"{spec.key} takes no negative prompt ({spec.cfg_style} guidance); leave it empty",
        )
    # 2. Size
    for name in ("width", "height"):
        value = getattr(req, name)
        if spec.is_api:
            continue  # API sizes map to the provider's nearest allowed size (core.providers)
        if not isinstance(value, int) or isinstance(value, bool):
            raise RequestError(name, value, "must be an integer number of pixels")
        if not spec.min_size <= value <= spec.max_size or value % spec.size_multiple:
            raise RequestError(
                name, value,
                f"{spec.key} takes multiples of {spec.size_multiple} from {spec.min_size} to {spec.max_size}",
            )
    # 3. Steps and guidance
    if not spec.is_api:
        if not isinstance(req.steps, int) or isinstance(req.steps, bool) or not spec.min_steps <= req.steps <= spec.max_steps:
            raise RequestError("steps", req.steps, f"an integer from {spec.min_steps} to {spec.max_steps}")
        lo, hi = spec.guidance_range
        if not isinstance(req.guidance, (int, float)) or not lo <= float(req.guidance) <= hi:
            raise RequestError("guidance", req.guidance, f"a number from {lo} to {hi}")
    # 4. Seed and count
    if not isinstance(req.seed, int) or isinstance(req.seed, bool) or not 0 <= req.seed <= MAX_SEED:
        raise RequestError("seed", req.seed, f"an integer from 0 to {MAX_SEED}, or empty for a random seed")
    if not isinstance(req.num_images, int) or not 1 <= req.num_images <= spec.max_images_per_call:
        raise RequestError("num_images", req.num_images, f"from 1 to {spec.max_images_per_call} for {spec.key}")
