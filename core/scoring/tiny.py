"""Tiny twins of the scorers, built in code (no file, no network): tests and `--scorer-weights tiny` run on CPU.

Each twin has the real scorer's architecture class, processor class and formula, at toy sizes and with seeded
random weights, so its scores are noise but every code path (preprocessing, pooling, projection, normalisation,
logit scale, MLP head) runs. The CLIP tokenizer keeps CLIP's layout: <|startoftext|>=0, pad=1, and
<|endoftext|> the highest id, so the pooled token (CLIP's legacy `argmax(input_ids)` pooling, which the real
checkpoints use) is the end-of-text token as with the real 49,408-word vocabulary.
"""
from __future__ import annotations

import string

import torch
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import CLIPConfig, CLIPModel, CLIPProcessor, PreTrainedTokenizerFast, ViTConfig, ViTModel

try:
    from transformers import CLIPImageProcessorPil as PilImageProcessor  # transformers >= 5: the PIL backend
except ImportError:  # transformers 4.x: the slow CLIPImageProcessor is the PIL/numpy one
    from transformers import CLIPImageProcessor as PilImageProcessor

from core.scoring.aesthetic_mlp import AestheticMLP

TINY_IMAGE = 32
TINY_PROJECTION = 16
_WORDS = ("a an the of on in with and at to by is red green blue yellow black white cat dog bird horse car house "
          "tree flower sky sea mountain city street man woman child robot apple cup book two three left right "
          "above below photo painting style").split()


def tiny_clip_tokenizer(model_max_length: int = 77) -> PreTrainedTokenizerFast:
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
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=model_max_length, bos_token="<|startoftext|>",
                                   eos_token="<|endoftext|>", pad_token="<pad>", unk_token="<unk>")


def tiny_clip_config(*, logit_scale_init: float = 2.6592) -> CLIPConfig:
    vocab_size = len(tiny_clip_tokenizer().get_vocab())
    text = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=77, bos_token_id=0, pad_token_id=1, eos_token_id=2,
                projection_dim=TINY_PROJECTION)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  image_size=TINY_IMAGE, patch_size=8, projection_dim=TINY_PROJECTION)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=TINY_PROJECTION,
                      logit_scale_init_value=logit_scale_init)


def tiny_clip(seed: int = 0, *, logit_scale_init: float = 2.6592) -> tuple[CLIPModel, CLIPProcessor]:
    """A CLIPModel and a CLIPProcessor (PIL image processor, 32 px shortest edge and crop) of toy size."""
    torch.manual_seed(seed)
    model = CLIPModel(tiny_clip_config(logit_scale_init=logit_scale_init)).eval()
    images = PilImageProcessor(size={"shortest_edge": TINY_IMAGE},
                               crop_size={"height": TINY_IMAGE, "width": TINY_IMAGE})
    return model, CLIPProcessor(image_processor=images, tokenizer=tiny_clip_tokenizer())


def tiny_aesthetic_mlp(seed: int = 0, input_size: int = TINY_PROJECTION) -> AestheticMLP:
    """The LAION aesthetic head over the tiny CLIP's projection width; weights scaled up so scores vary."""
    torch.manual_seed(seed)
    mlp = AestheticMLP(input_size)
    with torch.no_grad():
        for p in mlp.parameters():
            p.mul_(3.0)
    return mlp.eval()


def tiny_dino(seed: int = 0) -> ViTModel:
    """A DINO-style ViT (CLS token after the final LayerNorm, no pooler) of toy size, on TINY_IMAGE px inputs."""
    torch.manual_seed(seed)
    config = ViTConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                       image_size=TINY_IMAGE, patch_size=8, qkv_bias=True)
    return ViTModel(config, add_pooling_layer=False).eval()
