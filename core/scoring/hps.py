"""HPSv2.1 (Human Preference Score v2.1; Wu et al. 2023, arXiv 2306.09341): CLIP ViT-H/14 fine-tuned on HPD v2's
798k human choices; the score is the cosine of the image and prompt embeddings.

Authors' code: the `hpsv2` package, `hpsv2.score(image, prompt, hps_version="v2.1")`:
- model: open_clip `ViT-H-14` (GELU, 224 px, patch 14, 32 vision / 24 text layers, 1024-d embeddings), weights
  `HPS_v2.1_compressed.pt` of the hub repo xswu/HPSv2 (`checkpoint["state_dict"]`, open_clip names). Here the same
  architecture is transformers' CLIPModel (core.scoring.convert renames the weights), so a tiny twin is a tiny
  CLIPModel.
- preprocessing: `preprocess_val` of `create_model_and_transforms(..., light_augmentation=True)`, i.e. the longest
  edge resized to 224 and the rest zero-padded (nothing cropped; core.scoring.transforms.resize_longest_pad), then
  OpenAI CLIP mean and std.
- text: open_clip's tokenizer (CLIP BPE, 77 tokens, end-of-text kept on truncation): the tokenizer files of
  laion/CLIP-ViT-H-14-laion2B-s32B-b79K are the same BPE.
- formula: `diag(image_features @ text_features.T)` of open_clip's L2-normalised features: a plain cosine, no logit
  scale (typical values 0.2-0.35). hpsv2 runs it under CUDA autocast (fp16 on GPU); here float32 unless --dtype.

Quirks: `pip install hpsv2` (1.2.0) ships without open_clip's `bpe_simple_vocab_16e6.txt.gz`, so importing it fails
until that file is copied in from open_clip_torch; it also pins protobuf<4 and pytest==7.2.0, which is why the
package is not a dependency here (scripts/parity_scorers.py checks this code against it in its own venv).
"""
from __future__ import annotations


from core.scoring.base import Scorer, l2_normalized, projected
from core.scoring.convert import open_clip_to_hf
from core.scoring.sources import HubFiles, folder_revision, hub_file, load_error, local_folder, resolve
from core.scoring.tiny import tiny_clip
from core.scoring.transforms import resize_longest_pad
from core.lazy import lazy_module

torch = lazy_module("torch")
nn = lazy_module("torch.nn")
transformers = lazy_module("transformers")
_transformers_initialization = lazy_module("transformers.initialization")

HPS_REPO = "xswu/HPSv2"
HPS_FILE = "HPS_v2.1_compressed.pt"
HPS_TOKENIZER = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
TOKENIZER_FILES = ("tokenizer*.json", "vocab.json", "merges.txt", "special_tokens_map.json")
# open_clip's model_configs/ViT-H-14.json in transformers' terms (open_clip: LayerNorm eps 1e-5, exact GELU).
VIT_H14 = dict(
    projection_dim=1024, logit_scale_init_value=4.6052,
    text_config=dict(vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                     num_attention_heads=16, max_position_embeddings=77, hidden_act="gelu", projection_dim=1024,
                     bos_token_id=0, pad_token_id=1, eos_token_id=2),
    vision_config=dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                       image_size=224, patch_size=14, hidden_act="gelu", projection_dim=1024),
)


def load_checkpoint(path: str) -> dict[str, torch.Tensor]:
    """The open_clip state dict of an HPS checkpoint (plain tensors: weights_only, no pickle code runs)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def clip_from_open_clip(state: dict[str, torch.Tensor], config: transformers.CLIPConfig) -> transformers.CLIPModel:
    """A transformers.CLIPModel of `config` holding an open_clip state dict (every tensor checked: strict)."""
    with _transformers_initialization.no_init_weights():
        model = transformers.CLIPModel(config)
    converted = open_clip_to_hf(state, vision_layers=config.vision_config.num_hidden_layers,
                                text_layers=config.text_config.num_hidden_layers)
    model.load_state_dict(converted, strict=True)
    return model.eval()


class HpsScorer(Scorer):
    """`<models_dir>/hps/` may hold HPS_v2.1_compressed.pt (and the tokenizer files; else they come from the hub)."""

    metric = "hps"
    label = "HPSv2.1"
    in_defaults = False
    hub_id = HPS_REPO
    model: transformers.CLIPModel
    tokenizer: transformers.PreTrainedTokenizerBase
    image_size: int = 224
    needs = (HubFiles(HPS_REPO, HPS_FILE, (HPS_FILE,), folder="hps", purpose="HPSv2.1 checkpoint"),
             HubFiles(HPS_TOKENIZER, "tokenizer_config.json", TOKENIZER_FILES, folder="hps-tokenizer",
                      purpose="CLIP BPE tokenizer", weights=False))

    def _modules(self) -> list[nn.Module]:
        return [self.model]

    def _build_tiny(self) -> None:
        self.model, processor = tiny_clip(seed=3)
        self.tokenizer = processor.tokenizer
        self.image_size = self.model.config.vision_config.image_size

    def _load_pretrained(self) -> tuple[str, str]:
        local = local_folder(self.metric, self.settings)
        if local is not None and (local / HPS_FILE).is_file():
            path, rev, scorer_id = local / HPS_FILE, folder_revision(local), str(local)
        else:
            path, rev = hub_file(HPS_REPO, HPS_FILE, scorer=self.metric, settings=self.settings)
            scorer_id = f"{HPS_REPO}/{HPS_FILE}"
        has_tokenizer = local is not None and (local / "tokenizer_config.json").is_file()
        tok_folder = self.metric if has_tokenizer else "hps-tokenizer"
        tok = resolve(tok_folder, HPS_TOKENIZER, settings=self.settings, probe="tokenizer_config.json",
                      include=TOKENIZER_FILES)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(tok.path)
        except OSError as exc:
            raise load_error(self.metric, tok, exc, TOKENIZER_FILES) from exc
        self.model = clip_from_open_clip(load_checkpoint(str(path)), transformers.CLIPConfig(**VIT_H14))
        self.image_size = VIT_H14["vision_config"]["image_size"]
        return scorer_id, f"{rev[:12]}+tok-{tok.revision[:12]}"

    def _prepare(self, images, prompts):
        pixels = torch.stack([resize_longest_pad(im, self.image_size) for im in images])
        text = self.tokenizer(prompts, padding=True, truncation=True,
                              max_length=self.model.config.text_config.max_position_embeddings, return_tensors="pt")
        return {"pixel_values": pixels, "input_ids": text["input_ids"], "attention_mask": text["attention_mask"]}

    def _forward(self, inputs):
        image = projected(self.model.get_image_features(pixel_values=inputs["pixel_values"].to(dtype=self.dtype)))
        text = projected(self.model.get_text_features(input_ids=inputs["input_ids"],
                                                      attention_mask=inputs["attention_mask"]))
        return (l2_normalized(image) * l2_normalized(text)).sum(dim=-1)
