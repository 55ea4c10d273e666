"""The scorer interface: weights mode, `load(device, dtype)`, the authors' preprocessing (`prepare`) and formula
(`forward`), and a revision that keeps scores of different weights apart. Each metric's scorer subclasses `Scorer`.
"""
from __future__ import annotations

import difflib
import hashlib
from abc import ABC, abstractmethod
from typing import ClassVar, Sequence

from PIL import Image

from core.errors import CaseStudyError
from core.scoring.sources import HubFiles
from core.settings import Settings, get_settings
from core.lazy import lazy_module

torch = lazy_module("torch")
nn = lazy_module("torch.nn")

SCORER_WEIGHTS: tuple[str, ...] = ("pretrained", "tiny")


class UnknownMetricError(CaseStudyError, ValueError):
    def __init__(self, name: str, known: Sequence[str]):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"metrics: unknown metric {name!r}.{hint} Known metrics: {', '.join(known)}")


def projected(out) -> torch.Tensor:
    """Projected embeddings from get_*_features (a tensor before transformers 5, an output object since)."""
    if isinstance(out, torch.Tensor):
        return out
    return out.image_embeds if getattr(out, "image_embeds", None) is not None else out.pooler_output


def l2_normalized(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    return x / x.norm(p=2, dim=-1, keepdim=True)


def param_hash(*modules: nn.Module) -> str:
    digest = hashlib.sha256()
    for module in modules:
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


def rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


class Scorer(ABC):
    """One quality metric. `load(device, dtype)` once, then `score(images, prompts)` as often as needed."""

    metric: ClassVar[str]
    label: ClassVar[str]
    hub_id: ClassVar[str]
    needs: ClassVar[tuple[HubFiles, ...]] = ()  # what its pretrained weights download (`python -m core.bench weights`)
    task: ClassVar[str] = "text-to-image"  # the rows it scores (edit scorers: "edit", core.scoring.edit_scorers)
    in_defaults: ClassVar[bool] = True  # False: opt-in (a multi-GB download), never in a default metric list
    gpu_only: ClassVar[bool] = False  # pretrained weights refused on the CPU (VQAScore's 8B VLM); tiny: anywhere

    def __init__(self, *, weights: str = "pretrained", settings: Settings | None = None):
        if weights not in SCORER_WEIGHTS:
            raise ValueError(f"weights: {weights!r} is not allowed for scorers; choose one of "
                             f"{', '.join(SCORER_WEIGHTS)}")
        self.weights = weights
        self.settings = settings or get_settings()
        self.scorer_id: str | None = None
        self.weights_revision: str | None = None
        self.device = "cpu"
        self.dtype = torch.float32

    # 1. loading
    @property
    def loaded(self) -> bool:
        return self.weights_revision is not None

    @property
    def revision(self) -> str:
        if self.weights_revision is None:
            raise RuntimeError(f"scorer {self.metric!r}: load() it first; the revision comes from its weights")
        suffix = "" if self.dtype == torch.float32 else "@" + str(self.dtype).removeprefix("torch.")
        return self.weights_revision + suffix

    def check_device(self, device: str) -> None:
        """Refuse a GPU-only scorer's pretrained weights on the CPU, before anything loads."""
        if self.gpu_only and self.weights == "pretrained" and not str(device).startswith("cuda"):
            raise ValueError(f"metrics: {self.metric!r} with pretrained weights needs a CUDA device (a multi-GB "
                             f"model), not {device!r}; use --device cuda, or --scorer-weights tiny for its tiny twin")

    def load(self, device: str = "cpu", dtype: torch.dtype | None = None) -> "Scorer":
        """Build (tiny) or read (pretrained) the weights once, then place them on `device` in `dtype` (float32)."""
        dtype = torch.float32 if dtype is None else dtype
        self.check_device(device)
        if not self.loaded:
            if self.weights == "tiny":
                self._build_tiny()
                self.scorer_id = f"tiny:{self.hub_id}"
                self.weights_revision = "tiny-" + param_hash(*self._modules())
            else:
                self.scorer_id, self.weights_revision = self._load_pretrained()
        self.dtype = dtype
        return self.to(device)

    def attach(self, *, scorer_id: str, revision: str, weights: str = "random", **parts) -> "Scorer":
        """Use modules built elsewhere (the GPU script's full-size random-weight scorers)."""
        for name, part in parts.items():
            setattr(self, name, part)
        self.weights, self.scorer_id, self.weights_revision = weights, scorer_id, revision
        return self

    def to(self, device: str) -> "Scorer":
        """Move to `device` (e.g. "cpu" to make room for a generator while keeping the scorer loaded)."""
        for module in self._modules():
            module.to(device=device, dtype=self.dtype).eval()
        self.device = device
        return self

    def unload(self) -> None:
        for module in self._modules():
            module.to("meta")
        self.weights_revision = None

    # 2. scoring
    def score(self, images: Sequence[Image.Image], prompts: Sequence[str], *,
              batch_size: int | None = None) -> list[float]:
        """One score per (image, prompt) pair, `batch_size` pairs per forward pass (all at once when None)."""
        if not self.loaded:
            raise RuntimeError(f"scorer {self.metric!r}: call load(device, dtype) before score()")
        if len(images) != len(prompts):
            raise ValueError(f"prompts: {len(prompts)} prompts for {len(images)} images; give one per image")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size: {batch_size!r} is not allowed; use 1 or more")
        step = batch_size or max(len(images), 1)
        out: list[float] = []
        for i in range(0, len(images), step):
            inputs = self.prepare(images[i:i + step], prompts[i:i + step])
            out.extend(self.forward(inputs).float().cpu().tolist())
        return out

    def prepare(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, torch.Tensor]:
        """The authors' preprocessing on the CPU: pixel values (and token ids) for `forward`."""
        return self._prepare([rgb(im) for im in images], list(prompts))

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(n,) scores of prepared inputs, on this scorer's device."""
        with torch.inference_mode():
            return self._forward({k: v.to(self.device) for k, v in inputs.items()})

    # 3. what each scorer provides
    @abstractmethod
    def _modules(self) -> list[nn.Module]: ...

    @abstractmethod
    def _build_tiny(self) -> None: ...

    @abstractmethod
    def _load_pretrained(self) -> tuple[str, str]:
        """Read the weights; returns (scorer id, weights revision)."""

    @abstractmethod
    def _prepare(self, images: list[Image.Image], prompts: list[str]) -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def _forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor: ...
