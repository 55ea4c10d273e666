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
    fixed_ids: dict[str, int] | None = None,
) -> PreTrainedTokenizerFast:
    """A word-level tokenizer with ids in [0, vocab_size), bos/eos added around each text.

    ``specials_first`` fixes the order of special tokens at the start of the vocabulary, for models
    whose configs pin special ids (CLIP: bos 0, pad 1, eos 2). ``fixed_ids`` puts tokens at given ids
    anywhere in the vocabulary (Qwen2-VL's vision tokens, which the model finds by id).
    """
    specials = list(specials_first) or [t for t in (pad, unk, bos, eos) if t]
    for t in (pad, unk, bos, eos):
        if t and t not in specials:
            specials.append(t)
    words = [w for w in _WORDS + list(string.ascii_lowercase) + [str(d) for d in range(10)]]
    fixed = dict(fixed_ids or {})
    vocab: dict[str, int] = dict(fixed)
    taken = set(fixed.values())
    next_id = 0
    for tok in specials + words:
        while next_id in taken:
            next_id += 1
        if tok not in vocab and next_id < vocab_size:
            vocab[tok] = next_id
            taken.add(next_id)
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
_QWEN_PRETOKENIZE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|\w+|[^\w\s]+|\n"


def qwen2_tokenizer(vocab_size: int = 1000, model_max_length: int = 32768) -> PreTrainedTokenizerFast:
    """Qwen2/2.5 chat layout: pad <|endoftext|>=0, <|im_start|>=1, <|im_end|>=2 (special), nothing added
    around texts, and newlines kept as tokens, so that chat-template prefixes tokenize to as many tokens as
    with Qwen's BPE (Qwen-Image's template prefix: 34, the pipeline's drop index)."""
    from tokenizers import Regex

    tok = word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos=None, eos=None, pad="<|endoftext|>",
        unk="<unk>", specials_first=("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>", "\n"),
    )
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Split(
        Regex(_QWEN_PRETOKENIZE), behavior="removed", invert=True)
    tok.add_special_tokens({"eos_token": "<|im_end|>",
                            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    return tok


# Qwen2-VL's vision tokens and their ids in Qwen's vocabulary (Qwen2.5-VL-7B-Instruct tokenizer_config.json;
# its config.json names the same ids: vision_start_token_id, vision_end_token_id, image_token_id, video_token_id).
QWEN2_VL_VISION_IDS = {"<|vision_start|>": 151652, "<|vision_end|>": 151653, "<|image_pad|>": 151655,
                       "<|video_pad|>": 151656}


def qwen2_vl_tokenizer(vocab_size: int = 1000, model_max_length: int = 32768) -> PreTrainedTokenizerFast:
    """The Qwen2 layout plus the vision tokens a Qwen2-VL processor writes (<|vision_start|>, <|image_pad|> ...).

    At full size (vocab_size above the real ids) they sit at Qwen's own ids, which the model's config
    names; in a tiny vocabulary they follow the words (tiny configs read the ids from the tokenizer)."""
    from tokenizers import Regex

    names = list(QWEN2_VL_VISION_IDS)
    fixed = QWEN2_VL_VISION_IDS if vocab_size > max(QWEN2_VL_VISION_IDS.values()) else None
    tok = word_tokenizer(
        vocab_size=vocab_size, model_max_length=model_max_length, bos=None, eos=None, pad="<|endoftext|>",
        unk="<unk>", specials_first=("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>", "\n",
                                     *(() if fixed else names)),
        fixed_ids=fixed,
    )
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Split(
        Regex(_QWEN_PRETOKENIZE), behavior="removed", invert=True)
    tok.add_special_tokens({"eos_token": "<|im_end|>",
                            "additional_special_tokens": ["<|im_start|>", "<|im_end|>", *names]})
    return tok


def qwen2_vl_processor(vocab_size: int = 1000, model_max_length: int = 32768):
    """A Qwen2-VL processor (image processor + `qwen2_vl_tokenizer`) with Qwen2.5-VL-7B-Instruct's
    preprocessor_config.json values: 14-pixel patches, 2x2 merge, 2 frames per temporal patch, 3136 to
    12845056 pixels. The PIL image processor where torchvision is absent (the same numbers)."""
    image_processor = _qwen2_vl_image_processor_class()(
        patch_size=14, temporal_patch_size=2, merge_size=2, min_pixels=3136, max_pixels=12845056,
        image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])
    return _image_only_processor(image_processor,
                                 qwen2_vl_tokenizer(vocab_size=vocab_size, model_max_length=model_max_length))


def qwen2_vl_processor_from_pretrained(source: str, *, subfolder: str = "processor", token: str | None = None):
    """A published Qwen2-VL processor (tokenizer and image processor of `source`'s `subfolder`) without its video
    processor: `Qwen2VLProcessor.from_pretrained` needs torchvision for that one, which the edit pipelines never
    use (they send images only)."""
    from transformers import AutoTokenizer

    image_processor = _qwen2_vl_image_processor_class().from_pretrained(source, subfolder=subfolder, token=token)
    tokenizer = AutoTokenizer.from_pretrained(source, subfolder=subfolder, token=token)
    return _image_only_processor(image_processor, tokenizer)


def _qwen2_vl_image_processor_class():
    import importlib.util

    import transformers

    name = "Qwen2VLImageProcessor" if importlib.util.find_spec("torchvision") else "Qwen2VLImageProcessorPil"
    return getattr(transformers, name)


def _image_only_processor(image_processor, tokenizer):
    from transformers import Qwen2VLProcessor

    class ImageOnlyProcessor(Qwen2VLProcessor):
        """transformers checks the class of an absent video processor too, and that class needs torchvision;
        the edit pipelines send images only."""

        def check_argument_for_proper_class(self, argument_name, argument):
            return None if argument is None else super().check_argument_for_proper_class(argument_name, argument)

    return ImageOnlyProcessor(image_processor=image_processor, video_processor=None, tokenizer=tokenizer)


def qwen3_tokenizer(vocab_size: int = 1000, model_max_length: int = 40960) -> PreTrainedTokenizerFast:
    """Qwen3 chat layout (FLUX.2 [klein]'s slot): the Qwen2 layout with Qwen3's chat template, which the
    pipeline applies with ``enable_thinking=False`` (an empty think block after the assistant turn)."""
    tok = qwen2_tokenizer(vocab_size=vocab_size, model_max_length=model_max_length)
    tok.chat_template = QWEN3_CHAT_TEMPLATE
    return tok


# The part of Qwen3's chat template (Qwen/Qwen3-4B tokenizer_config.json) that single user turns use.
QWEN3_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)


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
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
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
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="[gMASK]:0 <sop>:0 $A:0", pair="[gMASK]:0 <sop>:0 $A:0 $B:1",
        special_tokens=[("[gMASK]", ids[0]), ("<sop>", ids[1])])
    return tok
