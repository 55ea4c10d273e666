"""Tokenizers built in code for tiny and random-weight pipelines (no file, no network).

A WordLevel `tokenizers` model wrapped in `PreTrainedTokenizerFast` stands in for CLIP, T5, Gemma,
Qwen, Llama, BERT... slots: the pipelines only need ids, padding, truncation and special tokens.
Words outside the small vocabulary map to the unknown token.
"""
from __future__ import annotations

import string

from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

_WORDS = (
    "a an the of on in with and at to by is red green blue yellow black white orange purple pink brown "
    "cat dog bird horse car house tree flower sky sea mountain city street man woman child robot apple "
    "cup book table chair lamp window door river forest sun moon star cloud rain snow painting photo "
    "portrait style oil watercolor sketch neon night day light dark big small two three four five left "
    "right above below behind front text sign says word letter astronaut riding sitting standing"
).split()


def word_tokenizer(
    *,
    vocab_size: int = 1000,
    model_max_length: int = 77,
    bos: str | None = "<s>",
    eos: str | None = "</s>",
    pad: str = "<pad>",
    unk: str = "<unk>",
    padding_side: str = "right",
    specials_first: tuple[str, ...] = (),
) -> PreTrainedTokenizerFast:
    """A word-level tokenizer with ids in [0, vocab_size), bos/eos added around each text.

    ``specials_first`` fixes the order of special tokens at the start of the vocabulary, for models
    whose configs pin special ids (CLIP: bos 0, pad 1, eos 2).
    """
    specials = list(specials_first) or [t for t in (pad, unk, bos, eos) if t]
    for t in (pad, unk, bos, eos):
        if t and t not in specials:
            specials.append(t)
    words = [w for w in _WORDS + list(string.ascii_lowercase) + [str(d) for d in range(10)]]
    vocab: dict[str, int] = {}
    for tok in specials + words:
        if tok not in vocab and len(vocab) < vocab_size:
            vocab[tok] = len(vocab)
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token=unk))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    single = " ".join(x for x in (bos and f"{bos}:0", "$A:0", eos and f"{eos}:0") if x)
    special_pairs = [(t, vocab[t]) for t in (bos, eos) if t]
    tok.post_processor = processors.TemplateProcessing(single=single, special_tokens=special_pairs)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=model_max_length,
        padding_side=padding_side,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        unk_token=unk,
    )
    return fast


def clip_tokenizer(vocab_size: int = 1000, model_max_length: int = 77) -> PreTrainedTokenizerFast:
    """CLIP layout: <|startoftext|>=0, pad=1, <|endoftext|>=2 (tiny CLIP configs use these ids)."""
    return word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos="<|startoftext|>",
        eos="<|endoftext|>", pad="<pad>", unk="<unk>",
        specials_first=("<|startoftext|>", "<pad>", "<|endoftext|>", "<unk>"),
    )


def t5_tokenizer(vocab_size: int = 1000, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """T5 layout: pad=0, eos=1, unk=2, no bos."""
    return word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos=None, eos="</s>", pad="<pad>",
        unk="<unk>", specials_first=("<pad>", "</s>", "<unk>"),
    )


def decoder_lm_tokenizer(vocab_size: int = 1000, model_max_length: int = 512,
                         padding_side: str = "right") -> PreTrainedTokenizerFast:
    """Gemma/Qwen/Llama/GLM layout: pad=0, eos=1, bos=2, unk=3."""
    return word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos="<bos>", eos="<eos>", pad="<pad>",
        unk="<unk>", padding_side=padding_side, specials_first=("<pad>", "<eos>", "<bos>", "<unk>"),
    )
