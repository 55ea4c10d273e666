"""Quality scorers, each with its authors' preprocessing and formula.

| metric | what it says | weights | formula |
|---|---|---|---|
| clip | prompt alignment (CLIPScore, Hessel et al. 2021) | openai/clip-vit-large-patch14 | 100 * max(cos(image, text), 0), as torchmetrics' `clip_score` |
| pick | human preference (PickScore, Kirstain et al. 2023) | yuvalkirstain/PickScore_v1 + processor of laion/CLIP-ViT-H-14-laion2B-s32B-b79K | exp(logit_scale) * cos(image, text), as its model card |
| aesthetic | looks (LAION aesthetic predictor v2) | sac+logos+ava1-l14-linearMSE.pth over openai/clip-vit-large-patch14 | MLP(image embedding / its L2 norm), as `simple_inference.py` |

Images go through the PIL CLIP image processor (resize the shortest edge with bicubic, centre crop, CLIP mean and
std): the preprocessing the OpenAI and OpenCLIP checkpoints were trained and published with. Texts are tokenized
with truncation to CLIP's 77 tokens, end-of-text token kept. (torchmetrics instead cuts the ids after 77 tokens,
dropping the end-of-text token; for prompts of at most 77 tokens both are the same.)

A scorer is made with its weights mode, then `load(device, dtype)`, then `score(images, prompts)`. Its `revision`
(hub commit or local-folder hash, plus `@dtype` when not float32) keeps scores of different weights apart.
"""
from __future__ import annotations

import difflib
import hashlib
from abc import ABC, abstractmethod
from typing import ClassVar, Sequence

import torch
from PIL import Image
from torch import nn
from transformers import AutoTokenizer, CLIPModel, CLIPProcessor, CLIPVisionModelWithProjection

from core.errors import CaseStudyError
from core.scoring.aesthetic_mlp import WEIGHTS_FILE, AestheticMLP, load_state
from core.scoring.sources import folder_revision, hub_file, local_folder, resolve
from core.scoring.tiny import PilImageProcessor, tiny_aesthetic_mlp, tiny_clip
from core.settings import Settings, get_settings

SCORER_WEIGHTS: tuple[str, ...] = ("pretrained", "tiny")
CLIP_L14 = "openai/clip-vit-large-patch14"
PICKSCORE = "yuvalkirstain/PickScore_v1"
PICKSCORE_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
AESTHETIC_REPO = "camenduru/improved-aesthetic-predictor"  # a hub copy of the authors' GitHub release file
PICK_LOGIT_SCALE_INIT = 4.6052  # ln(100): the tiny PickScore twin's scale, as PickScore_v1's learned one


class UnknownMetricError(CaseStudyError, ValueError):
    def __init__(self, name: str, known: Sequence[str]):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"metrics: unknown metric {name!r}.{hint} Known metrics: {', '.join(known)}")


def _embeds(out) -> torch.Tensor:
    """Projected embeddings from get_*_features (a tensor before transformers 5, an output object since)."""
    if isinstance(out, torch.Tensor):
        return out
    return out.image_embeds if getattr(out, "image_embeds", None) is not None else out.pooler_output


def _normalized(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    return x / x.norm(p=2, dim=-1, keepdim=True)


def _param_hash(*modules: nn.Module) -> str:
    digest = hashlib.sha256()
    for module in modules:
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


class Scorer(ABC):
    """One quality metric. `load(device, dtype)` once, then `score(images, prompts)` as often as needed."""

    metric: ClassVar[str]
    label: ClassVar[str]
    hub_id: ClassVar[str]
    task: ClassVar[str] = "text-to-image"  # the rows it scores (edit scorers: "edit", core.scoring.edit_scorers)

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

    def load(self, device: str = "cpu", dtype: torch.dtype = torch.float32) -> "Scorer":
        """Build (tiny) or read (pretrained) the weights once, then place them on `device` in `dtype`."""
        if not self.loaded:
            if self.weights == "tiny":
                self._build_tiny()
                self.scorer_id = f"tiny:{self.hub_id}"
                self.weights_revision = "tiny-" + _param_hash(*self._modules())
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
        return self._prepare([_rgb(im) for im in images], list(prompts))

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


class _ClipPair(Scorer):
    """A CLIP model and processor; image and text embeddings, L2-normalised in float32."""

    model: CLIPModel
    processor: CLIPProcessor
    processor_id: ClassVar[str | None] = None  # another repo's processor (PickScore); None: the model's own

    def _modules(self) -> list[nn.Module]:
        return [self.model]

    def _load_pretrained(self) -> tuple[str, str]:
        source = resolve(self.metric, self.hub_id, settings=self.settings)
        self.model = CLIPModel.from_pretrained(source.path, **source.load_kwargs)
        proc_source = source
        if self.processor_id and source.hub_commit:  # the hub model repo does not hold the processor files
            proc_source = resolve(self.metric + "-processor", self.processor_id, settings=self.settings,
                                  probe="preprocessor_config.json")
        self.processor = CLIPProcessor(
            image_processor=PilImageProcessor.from_pretrained(proc_source.path, **proc_source.load_kwargs),
            tokenizer=AutoTokenizer.from_pretrained(proc_source.path, **proc_source.load_kwargs))
        revision = source.revision if proc_source is source else f"{source.revision}+{proc_source.revision[:12]}"
        return source.scorer_id, revision

    def _prepare(self, images, prompts):
        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        text = self.processor(text=prompts, padding=True, truncation=True,
                              max_length=self.model.config.text_config.max_position_embeddings, return_tensors="pt")
        return {"pixel_values": pixels, "input_ids": text["input_ids"], "attention_mask": text["attention_mask"]}

    def cosines(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(n,) float32 cosines of each image's and its prompt's L2-normalised embeddings."""
        image_emb = _embeds(self.model.get_image_features(pixel_values=inputs["pixel_values"].to(dtype=self.dtype)))
        text_emb = _embeds(self.model.get_text_features(input_ids=inputs["input_ids"],
                                                        attention_mask=inputs["attention_mask"]))
        return (_normalized(image_emb) * _normalized(text_emb)).sum(dim=-1)

    def image_embeddings(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """L2-normalised image embeddings (float32), for image-against-image cosine."""
        with torch.inference_mode():
            pixels = self.processor(images=[_rgb(im) for im in images], return_tensors="pt")["pixel_values"]
            return _normalized(_embeds(self.model.get_image_features(pixel_values=pixels.to(self.device, self.dtype))))

    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings (float32), texts cut at CLIP's 77 tokens with the end-of-text token kept."""
        with torch.inference_mode():
            tokens = self.processor(text=list(texts), padding=True, truncation=True,
                                    max_length=self.model.config.text_config.max_position_embeddings,
                                    return_tensors="pt")
            ids, mask = tokens["input_ids"].to(self.device), tokens["attention_mask"].to(self.device)
            return _normalized(_embeds(self.model.get_text_features(input_ids=ids, attention_mask=mask)))


class ClipScorer(_ClipPair):
    metric = "clip"
    label = "CLIPScore (ViT-L/14)"
    hub_id = CLIP_L14

    def _build_tiny(self) -> None:
        self.model, self.processor = tiny_clip(seed=0)

    def _forward(self, inputs):
        return 100 * self.cosines(inputs).clamp(min=0)


class PickScorer(_ClipPair):
    metric = "pick"
    label = "PickScore v1"
    hub_id = PICKSCORE
    processor_id = PICKSCORE_PROCESSOR

    def _build_tiny(self) -> None:
        self.model, self.processor = tiny_clip(seed=1, logit_scale_init=PICK_LOGIT_SCALE_INIT)

    def _forward(self, inputs):
        return self.model.logit_scale.exp().float() * self.cosines(inputs)


class AestheticScorer(Scorer):
    """LAION aesthetic predictor v2: the MLP over the L2-normalised CLIP ViT-L/14 image embedding (prompt unused).
    `<models_dir>/aesthetic/` holds `sac+logos+ava1-l14-linearMSE.pth` (and, optionally, the CLIP files; else
    they come from `<models_dir>/clip` or openai/clip-vit-large-patch14)."""

    metric = "aesthetic"
    label = "LAION aesthetic v2"
    hub_id = AESTHETIC_REPO
    vision: CLIPVisionModelWithProjection
    processor: PilImageProcessor
    mlp: AestheticMLP

    def _modules(self) -> list[nn.Module]:
        return [self.vision, self.mlp]

    def to(self, device: str) -> "Scorer":
        super().to(device)
        self.mlp.float()  # the head stays float32, as in the authors' script
        return self

    def _build_tiny(self) -> None:
        model, processor = tiny_clip(seed=2)
        self.vision = CLIPVisionModelWithProjection(model.config.vision_config)
        self.vision.vision_model.load_state_dict(model.vision_model.state_dict())
        self.vision.visual_projection.load_state_dict(model.visual_projection.state_dict())
        self.processor = processor.image_processor
        self.mlp = tiny_aesthetic_mlp(seed=2, input_size=model.config.projection_dim)

    def _load_pretrained(self) -> tuple[str, str]:
        local = local_folder(self.metric, self.settings)
        if local is not None and (local / WEIGHTS_FILE).is_file():
            head_path, head_rev, head_id = local / WEIGHTS_FILE, folder_revision(local), str(local)
        else:
            head_path, head_rev = hub_file(AESTHETIC_REPO, WEIGHTS_FILE, scorer=self.metric, settings=self.settings)
            head_id = f"{AESTHETIC_REPO}/{WEIGHTS_FILE}"
        if local is not None and (local / "config.json").is_file():
            clip = resolve(self.metric, CLIP_L14, settings=self.settings)
        else:
            clip = resolve("clip", CLIP_L14, settings=self.settings)
        self.vision = CLIPVisionModelWithProjection.from_pretrained(clip.path, **clip.load_kwargs)
        self.processor = PilImageProcessor.from_pretrained(clip.path, **clip.load_kwargs)
        self.mlp = AestheticMLP(self.vision.config.projection_dim)
        self.mlp.load_state_dict(load_state(str(head_path)))
        return head_id, f"{head_rev[:12]}+clip-{clip.revision[:12]}"

    def _prepare(self, images, prompts):
        return {"pixel_values": self.processor(images=images, return_tensors="pt")["pixel_values"]}

    def _forward(self, inputs):
        emb = _normalized(_embeds(self.vision(pixel_values=inputs["pixel_values"].to(dtype=self.dtype))))
        return self.mlp(emb)


SCORERS: dict[str, type[Scorer]] = {cls.metric: cls for cls in (ClipScorer, PickScorer, AestheticScorer)}
METRICS: tuple[str, ...] = tuple(SCORERS)


def parse_metrics(text: str | Sequence[str], known: Sequence[str] = METRICS) -> list[str]:
    """"clip,pick" or ["clip", "pick"] -> checked metric names (unknown ones fail with the `known` list; every
    metric, edit ones included: core.scoring.metrics.parse_metrics)."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ValueError(f"metrics: none given; choose from {', '.join(known)}")
    for name in names:
        if name not in known:
            raise UnknownMetricError(name, tuple(known))
    return list(dict.fromkeys(names))


def make_scorer(metric: str, *, weights: str = "pretrained", settings: Settings | None = None) -> Scorer:
    if metric not in SCORERS:
        raise UnknownMetricError(metric, METRICS)
    return SCORERS[metric](weights=weights, settings=settings)
