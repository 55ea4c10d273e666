"""Tokenizers built in code for tiny and random-weight pipelines (no file, no network).

A WordLevel `tokenizers` model wrapped in `PreTrainedTokenizerFast` stands in for CLIP, T5, Gemma,
Qwen, Llama, BERT... slots: the pipelines only need ids, padding, truncation and special tokens.
Words outside the small vocabulary map to the unknown token.
"""
from __future__ import annotations

import string

from core.lazy import lazy_module

tokenizers = lazy_module("tokenizers")  # the Rust library (this module is core.families.tokenizers)
transformers = lazy_module("transformers")

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
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token=unk))
    tok.normalizer = tokenizers.normalizers.Sequence([tokenizers.normalizers.NFKC(), tokenizers.normalizers.Lowercase()])
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    single = " ".join(x for x in (bos and f"{bos}:0", "$A:0", eos and f"{eos}:0") if x)
    special_pairs = [(t, vocab[t]) for t in (bos, eos) if t]
    tok.post_processor = tokenizers.processors.TemplateProcessing(single=single, special_tokens=special_pairs)
    fast = transformers.PreTrainedTokenizerFast(
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


def bert_tokenizer(vocab_size: int = 1000, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """BERT layout: [PAD]=0, [UNK]=1, [CLS]=2 before and [SEP]=3 after each text (HunyuanDiT's BERT slot)."""
    tok = word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos="[CLS]", eos="[SEP]", pad="[PAD]",
        unk="[UNK]", specials_first=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
    )
    tok.add_special_tokens({"cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"})
    return tok


# Qwen's byte-level BPE keeps "\n" as a token; Qwen-Image drops a fixed number of leading template tokens
# (`prompt_template_encode_start_idx`), so the stand-in must count the template's tokens the same way.
_QWEN_PRETOKENIZE = r"\w+|[^\w\s]+|\n"


def qwen2_tokenizer(vocab_size: int = 1000, model_max_length: int = 32768) -> PreTrainedTokenizerFast:
    """Qwen2/2.5 chat layout: pad <|endoftext|>=0, <|im_start|>=1, <|im_end|>=2 (special), nothing added
    around texts, and newlines kept as tokens, so that chat-template prefixes tokenize to as many tokens as
    with Qwen's BPE (Qwen-Image's template prefix: 34, the pipeline's drop index)."""
    from tokenizers import Regex

    tok = word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos=None, eos=None, pad="<|endoftext|>",
        unk="<unk>", specials_first=("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>", "\n"),
    )
    tok.backend_tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Split(
        Regex(_QWEN_PRETOKENIZE), behavior="removed", invert=True)
    tok.add_special_tokens({"eos_token": "<|im_end|>",
                            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    return tok


def gpt2_tokenizer(vocab_size: int = 1000, model_max_length: int = 1024) -> PreTrainedTokenizerFast:
    """GPT-2 layout: <|endoftext|>=0 is bos, eos, unk and pad; nothing added around texts
    (UniDiffuser's caption decoder reads `eos_token_id` and decodes ids)."""
    tok = word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos=None, eos=None, pad="<|endoftext|>",
        unk="<|endoftext|>", specials_first=("<|endoftext|>",),
    )
    tok.add_special_tokens({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"})
    return tok


def gemma_tokenizer(vocab_size: int = 1000, model_max_length: int = 8192,
                    padding_side: str = "right") -> PreTrainedTokenizerFast:
    """Gemma / Gemma 2 layout: pad=0, eos=1, bos=2, unk=3, and only <bos> added before each text (Gemma's
    add_bos_token=True, add_eos_token=False): Sana, Lumina-Next and Lumina 2 slots."""
    tok = decoder_lm_tokenizer(vocab_size=vocab_size, model_max_length=model_max_length, padding_side=padding_side)
    tok.backend_tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single="<bos>:0 $A:0", pair="<bos>:0 $A:0 $B:1", special_tokens=[("<bos>", tok.bos_token_id)])
    return tok


def glm_tokenizer(vocab_size: int = 1000, model_max_length: int = 8192) -> PreTrainedTokenizerFast:
    """GLM-4 layout (CogView4's slot): pad=0, eos=1, "[gMASK]"=2 and "<sop>"=3 put before each text as GLM-4's
    tokenizer does, nothing after; left padding (the pipeline pads to a multiple of 16 on the left)."""
    tok = word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos=None, eos="<eos>", pad="<pad>",
        unk="<unk>", padding_side="left", specials_first=("<pad>", "<eos>", "[gMASK]", "<sop>", "<unk>"),
    )
    tok.add_special_tokens({"additional_special_tokens": ["[gMASK]", "<sop>"]})
    ids = tok.convert_tokens_to_ids(["[gMASK]", "<sop>"])
    tok.backend_tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single="[gMASK]:0 <sop>:0 $A:0", pair="[gMASK]:0 <sop>:0 $A:0 $B:1",
        special_tokens=[("[gMASK]", ids[0]), ("<sop>", ids[1])])
    return tok
