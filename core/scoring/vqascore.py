"""VQAScore (Lin et al. 2024, "Evaluating Text-to-Visual Generation with Image-to-Text Generation", arXiv
2404.01291): ask a vision-language model whether the image shows the prompt; the score is P("Yes").

Authors' code: t2v_metrics (`t2v_metrics.VQAScore(model="qwen2.5-vl-7b")`, `qwen2vl_model.Qwen2VLModel.forward`):
- question `Does this image show "{prompt}"?` (that backbone's default; the paper's CLIP-FlanT5 uses
  `Does this figure show "{prompt}"? Please answer yes or no.`), one user turn holding the image then the question,
  the processor's chat template with the generation prompt;
- image: qwen_vl_utils' `fetch_image` (RGB; both sides rounded to multiples of 28 px, pixel count kept within
  4*28*28 .. 16384*28*28, PIL bicubic), then the Qwen2-VL image processor (patches of 14 px, 2x2 merged);
- formula: one greedy step of `generate(max_new_tokens=1, do_sample=False, output_scores=True)` and
  `softmax(scores[0])[id of "Yes"]`; `scores` are the logits after the model's generation-config processors
  (Qwen2.5-VL-7B-Instruct's repetition_penalty 1.05), so this does the same generate call.
- weights: Qwen/Qwen2.5-VL-7B-Instruct in bfloat16 (t2v_metrics' dtype; float32 is taken as "the default" and
  becomes bfloat16 for this scorer, the revision says so); SDPA attention (t2v_metrics asks for flash-attention 2,
  not a dependency here; the two differ by rounding only).

Why this backbone (README, "Quality scores", says more): the paper's best, CLIP-FlanT5-XXL, is its authors' own
LLaVA-style model over FlanT5-XXL (11B) that transformers does not have (t2v_metrics vendors the code and pins
transformers 4.49); Qwen2.5-VL-7B-Instruct is one of t2v_metrics' VQAScore backbones, Apache-2.0, ungated, and a
transformers class (Qwen2_5_VLForConditionalGeneration) with no remote code, so a tiny twin is built from config.

Heavy: about 8.3B parameters (17 GB in bfloat16); pretrained weights run on a CUDA device only (refused on the CPU
before anything loads). The tiny twin runs anywhere.

Processing is done here with the tokenizer and the PIL image processor (the image placeholder expanded to one
token per merged patch, and `mm_token_type_ids` marking the image tokens, as Qwen2_5_VLProcessor does): the
processor class also wants a video processor, which needs torchvision. Without `mm_token_type_ids` transformers 5
falls back to 1-D text positions for the image tokens with no warning (the parity check caught it: logits off by
0.01 on the twin).
"""
from __future__ import annotations

import json
import math
from pathlib import Path


from core.scoring.base import Scorer
from core.scoring.sources import HubFiles, load_error, resolve
from core.scoring.tiny import tiny_qwen_vl
from core.lazy import lazy_module

torch = lazy_module("torch")
nn = lazy_module("torch.nn")
transformers = lazy_module("transformers")
_transformers_models_qwen2_vl_image_processing_pil_qwen2_vl = lazy_module("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")

VQA_REPO = "Qwen/Qwen2.5-VL-7B-Instruct"
VQA_FILES = ("*.json", "*.txt", "*.safetensors", "*.jinja")
QUESTION = 'Does this image show "{}"?'
ANSWER = "Yes"
IMAGE_TOKEN = "<|image_pad|>"
FACTOR = 28  # qwen_vl_utils.IMAGE_FACTOR: patch 14 x merge 2
# Qwen2.5-VL-7B-Instruct's architecture (its config.json; the same as Qwen-Image's text encoder), for random-weight
# timing (scripts/gpu_scoring.py). Special-token ids are the real tokenizer's.
QWEN25_VL_7B = dict(
    text_config=dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                     num_attention_heads=28, num_key_value_heads=4, hidden_act="silu", rms_norm_eps=1e-6,
                     max_position_embeddings=128000, bos_token_id=151643, eos_token_id=151645,
                     rope_parameters=dict(rope_type="default", mrope_section=[16, 24, 24], rope_theta=1000000.0)),
    vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                       patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                       fullatt_block_indexes=[7, 15, 23, 31], hidden_act="silu", tokens_per_second=2),
    image_token_id=151655, video_token_id=151656, vision_start_token_id=151652, vision_end_token_id=151653,
    tie_word_embeddings=False)
MIN_PIXELS, MAX_PIXELS = 4 * 28 * 28, 16384 * 28 * 28  # qwen_vl_utils' defaults for images


def smart_resize(height: int, width: int, *, factor: int = FACTOR, min_pixels: int = MIN_PIXELS,
                 max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """qwen_vl_utils.smart_resize: sides rounded to multiples of `factor`, the pixel count kept within bounds."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"image: aspect ratio {max(height, width) / min(height, width):.0f} is above 200, which "
                         f"Qwen2.5-VL does not take")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def processor_chat_template(folder: str | Path) -> str | None:
    """The processor's chat template (chat_template.jinja, or chat_template.json as older saves write it)."""
    folder = Path(folder)
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text()
    if (folder / "chat_template.json").is_file():
        return json.loads((folder / "chat_template.json").read_text()).get("chat_template")
    return None


def load_folder(folder: str | Path, *, dtype: torch.dtype):
    """(model, PIL image processor, left-padding tokenizer with the processor's chat template) of a Qwen2.5-VL
    folder (a hub snapshot or save_pretrained output); no network."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, padding_side="left")
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = processor_chat_template(folder)
    images = _transformers_models_qwen2_vl_image_processing_pil_qwen2_vl.Qwen2VLImageProcessorPil.from_pretrained(folder)
    model = transformers.Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, dtype=dtype).eval()
    return model, images, tokenizer


class VqaScorer(Scorer):
    """`<models_dir>/vqascore/` may hold a save_pretrained copy of Qwen2.5-VL-7B-Instruct (model, tokenizer, image
    processor files)."""

    metric = "vqascore"
    label = "VQAScore (Qwen2.5-VL-7B)"
    in_defaults = False
    hub_id = VQA_REPO
    gpu_only = True
    needs = (HubFiles(VQA_REPO, "config.json", VQA_FILES, folder="vqascore", purpose="Qwen2.5-VL-7B-Instruct"),)
    model: transformers.Qwen2_5_VLForConditionalGeneration
    images: _transformers_models_qwen2_vl_image_processing_pil_qwen2_vl.Qwen2VLImageProcessorPil
    tokenizer: transformers.PreTrainedTokenizerBase

    def load(self, device: str = "cpu", dtype: torch.dtype | None = None) -> "Scorer":
        dtype = torch.float32 if dtype is None else dtype
        self.check_device(device)
        if self.weights == "pretrained" and dtype == torch.float32:
            dtype = torch.bfloat16
        return super().load(device, dtype)

    def _modules(self) -> list[nn.Module]:
        return [self.model]

    def _build_tiny(self) -> None:
        self.model, self.images, self.tokenizer = tiny_qwen_vl(seed=5)

    def _load_pretrained(self) -> tuple[str, str]:
        source = resolve(self.metric, VQA_REPO, settings=self.settings, include=VQA_FILES)
        try:
            self.model, self.images, self.tokenizer = load_folder(source.path, dtype=torch.bfloat16)
        except OSError as exc:
            raise load_error(self.metric, source, exc, VQA_FILES) from exc
        return source.scorer_id, source.revision

    def _prepare(self, images, prompts):
        resized = []
        for im in images:  # qwen_vl_utils.fetch_image, then the image processor's own smart resize
            h, w = smart_resize(im.height, im.width)
            resized.append(im.resize((w, h), resample=3) if (w, h) != im.size else im)  # 3: PIL bicubic
        pixels = self.images(images=resized, return_tensors="pt")
        merge = self.images.merge_size ** 2
        texts = []
        for prompt, grid in zip(prompts, pixels["image_grid_thw"]):
            messages = [{"role": "user", "content": [{"type": "image"},
                                                      {"type": "text", "text": QUESTION.format(prompt)}]}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            texts.append(text.replace(IMAGE_TOKEN, IMAGE_TOKEN * int(grid.prod() // merge), 1))
        tokens = self.tokenizer(texts, padding=True, return_tensors="pt")
        answer_id = self.tokenizer.encode(ANSWER, add_special_tokens=False)[0]
        # 1 marks image tokens, as the processor's `create_mm_token_type_ids`: without it transformers 5 gives the
        # language model plain 1-D positions instead of M-RoPE's (t, h, w) ones for the image, silently
        image_token_id = self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        return {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"],
                "mm_token_type_ids": (tokens["input_ids"] == image_token_id).int(),
                "pixel_values": pixels["pixel_values"], "image_grid_thw": pixels["image_grid_thw"],
                "answer_id": torch.tensor([answer_id])}

    def _forward(self, inputs):
        answer_id = int(inputs.pop("answer_id")[0])
        out = self.model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                  mm_token_type_ids=inputs["mm_token_type_ids"],
                                  pixel_values=inputs["pixel_values"].to(dtype=self.dtype),
                                  image_grid_thw=inputs["image_grid_thw"], max_new_tokens=1, do_sample=False,
                                  output_scores=True, return_dict_in_generate=True)
        return torch.softmax(out.scores[0].float(), dim=-1)[:, answer_id]
