"""Edit scorers: the edit metrics (core.scoring.edit_metrics) and the suite's pixel check (core.scoring.edit_checks)
as scorers whose values the store keeps in the score table, for rows of task "edit".

| metric | value | weights |
|---|---|---|
| edit_psnr, edit_ssim, edit_l1 | preservation outside the edited region (whole image when no region is known) | none: exact, stored as `pretrained` so they show unlabelled |
| clip_i, clip_t, clip_dir | CLIP image, text and directional similarity | the `clip` scorer's (ViT-L/14; tiny twin with tiny scorer weights), one model shared by the three and `clip` |
| dino | DINO ViT-S/16 similarity to the source (MagicBrush, Emu Edit) | facebook/dino-vits16; tiny twin with tiny weights |
| edit_check | 1.0 when the synthetic suite's pixel check passes, 0.0 when it fails | none |

A stored edit's source is `generation.input_images[0]` (the copy the recorder keeps beside the output). Its region
and captions come from the suite item with the same source sha256 and instruction (the row's prompt), found by
`core.edits.EditIndex` among the shipped suites and any items handed to the ScorerSet (`score --edit-items FILE`):
nothing about the suite goes into the request or its job key. Without a match the pixel metrics cover the whole
image, clip_t reads the instruction, and clip_dir and edit_check are left out (no score row).
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from PIL import Image

from core.edits import EditIndex, EditItem
from core.scoring.edit_checks import check_edit
from core.scoring.edit_metrics import (clip_directional_similarity, clip_image_similarity, clip_text_similarity,
                                       preservation)
from core.scoring.scorers import CLIP_L14, ClipScorer, Scorer
from core.scoring.sources import resolve
from core.scoring.tiny import TINY_IMAGE, pil_image_processor, tiny_dino
from core.settings import Settings
from core.lazy import lazy_module

torch = lazy_module("torch")
transformers = lazy_module("transformers")

EXACT_REVISION = "edit-metrics-1"  # bump when a pixel metric's definition changes
CHECK_REVISION = "edit-checks-1"  # bump when a check's parts or limits change
DINO_VITS16 = "facebook/dino-vits16"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class EditPair:
    """One edit to score: the edited image, its source, the instruction, and the suite item when known."""

    output: Image.Image
    source: Image.Image
    instruction: str
    item: EditItem | None = None

    @property
    def regions(self) -> tuple[tuple[int, int, int, int], ...]:
        return self.item.regions if self.item is not None else ()

    @property
    def target_text(self) -> str:
        return (self.item.target_caption if self.item is not None else None) or self.instruction

    @property
    def captions(self) -> tuple[str, str] | None:
        """(source caption, target caption) when the item has both."""
        if self.item is None or not self.item.source_caption or not self.item.target_caption:
            return None
        return self.item.source_caption, self.item.target_caption


def edit_pair(row: Any, output: Image.Image, index: EditIndex) -> EditPair | None:
    """The pair of a stored edit row (its output image opened), or None when it has no source image file."""
    inputs = getattr(row, "input_images", None) or []
    path = inputs[0].get("path") if inputs else None
    if not path or not Path(path).is_file():
        return None
    with Image.open(path) as im:
        source = im.convert("RGB")
    return EditPair(output=output, source=source, instruction=row.prompt,
                    item=index.find(inputs[0].get("sha256"), row.prompt))


class EditScorer(Scorer):
    """Scores an edit against its source (`score_edits(pairs)`), not an image against a prompt."""

    task: ClassVar[str] = "edit"

    def score(self, images, prompts, *, batch_size=None) -> list[float]:
        raise TypeError(f"scorer {self.metric!r}: an edit metric scores an edit against its source; "
                        f"call score_edits(pairs)")

    @abstractmethod
    def score_edits(self, pairs: Sequence[EditPair]) -> list[float | None]:
        """One value per pair; None where the metric does not apply (no score row is written)."""

    def _prepare(self, images, prompts):  # pragma: no cover - edit scorers do not score prompts
        raise NotImplementedError

    def _forward(self, inputs):  # pragma: no cover
        raise NotImplementedError


class _ExactScorer(EditScorer):
    """A metric without learned weights: the same numbers in every weights mode."""

    hub_id = "core.scoring.edit_metrics"
    revision_tag: ClassVar[str] = EXACT_REVISION

    def __init__(self, *, weights: str = "pretrained", settings: Settings | None = None):
        super().__init__(weights="pretrained", settings=settings)  # nothing to build tiny: exact in every mode

    def _modules(self) -> list:
        return []

    def _build_tiny(self) -> None:  # pragma: no cover - never tiny
        pass

    def _load_pretrained(self) -> tuple[str, str]:
        return self.hub_id, self.revision_tag


class _PreservationScorer(_ExactScorer):
    field: ClassVar[str]

    def score_edits(self, pairs: Sequence[EditPair]) -> list[float | None]:
        return [getattr(preservation(p.output, p.source, p.regions, ssim=self.field == "ssim"), self.field)
                for p in pairs]


class EditPsnrScorer(_PreservationScorer):
    metric, label, field = "edit_psnr", "PSNR outside the edit (dB)", "psnr_db"


class EditSsimScorer(_PreservationScorer):
    metric, label, field = "edit_ssim", "SSIM outside the edit", "ssim"


class EditL1Scorer(_PreservationScorer):
    metric, label, field = "edit_l1", "L1 outside the edit", "l1"


class EditCheckScorer(_ExactScorer):
    metric, label = "edit_check", "suite pixel check (1 pass, 0 fail)"
    hub_id = "core.scoring.edit_checks"
    revision_tag = CHECK_REVISION

    def score_edits(self, pairs: Sequence[EditPair]) -> list[float | None]:
        return [float(check_edit(p.item, p.output, p.source).passed)
                if p.item is not None and p.item.has_ground_truth else None for p in pairs]


class ClipEditScorer(EditScorer):
    """A CLIP edit metric on a ClipScorer (shared with `clip` and the other CLIP edit metrics of a ScorerSet)."""

    hub_id = CLIP_L14

    def __init__(self, *, weights: str = "pretrained", settings: Settings | None = None,
                 clip: ClipScorer | None = None):
        super().__init__(weights=weights, settings=settings)
        self.clip = clip if clip is not None else ClipScorer(weights=weights, settings=settings)

    @property
    def loaded(self) -> bool:
        return self.clip.loaded

    @property
    def revision(self) -> str:
        return self.clip.revision

    @property
    def scorer_id(self) -> str | None:
        return self.clip.scorer_id

    @scorer_id.setter
    def scorer_id(self, value: str | None) -> None:  # the CLIP scorer's id is the one that counts
        pass

    def load(self, device: str = "cpu", dtype: torch.dtype | None = None) -> "Scorer":
        dtype = torch.float32 if dtype is None else dtype
        self.clip.load(device, dtype)
        self.weights_revision = self.clip.weights_revision
        self.device, self.dtype = device, dtype
        return self

    def to(self, device: str) -> "Scorer":
        self.clip.to(device)
        self.device = device
        return self

    def unload(self) -> None:
        if self.clip.loaded:
            self.clip.unload()
        self.weights_revision = None

    def _modules(self) -> list:
        return self.clip._modules() if self.clip.loaded else []  # noqa: SLF001 - the shared model's modules

    def _build_tiny(self) -> None:  # pragma: no cover - the ClipScorer builds
        raise NotImplementedError

    def _load_pretrained(self) -> tuple[str, str]:  # pragma: no cover - the ClipScorer loads
        raise NotImplementedError

    def _embeddings(self, pairs: Sequence[EditPair]) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.loaded:
            raise RuntimeError(f"scorer {self.metric!r}: call load(device, dtype) before score_edits()")
        return (self.clip.image_embeddings([p.output for p in pairs]),
                self.clip.image_embeddings([p.source for p in pairs]))


class ClipImageScorer(ClipEditScorer):
    metric, label = "clip_i", "CLIP-I (image similarity to the source)"

    def score_edits(self, pairs: Sequence[EditPair]) -> list[float | None]:
        if not pairs:
            return []
        out, src = self._embeddings(pairs)
        return clip_image_similarity(out, src).cpu().tolist()


class ClipTextScorer(ClipEditScorer):
    metric, label = "clip_t", "CLIP-T (result against the target caption)"

    def score_edits(self, pairs: Sequence[EditPair]) -> list[float | None]:
        if not pairs:
            return []
        if not self.loaded:
            raise RuntimeError(f"scorer {self.metric!r}: call load(device, dtype) before score_edits()")
        out = self.clip.image_embeddings([p.output for p in pairs])
        return clip_text_similarity(out, self.clip.text_embeddings([p.target_text for p in pairs])).cpu().tolist()


class ClipDirectionScorer(ClipEditScorer):
    metric, label = "clip_dir", "CLIP-dir (directional similarity)"

    def score_edits(self, pairs: Sequence[EditPair]) -> list[float | None]:
        values: list[float | None] = [None] * len(pairs)
        known = [i for i, p in enumerate(pairs) if p.captions is not None]
        if not known:
            return values
        chosen = [pairs[i] for i in known]
        out, src = self._embeddings(chosen)
        source_text = self.clip.text_embeddings([p.captions[0] for p in chosen])
        target_text = self.clip.text_embeddings([p.captions[1] for p in chosen])
        for i, value in zip(known, clip_directional_similarity(out, src, target_text, source_text).cpu().tolist()):
            values[i] = value
        return values


class DinoScorer(EditScorer):
    """DINO similarity: cos of the DINO ViT-S/16 CLS embeddings (after the final LayerNorm, what the torch.hub
    `dino_vits16` model returns) of the output and the source, with MagicBrush's transform: bicubic resize of the
    shortest edge to 256, centre crop 224, ImageNet mean and std. Weights: facebook/dino-vits16 (transformers'
    transformers.ViTModel of the authors' checkpoint) or `<IGCS_MODELS_DIR>/dino`."""

    metric, label = "dino", "DINO (ViT-S/16) similarity to the source"
    hub_id = DINO_VITS16
    model: transformers.ViTModel
    processor: transformers.CLIPImageProcessor

    def _modules(self) -> list:
        return [self.model]

    def _build_tiny(self) -> None:
        self.model = tiny_dino(seed=3)
        self.processor = dino_processor(TINY_IMAGE)

    def _load_pretrained(self) -> tuple[str, str]:
        source = resolve(self.metric, self.hub_id, settings=self.settings)
        self.model = transformers.ViTModel.from_pretrained(source.path, add_pooling_layer=False, **source.load_kwargs)
        self.processor = dino_processor(224)
        return source.scorer_id, source.revision

    def embeddings(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """(n, d) float32 L2-normalised CLS embeddings."""
        if not self.loaded:
            raise RuntimeError(f"scorer {self.metric!r}: call load(device, dtype) before score_edits()")
        pixels = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            cls = self.model(pixel_values=pixels.to(self.device, self.dtype)).last_hidden_state[:, 0].float()
        return cls / cls.norm(dim=-1, keepdim=True)

    def score_edits(self, pairs: Sequence[EditPair]) -> list[float | None]:
        if not pairs:
            return []
        out, src = self.embeddings([p.output for p in pairs]), self.embeddings([p.source for p in pairs])
        return (out * src).sum(-1).cpu().tolist()


def dino_processor(crop: int) -> transformers.CLIPImageProcessor:
    """MagicBrush's DINO transform: shortest edge to crop x 256/224 (bicubic), centre crop, ImageNet mean/std."""
    return pil_image_processor()(size={"shortest_edge": round(crop * 256 / 224)}, crop_size={"height": crop, "width": crop},
                             resample=Image.BICUBIC, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD,
                             do_convert_rgb=True)


EDIT_SCORERS: dict[str, type[EditScorer]] = {
    cls.metric: cls for cls in (EditPsnrScorer, EditSsimScorer, EditL1Scorer, ClipImageScorer, ClipDirectionScorer,
                                ClipTextScorer, DinoScorer, EditCheckScorer)}
EDIT_METRICS: tuple[str, ...] = tuple(EDIT_SCORERS)
