"""Tiny twins of the scorers, built in code (no file, no network): tests and `--scorer-weights tiny` run on CPU.

Each twin has the real scorer's architecture class, processor class and formula, at toy sizes and with seeded
random weights, so its scores are noise but every code path (preprocessing, pooling, projection, normalisation,
logit scale, MLP head) runs. The CLIP tokenizer keeps CLIP's layout: <|startoftext|>=0, pad=1, and
<|endoftext|> the highest id, so the pooled token (CLIP's legacy `argmax(input_ids)` pooling, which the real
checkpoints use) is the end-of-text token as with the real 49,408-word vocabulary.
"""
from __future__ import annotations

import string

from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel, WordPiece


from core.scoring import aesthetic_mlp
from core.lazy import lazy_module

torch = lazy_module("torch")
transformers = lazy_module("transformers")
_transformers_models_blip_modeling_blip = lazy_module("transformers.models.blip.modeling_blip")
_transformers_models_blip_modeling_blip_text = lazy_module("transformers.models.blip.modeling_blip_text")
_transformers_models_qwen2_vl_image_processing_pil_qwen2_vl = lazy_module("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")

def pil_image_processor():
    """CLIP's PIL image processor: `CLIPImageProcessorPil` in transformers >= 5, the slow `CLIPImageProcessor` in 4.x."""
    return getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor


TINY_IMAGE = 32
TINY_PROJECTION = 16
_WORDS = ("a an the of on in with and at to by is red green blue yellow black white cat dog bird horse car house "
          "tree flower sky sea mountain city street man woman child robot apple cup book two three left right "
          "above below photo painting style").split()


def tiny_clip_tokenizer(model_max_length: int = 77) -> transformers.PreTrainedTokenizerFast:
    vocab = {"<|startoftext|>": 0, "<pad>": 1, "<unk>": 2}
    for word in _WORDS + list(string.ascii_lowercase) + [str(d) for d in range(10)]:
        vocab.setdefault(word, len(vocab))
    vocab["<|endoftext|>"] = len(vocab)
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftext|>:0 $A:0 <|endoftext|>:0",
        special_tokens=[("<|startoftext|>", 0), ("<|endoftext|>", vocab["<|endoftext|>"])])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=model_max_length, bos_token="<|startoftext|>",
                                   eos_token="<|endoftext|>", pad_token="<pad>", unk_token="<unk>")


def tiny_clip_config(*, logit_scale_init: float = 2.6592) -> transformers.CLIPConfig:
    vocab_size = len(tiny_clip_tokenizer().get_vocab())
    text = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=77, bos_token_id=0, pad_token_id=1, eos_token_id=2,
                projection_dim=TINY_PROJECTION)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  image_size=TINY_IMAGE, patch_size=8, projection_dim=TINY_PROJECTION)
    return transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=TINY_PROJECTION,
                      logit_scale_init_value=logit_scale_init)


def tiny_clip(seed: int = 0, *, logit_scale_init: float = 2.6592) -> tuple[transformers.CLIPModel, transformers.CLIPProcessor]:
    """A transformers.CLIPModel and a transformers.CLIPProcessor (PIL image processor, 32 px shortest edge and crop) of toy size."""
    torch.manual_seed(seed)
    model = transformers.CLIPModel(tiny_clip_config(logit_scale_init=logit_scale_init)).eval()
    images = pil_image_processor()(size={"shortest_edge": TINY_IMAGE},
                               crop_size={"height": TINY_IMAGE, "width": TINY_IMAGE})
    return model, transformers.CLIPProcessor(image_processor=images, tokenizer=tiny_clip_tokenizer())


def tiny_aesthetic_mlp(seed: int = 0, input_size: int = TINY_PROJECTION) -> aesthetic_mlp.AestheticMLP:
    """The LAION aesthetic head over the tiny CLIP's projection width; weights scaled up so scores vary."""
    torch.manual_seed(seed)
    mlp = aesthetic_mlp.AestheticMLP(input_size)
    with torch.no_grad():
        for p in mlp.parameters():
            p.mul_(3.0)
    return mlp.eval()


def tiny_dino(seed: int = 0) -> transformers.ViTModel:
    """A DINO-style ViT (CLS token after the final LayerNorm, no pooler) of toy size, on TINY_IMAGE px inputs."""
    torch.manual_seed(seed)
    config = transformers.ViTConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                       image_size=TINY_IMAGE, patch_size=8, qkv_bias=True)
    return transformers.ViTModel(config, add_pooling_layer=False).eval()


def tiny_bert_tokenizer(model_max_length: int = 512) -> transformers.PreTrainedTokenizerFast:
    """A WordPiece tokenizer in BERT's layout ([PAD]=0, [CLS] ... [SEP], lowercasing), with BLIP's two added
    special tokens ([DEC] as bos, [ENC]) as `blip.init_tokenizer` adds them to bert-base-uncased."""
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
    for word in _WORDS + list(string.ascii_lowercase) + [str(d) for d in range(10)] + list(",.!?'\"-"):
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS]:0 $A:0 [SEP]:0",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    out = transformers.BertTokenizerFast(tokenizer_object=tok, model_max_length=model_max_length, unk_token="[UNK]",
                            sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")
    out.add_special_tokens({"bos_token": "[DEC]"})
    out.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return out


def tiny_imagereward(seed: int = 0) -> tuple[_transformers_models_blip_modeling_blip.BlipVisionModel, _transformers_models_blip_modeling_blip_text.BlipTextModel, aesthetic_mlp.AestheticMLP, transformers.PreTrainedTokenizerFast]:
    """ImageReward's BLIP at toy size: a ViT (32 px, patch 8) and a BERT text encoder cross-attending to it, the
    reward MLP over the [CLS] state, the WordPiece tokenizer above."""
    torch.manual_seed(seed)
    tokenizer = tiny_bert_tokenizer()
    vision = _transformers_models_blip_modeling_blip.BlipVisionModel(transformers.BlipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                              num_attention_heads=4, image_size=TINY_IMAGE, patch_size=8,
                                              layer_norm_eps=1e-6)).eval()
    text = _transformers_models_blip_modeling_blip_text.BlipTextModel(transformers.BlipTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=4, encoder_hidden_size=32,
                                        max_position_embeddings=64, layer_norm_eps=1e-12, pad_token_id=0,
                                        bos_token_id=tokenizer.bos_token_id, eos_token_id=3, sep_token_id=3,
                                        is_decoder=True),
                         add_pooling_layer=False).eval()
    mlp = tiny_aesthetic_mlp(seed=seed, input_size=32)
    return vision, text, mlp, tokenizer


QWEN_SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                "<|video_pad|>")
# Qwen2.5-VL's chat template, reduced to what VQAScore sends: a default system turn, images and text in order.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tiny_qwen_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """Word-level, with Qwen's special tokens and chat template, "Yes" and "No" as single tokens; left padding."""
    vocab = {t: i for i, t in enumerate(QWEN_SPECIAL)}
    for word in ["Yes", "No", "Does", "this", "image", "figure", "show", "Please", "answer", "or", "You", "are",
                 "helpful", "assistant", "system", "user"] + _WORDS + list(string.ascii_lowercase) + list(".,?!\"'"):
        vocab.setdefault(word, len(vocab))
    vocab["<unk>"] = len(vocab)
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    out = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<|endoftext|>",
                                  eos_token="<|im_end|>", additional_special_tokens=list(QWEN_SPECIAL[1:]))
    out.padding_side = "left"
    out.chat_template = QWEN_CHAT_TEMPLATE
    return out


def tiny_qwen_vl(seed: int = 0):
    """Qwen2.5-VL at toy size (2 vision blocks with windowed and full attention, 2 decoder layers with M-RoPE), its
    PIL image processor (patch 14, merge 2: 28 px per visual token, at most 16 tokens) and the tokenizer above."""
    tokenizer = tiny_qwen_tokenizer()
    vocab = tokenizer.get_vocab()
    config = transformers.Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         rope_parameters=dict(rope_type="default", mrope_section=[2, 1, 1], rope_theta=10000.0),
                         bos_token_id=0, eos_token_id=vocab["<|im_end|>"], pad_token_id=0),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=32,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                           fullatt_block_indexes=[1]),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"], vision_end_token_id=vocab["<|vision_end|>"])
    torch.manual_seed(seed)
    model = transformers.Qwen2_5_VLForConditionalGeneration(config).eval()
    images = _transformers_models_qwen2_vl_image_processing_pil_qwen2_vl.Qwen2VLImageProcessorPil(min_pixels=4 * 28 * 28, max_pixels=16 * 28 * 28, patch_size=14, merge_size=2,
                                      temporal_patch_size=2)
    return model, images, tokenizer
