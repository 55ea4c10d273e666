"""Quality scorers, each with its authors' preprocessing and formula.

| metric | what it says | weights | formula |
|---|---|---|---|
| clip | prompt alignment (CLIPScore, Hessel et al. 2021) | openai/clip-vit-large-patch14 | 100 * max(cos(image, text), 0), as torchmetrics' `clip_score` |
| pick | human preference (PickScore, Kirstain et al. 2023) | yuvalkirstain/PickScore_v1 + processor of laion/CLIP-ViT-H-14-laion2B-s32B-b79K | exp(logit_scale) * cos(image, text), as its model card |
| aesthetic | looks (LAION aesthetic predictor v2) | sac+logos+ava1-l14-linearMSE.pth over openai/clip-vit-large-patch14 | MLP(image embedding / its L2 norm), as `simple_inference.py` |
| hps | human preference (HPSv2.1, Wu et al. 2023) | xswu/HPSv2 HPS_v2.1_compressed.pt (open_clip ViT-H/14) | cos(image, text), as hpsv2's `score` (core.scoring.hps) |
| imagereward | human preference (ImageReward v1.0, Xu et al. 2023) | THUDM/ImageReward ImageReward.pt (BLIP ViT-L + BERT) | (MLP(BLIP [CLS]) - mean) / std (core.scoring.imagereward) |
| vqascore | prompt alignment (VQAScore, Lin et al. 2024) | Qwen/Qwen2.5-VL-7B-Instruct | P("Yes" \| image, question), as t2v_metrics (core.scoring.vqascore) |

CLIPScore, PickScore and the aesthetic predictor: images go through the PIL CLIP image processor (resize the shortest edge with bicubic, centre crop, CLIP mean and
std): the preprocessing the OpenAI and OpenCLIP checkpoints were trained and published with. Texts are tokenized
with truncation to CLIP's 77 tokens, end-of-text token kept. (torchmetrics instead cuts the ids after 77 tokens,
dropping the end-of-text token; for prompts of at most 77 tokens both are the same.)

A scorer is made with its weights mode, then `load(device, dtype)`, then `score(images, prompts)`. Its `revision`
(hub commit or local-folder hash, plus `@dtype` when not float32) keeps scores of different weights apart.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

from PIL import Image

from core.scoring import aesthetic_mlp
from core.scoring.base import (SCORER_WEIGHTS, Scorer, UnknownMetricError, l2_normalized, param_hash, projected,
                               rgb)
from core.scoring.hps import HpsScorer
from core.scoring.imagereward import ImageRewardScorer
from core.scoring.sources import HubFiles, folder_revision, hub_file, load_error, local_folder, resolve
from core.scoring.tiny import pil_image_processor, tiny_aesthetic_mlp, tiny_clip
from core.scoring.vqascore import VqaScorer
from core.settings import Settings
from core.lazy import lazy_module

torch = lazy_module("torch")
nn = lazy_module("torch.nn")
transformers = lazy_module("transformers")

__all__ = ["SCORER_WEIGHTS", "Scorer", "UnknownMetricError", "METRICS", "SCORERS", "make_scorer", "parse_metrics",
           "param_hash"]

CLIP_L14 = "openai/clip-vit-large-patch14"
PICKSCORE = "yuvalkirstain/PickScore_v1"
PICKSCORE_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
AESTHETIC_REPO = "camenduru/improved-aesthetic-predictor"  # a hub copy of the authors' GitHub release file
PICK_LOGIT_SCALE_INIT = 4.6052  # ln(100): the tiny PickScore twin's scale, as PickScore_v1's learned one
MODEL_FILES = ("*.json", "*.txt", "*.safetensors")  # a transformers repo without its other frameworks' copies
TOKENIZER_FILES = ("*.json", "*.txt")


class _ClipPair(Scorer):
    """A CLIP model and processor; image and text embeddings, L2-normalised in float32."""

    model: transformers.CLIPModel
    processor: transformers.CLIPProcessor
    processor_id: ClassVar[str | None] = None  # another repo's processor (PickScore); None: the model's own

    def _modules(self) -> list[nn.Module]:
        return [self.model]

    def _load_pretrained(self) -> tuple[str, str]:
        source = resolve(self.metric, self.hub_id, settings=self.settings, include=MODEL_FILES)
        proc_source = source
        if self.processor_id and source.hub_commit:  # the hub model repo does not hold the processor files
            proc_source = resolve(self.metric + "-processor", self.processor_id, settings=self.settings,
                                  probe="preprocessor_config.json", include=TOKENIZER_FILES)
        try:
            self.model = transformers.CLIPModel.from_pretrained(source.path)
            self.processor = transformers.CLIPProcessor(image_processor=pil_image_processor().from_pretrained(proc_source.path),
                                           tokenizer=transformers.AutoTokenizer.from_pretrained(proc_source.path))
        except OSError as exc:
            raise load_error(self.metric, source, exc, MODEL_FILES) from exc
        revision = source.revision if proc_source is source else f"{source.revision}+{proc_source.revision[:12]}"
        return source.scorer_id, revision

    def _prepare(self, images, prompts):
        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        text = self.processor(text=prompts, padding=True, truncation=True,
                              max_length=self.model.config.text_config.max_position_embeddings, return_tensors="pt")
        return {"pixel_values": pixels, "input_ids": text["input_ids"], "attention_mask": text["attention_mask"]}

    def cosines(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(n,) float32 cosines of each image's and its prompt's L2-normalised embeddings."""
        image_emb = projected(self.model.get_image_features(pixel_values=inputs["pixel_values"].to(dtype=self.dtype)))
        text_emb = projected(self.model.get_text_features(input_ids=inputs["input_ids"],
                                                        attention_mask=inputs["attention_mask"]))
        return (l2_normalized(image_emb) * l2_normalized(text_emb)).sum(dim=-1)

    def image_embeddings(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """L2-normalised image embeddings (float32), for image-against-image cosine."""
        with torch.inference_mode():
            pixels = self.processor(images=[rgb(im) for im in images], return_tensors="pt")["pixel_values"]
            features = self.model.get_image_features(pixel_values=pixels.to(self.device, self.dtype))
            return l2_normalized(projected(features))

    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings (float32), texts cut at CLIP's 77 tokens with the end-of-text token kept."""
        with torch.inference_mode():
            tokens = self.processor(text=list(texts), padding=True, truncation=True,
                                    max_length=self.model.config.text_config.max_position_embeddings,
                                    return_tensors="pt")
            ids, mask = tokens["input_ids"].to(self.device), tokens["attention_mask"].to(self.device)
            return l2_normalized(projected(self.model.get_text_features(input_ids=ids, attention_mask=mask)))


class ClipScorer(_ClipPair):
    metric = "clip"
    label = "CLIPScore (ViT-L/14)"
    hub_id = CLIP_L14
    needs = (HubFiles(CLIP_L14, "config.json", MODEL_FILES, folder="clip", purpose="CLIP ViT-L/14"),)

    def _build_tiny(self) -> None:
        self.model, self.processor = tiny_clip(seed=0)

    def _forward(self, inputs):
        return 100 * self.cosines(inputs).clamp(min=0)


class PickScorer(_ClipPair):
    metric = "pick"
    label = "PickScore v1"
    hub_id = PICKSCORE
    processor_id = PICKSCORE_PROCESSOR
    needs = (HubFiles(PICKSCORE, "config.json", MODEL_FILES, folder="pick", purpose="PickScore model"),
             HubFiles(PICKSCORE_PROCESSOR, "preprocessor_config.json", TOKENIZER_FILES, folder="pick-processor",
                      purpose="processor and tokenizer", weights=False))

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
    needs = (HubFiles(AESTHETIC_REPO, aesthetic_mlp.WEIGHTS_FILE, (aesthetic_mlp.WEIGHTS_FILE,), folder="aesthetic", purpose="MLP head"),
             HubFiles(CLIP_L14, "config.json", MODEL_FILES, folder="clip", purpose="CLIP ViT-L/14 image tower"))
    vision: transformers.CLIPVisionModelWithProjection
    processor: transformers.CLIPImageProcessor
    mlp: aesthetic_mlp.AestheticMLP

    def _modules(self) -> list[nn.Module]:
        return [self.vision, self.mlp]

    def to(self, device: str) -> "Scorer":
        super().to(device)
        self.mlp.float()  # the head stays float32, as in the authors' script
        return self

    def _build_tiny(self) -> None:
        model, processor = tiny_clip(seed=2)
        self.vision = transformers.CLIPVisionModelWithProjection(model.config.vision_config)
        self.vision.vision_model.load_state_dict(model.vision_model.state_dict())
        self.vision.visual_projection.load_state_dict(model.visual_projection.state_dict())
        self.processor = processor.image_processor
        self.mlp = tiny_aesthetic_mlp(seed=2, input_size=model.config.projection_dim)

    def _load_pretrained(self) -> tuple[str, str]:
        local = local_folder(self.metric, self.settings)
        if local is not None and (local / aesthetic_mlp.WEIGHTS_FILE).is_file():
            head_path, head_rev, head_id = local / aesthetic_mlp.WEIGHTS_FILE, folder_revision(local), str(local)
        else:
            head_path, head_rev = hub_file(AESTHETIC_REPO, aesthetic_mlp.WEIGHTS_FILE, scorer=self.metric, settings=self.settings)
            head_id = f"{AESTHETIC_REPO}/{aesthetic_mlp.WEIGHTS_FILE}"
        clip_folder = self.metric if local is not None and (local / "config.json").is_file() else "clip"
        clip = resolve(clip_folder, CLIP_L14, settings=self.settings, include=MODEL_FILES)
        try:
            self.vision = transformers.CLIPVisionModelWithProjection.from_pretrained(clip.path)
            self.processor = pil_image_processor().from_pretrained(clip.path)
        except OSError as exc:
            raise load_error(self.metric, clip, exc, MODEL_FILES) from exc
        self.mlp = aesthetic_mlp.AestheticMLP(self.vision.config.projection_dim)
        self.mlp.load_state_dict(aesthetic_mlp.load_state(str(head_path)))
        return head_id, f"{head_rev[:12]}+clip-{clip.revision[:12]}"

    def _prepare(self, images, prompts):
        return {"pixel_values": self.processor(images=images, return_tensors="pt")["pixel_values"]}

    def _forward(self, inputs):
        emb = l2_normalized(projected(self.vision(pixel_values=inputs["pixel_values"].to(dtype=self.dtype))))
        return self.mlp(emb)


SCORERS: dict[str, type[Scorer]] = {cls.metric: cls for cls in (ClipScorer, PickScorer, AestheticScorer, HpsScorer,
                                                                 ImageRewardScorer, VqaScorer)}
METRICS: tuple[str, ...] = tuple(SCORERS)  # text-to-image metrics; every metric: core.scoring.metrics


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
