"""ImageReward v1.0 (Xu et al. 2023, NeurIPS, arXiv 2304.05977): a BLIP reward model trained on 137k expert
comparisons of text-to-image outputs; the score is a standardised reward (0 is the training set's mean).

Authors' code: the `image-reward` package (`ImageReward.load("ImageReward-v1.0").score(prompt, image)`):
- model: BLIP (`BLIP_Pretrain(image_size=224, vit="large")`): a ViT-L/16 image encoder (24 layers, 1024 wide,
  LayerNorm eps 1e-6) and a BERT-base text encoder (`med_config.json`: 12 layers, 768 wide, vocabulary 30,524)
  whose every layer cross-attends to all image tokens; weights `ImageReward.pt` of the hub repo THUDM/ImageReward.
  transformers' BlipVisionModel and BlipTextModel are the same modules (core.scoring.convert maps the names), so a
  tiny twin is built from config.
- text: bert-base-uncased's tokenizer plus BLIP's added `[DEC]` (bos) and `[ENC]`, padded to max_length 35 and
  truncated there (a longer prompt is judged on its first 33 word pieces). The [CLS] token is kept (not
  replaced by [ENC]) in `score`.
- preprocessing: torchvision Resize(224, bicubic) of the shortest edge, CenterCrop(224), ToTensor, OpenAI CLIP mean
  and std (core.scoring.transforms.resize_crop).
- formula: `(MLP(text_encoder(ids, cross-attending to image tokens).last_hidden_state[:, 0]) - 0.16717362830052426)
  / 1.0333394966054072`, the MLP being five Linear layers without activations (the aesthetic predictor's shape).

Quirks: `image-reward` 1.5 pins timm==0.6.13 and fairscale==0.4.13 and downloads bert-base-uncased at load time;
it is not a dependency (scripts/parity_scorers.py checks this code against it in its own venv).
"""
from __future__ import annotations


from core.scoring import aesthetic_mlp
from core.scoring.base import Scorer
from core.scoring.convert import imagereward_parts
from core.scoring.sources import HubFiles, folder_revision, hub_file, load_error, local_folder, resolve
from core.scoring.tiny import tiny_imagereward
from core.scoring.transforms import resize_crop
from core.lazy import lazy_module

torch = lazy_module("torch")
nn = lazy_module("torch.nn")
transformers = lazy_module("transformers")
_transformers_initialization = lazy_module("transformers.initialization")
_transformers_models_blip_modeling_blip = lazy_module("transformers.models.blip.modeling_blip")
_transformers_models_blip_modeling_blip_text = lazy_module("transformers.models.blip.modeling_blip_text")

IR_REPO = "THUDM/ImageReward"
IR_FILE = "ImageReward.pt"
IR_TOKENIZER = "google-bert/bert-base-uncased"
TOKENIZER_FILES = ("tokenizer*.json", "vocab.txt", "config.json")
IR_MEAN = 0.16717362830052426
IR_STD = 1.0333394966054072
IR_MAX_LENGTH = 35
# BLIP ViT-L/16 at 224 px (blip.create_vit("large")) and ImageReward's med_config.json with encoder_width 1024.
VISION = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, image_size=224,
              patch_size=16, layer_norm_eps=1e-6, hidden_act="gelu")
TEXT = dict(vocab_size=30524, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
            encoder_hidden_size=1024, max_position_embeddings=512, layer_norm_eps=1e-12, hidden_act="gelu",
            pad_token_id=0, bos_token_id=30522, sep_token_id=102, eos_token_id=102, is_decoder=True)


def blip_tokenizer(tokenizer: transformers.PreTrainedTokenizerBase) -> transformers.PreTrainedTokenizerBase:
    """bert-base-uncased as BLIP's `init_tokenizer` leaves it: [DEC] added as bos, [ENC] as an extra special token."""
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tokenizer


def imagereward_from_checkpoint(state: dict[str, torch.Tensor], *, vision_config: transformers.BlipVisionConfig,
                                text_config: transformers.BlipTextConfig) -> tuple[_transformers_models_blip_modeling_blip.BlipVisionModel, _transformers_models_blip_modeling_blip_text.BlipTextModel, aesthetic_mlp.AestheticMLP]:
    """The three modules of an ImageReward state dict (every tensor checked: strict)."""
    with _transformers_initialization.no_init_weights():
        vision, text = _transformers_models_blip_modeling_blip.BlipVisionModel(vision_config), _transformers_models_blip_modeling_blip_text.BlipTextModel(text_config, add_pooling_layer=False)
    mlp = aesthetic_mlp.AestheticMLP(text_config.hidden_size)
    v, t, m = imagereward_parts(state, vision_layers=vision_config.num_hidden_layers)
    vision.load_state_dict(v, strict=True)
    text.load_state_dict(t, strict=True)
    mlp.load_state_dict(m, strict=True)
    return vision.eval(), text.eval(), mlp.eval()


class ImageRewardScorer(Scorer):
    """`<models_dir>/imagereward/` may hold ImageReward.pt (and bert-base-uncased's tokenizer files; else they come
    from the hub)."""

    metric = "imagereward"
    label = "ImageReward v1.0"
    in_defaults = False
    hub_id = IR_REPO
    vision: _transformers_models_blip_modeling_blip.BlipVisionModel
    text: _transformers_models_blip_modeling_blip_text.BlipTextModel
    mlp: aesthetic_mlp.AestheticMLP
    tokenizer: transformers.PreTrainedTokenizerBase
    needs = (HubFiles(IR_REPO, IR_FILE, (IR_FILE,), folder="imagereward", purpose="ImageReward checkpoint"),
             HubFiles(IR_TOKENIZER, "tokenizer_config.json", TOKENIZER_FILES, folder="imagereward-tokenizer",
                      purpose="BERT tokenizer", weights=False))

    def _modules(self) -> list[nn.Module]:
        return [self.vision, self.text, self.mlp]

    def to(self, device: str) -> "Scorer":
        super().to(device)
        self.mlp.float()  # `.float()` before the MLP in the authors' score()
        return self

    def _build_tiny(self) -> None:
        self.vision, self.text, self.mlp, self.tokenizer = tiny_imagereward(seed=4)

    def _load_pretrained(self) -> tuple[str, str]:
        local = local_folder(self.metric, self.settings)
        if local is not None and (local / IR_FILE).is_file():
            path, rev, scorer_id = local / IR_FILE, folder_revision(local), str(local)
        else:
            path, rev = hub_file(IR_REPO, IR_FILE, scorer=self.metric, settings=self.settings)
            scorer_id = f"{IR_REPO}/{IR_FILE}"
        tok_folder = (self.metric if local is not None and (local / "tokenizer_config.json").is_file()
                      else "imagereward-tokenizer")
        tok = resolve(tok_folder, IR_TOKENIZER, settings=self.settings, probe="tokenizer_config.json",
                      include=TOKENIZER_FILES)
        try:
            self.tokenizer = blip_tokenizer(transformers.AutoTokenizer.from_pretrained(tok.path))
        except OSError as exc:
            raise load_error(self.metric, tok, exc, TOKENIZER_FILES) from exc
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        self.vision, self.text, self.mlp = imagereward_from_checkpoint(
            state, vision_config=transformers.BlipVisionConfig(**VISION), text_config=transformers.BlipTextConfig(**TEXT))
        return scorer_id, f"{rev[:12]}+tok-{tok.revision[:12]}"

    def _prepare(self, images, prompts):
        size = self.vision.config.image_size
        pixels = torch.stack([resize_crop(im, size) for im in images])
        text = self.tokenizer(prompts, padding="max_length", truncation=True, max_length=IR_MAX_LENGTH,
                              return_tensors="pt")
        return {"pixel_values": pixels, "input_ids": text["input_ids"], "attention_mask": text["attention_mask"]}

    def _forward(self, inputs):
        image_embeds = self.vision(pixel_values=inputs["pixel_values"].to(dtype=self.dtype)).last_hidden_state
        image_atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        out = self.text(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                        encoder_hidden_states=image_embeds, encoder_attention_mask=image_atts)
        reward = self.mlp(out.last_hidden_state[:, 0, :].float())
        return (reward - IR_MEAN) / IR_STD
