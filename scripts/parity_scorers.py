"""Parity of our HPSv2.1, ImageReward and VQAScore scorers with their authors' packages, on tiny twins, within 1e-4.

The authors' packages do not install beside the project's pins (hpsv2 1.2.0 pins protobuf<4 and pytest==7.2.0;
image-reward 1.5 pins timm==0.6.13 and fairscale==0.4.13 and its BLIP code needs transformers 4.x), so the check
has two halves in two environments, exchanging files through DIR:

  1. `authors`, in a throwaway venv holding the authors' package: builds the authors' own model classes at toy
     size with seeded random weights (open_clip's CLIP through hpsv2's `create_model_and_transforms` with the
     arguments `hpsv2.score` uses; ImageReward's `ImageReward` with BLIP's ViT and BERT made small), scores
     images with the authors' own scoring function (`hpsv2.img_score.score(image, prompt, cp=checkpoint)`,
     `ImageReward.score(prompt, image)`; for VQAScore a Qwen2.5-VL of transformers 4.49 at toy size handed to
     t2v_metrics' `Qwen2VLModel.forward`, whose package __init__ is skipped for its ffmpeg check), and writes the
     checkpoint in the authors' format (VQAScore: save_pretrained of model and processor), the tokenizer files,
     the images, the prompts and the scores.
  2. `ours`, in the project's venv: reads that checkpoint through core.scoring.convert into our scorer (the code
     path of pretrained weights), scores the same image files, prints each difference, exits 1 above 1e-4.

The HPS twin keeps open_clip's real tokenizer (the 49,408-token CLIP BPE, exported to vocab.json + merges.txt for
transformers' CLIPTokenizer), so tokenization is checked too; the ImageReward twin uses a small WordPiece
vocabulary written here (BERT's tokenizer class on both sides). Images are of several sizes and aspect ratios, so
resize, crop (ImageReward) and padding (HPS) are checked.

Setup, as run for issue 20 (CPU torch from the local wheel; the CUDA build of torchvision from PyPI, whose
compiled ops cannot load without CUDA: its two op-registration imports are removed, the transforms need none):

    python3 -m venv /tmp/venv-hps && /tmp/venv-hps/bin/pip install torch==2.13.0 torchvision==0.28.0 hpsv2
    # hpsv2 1.2.0 ships without open_clip's BPE vocabulary: take it from open_clip_torch's wheel
    pip download --no-deps open_clip_torch -d /tmp/pkgs && unzip -j /tmp/pkgs/open_clip_torch-*.whl \
        open_clip/bpe_simple_vocab_16e6.txt.gz -d /tmp/venv-hps/lib/python3.11/site-packages/hpsv2/src/open_clip/
    python3 -m venv /tmp/venv-ir && /tmp/venv-ir/bin/pip install torch==2.13.0 torchvision==0.28.0 image-reward \
        openai-clip "setuptools<81" transformers==4.36.2 diffusers==0.25.1 datasets==2.16.1 huggingface_hub==0.20.3
    sed -i 's/^    _autograd_registrations,$//; s/^    _meta_registrations,$//' \
        /tmp/venv-*/lib/python3.11/site-packages/torchvision/__init__.py

    /tmp/venv-hps/bin/python scripts/parity_scorers.py authors hps /tmp/parity
    /tmp/venv-ir/bin/python scripts/parity_scorers.py authors imagereward /tmp/parity
    PYTHONPATH=. .venv/bin/python scripts/parity_scorers.py ours hps /tmp/parity
    PYTHONPATH=. .venv/bin/python scripts/parity_scorers.py ours imagereward /tmp/parity

    python3 -m venv /tmp/venv-vqa && /tmp/venv-vqa/bin/pip install torch==2.13.0 torchvision==0.28.0 \
        transformers==4.49.0 qwen-vl-utils decord accelerate && /tmp/venv-vqa/bin/pip install --no-deps t2v-metrics
    (the same torchvision edit in /tmp/venv-vqa)
    /tmp/venv-vqa/bin/python scripts/parity_scorers.py authors vqascore /tmp/parity
    PYTHONPATH=. .venv/bin/python scripts/parity_scorers.py ours vqascore /tmp/parity
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TOLERANCE = 1e-4
SIZES = [(48, 40), (32, 32), (64, 40), (40, 56), (300, 200), (33, 97)]  # (height, width)
PROMPTS = ["a red cat", "two dogs on the left of a house in the city at night", "photo of a blue sky, 3 birds!",
           "a robot riding a horse", "the cat's green apple", "a man and a woman at the sea in the style of a painting"]
# open_clip model config of the HPS twin (ViT-H-14.json's fields at toy size; the real BPE vocabulary)
HPS_TINY = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 8,
                                            "patch_size": 8},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2}}
IR_WORDS = ("a an the of on in with and at to by is red green blue yellow black white cat dog dogs bird birds "
            "horse car house tree flower sky sea mountain city street man woman child robot apple cup book two "
            "three left right above below photo painting style riding night ' , ! . s 3").split()
IR_VISION = dict(image_size=32, patch_size=8, width=32, depth=2, heads=4)
VQA_PROMPTS = PROMPTS[:5] + ['a sign that says "Yes" in red']  # "Yes" in the prompt: the repetition penalty acts
QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|image_pad|>", "<|video_pad|>"]
QWEN_WORDS = ("Yes No Does this image show You are a helpful assistant system user an the of on in with and at to "
              "by is red green blue cat dog dogs bird birds horse house sky sea city man woman robot apple two "
              "three left right photo painting style riding night sign that says").split() + list(".,?!\"'3")
QWEN_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _images(folder: Path) -> list[Path]:
    rng = np.random.default_rng(20)
    paths = []
    for i, (h, w) in enumerate(SIZES):
        noise = rng.integers(0, 256, (h, w, 3)).astype(np.float64)
        ramp = np.linspace(0, 255, w)[None, :, None] * np.array([1.0, 0.5, 0.2])
        pixels = (0.5 * noise + 0.5 * ramp).clip(0, 255).astype(np.uint8)
        path = folder / f"image{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def _spread(module: torch.nn.Module, seed: int) -> None:
    """Seeded noise on every parameter, so zero-initialised biases and heads also take part."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)


# ---- 1. the authors' side ---------------------------------------------------------------------------------
def authors_hps(out: Path) -> dict:
    import hpsv2.img_score as hps_score
    from hpsv2.src.open_clip import create_model_and_transforms
    from hpsv2.src.open_clip.factory import _MODEL_CONFIGS
    from hpsv2.src.open_clip.tokenizer import _tokenizer

    _MODEL_CONFIGS["ViT-tiny-parity"] = HPS_TINY
    torch.manual_seed(0)
    # the arguments of hpsv2.img_score.initialize_model, with the tiny config and no pretrained download
    model, _, preprocess_val = create_model_and_transforms(
        "ViT-tiny-parity", None, precision="amp", device="cpu", jit=False, force_quick_gelu=False,
        force_custom_text=False, force_patch_dropout=False, force_image_size=None, pretrained_image=False,
        image_mean=None, image_std=None, light_augmentation=True, aug_cfg={}, output_dict=True,
        with_score_predictor=False, with_region_predictor=False)
    _spread(model, 1)
    checkpoint = out / "hps_checkpoint.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    hps_score.model_dict.update(model=model, preprocess_val=preprocess_val)  # initialize_model() then keeps it
    scores = [float(hps_score.score(Image.open(p), prompt, cp=str(checkpoint), hps_version="v2.1")[0])
              for p, prompt in zip(_images(out), PROMPTS)]
    tok = out / "hps_tokenizer"
    tok.mkdir(exist_ok=True)
    # open_clip names its two special tokens <start_of_text>, <end_of_text>; the hub's CLIP vocab.json files (the
    # laion ViT-H-14 repo HPS reads its tokenizer from) call the same ids <|startoftext|>, <|endoftext|>
    names = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    (tok / "vocab.json").write_text(json.dumps({names.get(k, k): v for k, v in _tokenizer.encoder.items()}))
    merges = sorted(_tokenizer.bpe_ranks.items(), key=lambda kv: kv[1])
    (tok / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair, _ in merges) + "\n")
    return {"scores": scores, "config": HPS_TINY, "checkpoint": checkpoint.name}


def _ir_vocab(out: Path) -> Path:
    (out / "ir_vocab").mkdir(exist_ok=True)
    path = out / "ir_vocab" / "vocab.txt"
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(dict.fromkeys(IR_WORDS))
    path.write_text("\n".join(words) + "\n")
    return path


def authors_imagereward(out: Path) -> dict:
    import ImageReward.models.BLIP.blip_pretrain as blip_pretrain
    from ImageReward.ImageReward import MLP, ImageReward, _transform
    from ImageReward.models.BLIP.vit import VisionTransformer
    from transformers import BertTokenizer

    vocab = _ir_vocab(out)

    def init_tokenizer():  # blip.init_tokenizer on the small vocabulary instead of bert-base-uncased
        tokenizer = BertTokenizer(str(vocab))
        tokenizer.add_special_tokens({"bos_token": "[DEC]"})
        tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
        tokenizer.enc_token_id = tokenizer.additional_special_tokens_ids[0]
        return tokenizer

    def create_vit(vit, image_size, use_grad_checkpointing=False, ckpt_layer=0, drop_path_rate=0):
        v = IR_VISION
        return VisionTransformer(img_size=v["image_size"], patch_size=v["patch_size"], embed_dim=v["width"],
                                 depth=v["depth"], num_heads=v["heads"], drop_path_rate=0), v["width"]

    blip_pretrain.init_tokenizer, blip_pretrain.create_vit = init_tokenizer, create_vit
    med = {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.1, "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
           "layer_norm_eps": 1e-12, "max_position_embeddings": 64, "model_type": "bert", "num_attention_heads": 4,
           "num_hidden_layers": 2, "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": len(init_tokenizer()),
           "encoder_width": IR_VISION["width"], "add_cross_attention": True}
    (out / "ir_med_config.json").write_text(json.dumps(med))
    torch.manual_seed(0)
    model = ImageReward(med_config=str(out / "ir_med_config.json"), device="cpu")
    model.mlp = MLP(med["hidden_size"])  # ImageReward sizes its head for BERT-base (768)
    model.preprocess = _transform(IR_VISION["image_size"])
    _spread(model, 2)
    with torch.no_grad():  # a wider spread of rewards between images, so a preprocessing slip would show
        model.mlp.layers[0].weight.mul_(20)
    model.eval()
    torch.save(model.state_dict(), out / "ir_checkpoint.pt")
    with torch.no_grad():
        scores = [float(model.score(prompt, Image.open(p))) for p, prompt in zip(_images(out), PROMPTS)]
    return {"scores": scores, "med_config": med, "vision": IR_VISION, "checkpoint": "ir_checkpoint.pt"}


def authors_vqascore(out: Path) -> dict:
    import importlib.util
    import types

    from tokenizers import Tokenizer, pre_tokenizers
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2TokenizerFast,
                              Qwen2_5_VLProcessor, Qwen2VLImageProcessor)

    root = Path(importlib.util.find_spec("t2v_metrics").origin).parent  # found, not run: its __init__ wants ffmpeg
    for name, sub in (("t2v_metrics", "."), ("t2v_metrics.models", "models"),
                      ("t2v_metrics.models.vqascore_models", "models/vqascore_models")):
        module = types.ModuleType(name)
        module.__path__ = [str(root / sub)]
        sys.modules[name] = module
    from t2v_metrics.models.vqascore_models.qwen2vl_model import Qwen2VLModel

    # Qwen2's tokenizer layout (NFC, its split regex, byte-level BPE) with a small vocabulary trained here, so that
    # transformers 5's Qwen2Tokenizer (which rebuilds the BPE from vocab.json + merges.txt) reads it back the same
    from tokenizers import Regex, decoders, normalizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False,
                        byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    corpus = [" ".join(QWEN_WORDS), "You are a helpful assistant.", 'Does this image show "a red cat"?', "Yes", "No"]
    tok.train_from_iterator(corpus * 20, BpeTrainer(vocab_size=400, special_tokens=QWEN_SPECIAL, show_progress=False,
                                                    initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    vocab = tok.get_vocab()
    tokenizer = Qwen2TokenizerFast(tokenizer_object=tok, unk_token=None, pad_token="<|endoftext|>",
                                   eos_token="<|im_end|>", additional_special_tokens=QWEN_SPECIAL[1:],
                                   padding_side="left")
    images = Qwen2VLImageProcessor(min_pixels=4 * 28 * 28, max_pixels=16 * 28 * 28, patch_size=14, merge_size=2,
                                   temporal_patch_size=2)
    processor = Qwen2_5_VLProcessor(image_processor=images, tokenizer=tokenizer, chat_template=QWEN_TEMPLATE)
    config = Qwen2_5_VLConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, rope_theta=10000.0,
        rope_scaling={"type": "mrope", "mrope_section": [2, 1, 1]}, bos_token_id=0,
        eos_token_id=vocab["<|im_end|>"], pad_token_id=0,
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=32,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                           fullatt_block_indexes=[1]),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"], vision_end_token_id=vocab["<|vision_end|>"])
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config)
    _spread(model, 3)
    with torch.no_grad():  # P("Yes") away from 1/vocabulary, so that differences of 1e-4 are visible
        yes = tokenizer.encode("Yes")[0]
        model.lm_head.weight[yes] = model.lm_head.weight[yes] * -25
    model.generation_config.repetition_penalty = 1.05  # as Qwen2.5-VL-7B-Instruct's generation_config.json
    model.eval()
    vqa = Qwen2VLModel.__new__(Qwen2VLModel)  # load_model() reads the hub; the rest of the object is the authors'
    vqa.model, vqa.processor, vqa.device, vqa.model_name = model, processor, torch.device("cpu"), "qwen2.5-vl-7b"
    vqa.model_info = {"fps": 8.0}
    scores = vqa.forward([str(p) for p in _images(out)], VQA_PROMPTS).tolist()
    model.save_pretrained(out / "vqa_model")
    processor.save_pretrained(out / "vqa_model")
    return {"scores": scores}


# ---- 2. our side --------------------------------------------------------------------------------------------
def ours_hps(out: Path, ref: dict) -> list[float]:
    from transformers import CLIPConfig, CLIPTokenizer

    from core.scoring.hps import clip_from_open_clip, load_checkpoint
    from core.scoring.scorers import make_scorer

    v, t = ref["config"]["vision_cfg"], ref["config"]["text_cfg"]
    config = CLIPConfig(
        projection_dim=ref["config"]["embed_dim"],
        text_config=dict(vocab_size=t["vocab_size"], hidden_size=t["width"], intermediate_size=4 * t["width"],
                         num_hidden_layers=t["layers"], num_attention_heads=t["heads"],
                         max_position_embeddings=t["context_length"], hidden_act="gelu", bos_token_id=0,
                         pad_token_id=1, eos_token_id=2, projection_dim=ref["config"]["embed_dim"]),
        vision_config=dict(hidden_size=v["width"], intermediate_size=4 * v["width"], num_hidden_layers=v["layers"],
                           num_attention_heads=v["width"] // v["head_width"], image_size=v["image_size"],
                           patch_size=v["patch_size"], hidden_act="gelu", projection_dim=ref["config"]["embed_dim"]))
    model = clip_from_open_clip(load_checkpoint(str(out / ref["checkpoint"])), config)
    tokenizer = CLIPTokenizer.from_pretrained(out / "hps_tokenizer")  # vocab.json + merges.txt
    scorer = make_scorer("hps", weights="tiny").attach(scorer_id="parity:hps", revision="parity", weights="tiny",
                                                       model=model, tokenizer=tokenizer, image_size=v["image_size"])
    return scorer.score([Image.open(p) for p in _images(out)], PROMPTS)


def ours_imagereward(out: Path, ref: dict) -> list[float]:
    from transformers import BertTokenizerFast, BlipTextConfig, BlipVisionConfig

    from core.scoring.imagereward import blip_tokenizer, imagereward_from_checkpoint
    from core.scoring.scorers import make_scorer

    med, v = ref["med_config"], ref["vision"]
    vision_config = BlipVisionConfig(hidden_size=v["width"], intermediate_size=4 * v["width"],
                                     num_hidden_layers=v["depth"], num_attention_heads=v["heads"],
                                     image_size=v["image_size"], patch_size=v["patch_size"], layer_norm_eps=1e-6)
    text_config = BlipTextConfig(vocab_size=med["vocab_size"], hidden_size=med["hidden_size"],
                                 intermediate_size=med["intermediate_size"],
                                 num_hidden_layers=med["num_hidden_layers"],
                                 num_attention_heads=med["num_attention_heads"],
                                 encoder_hidden_size=med["encoder_width"],
                                 max_position_embeddings=med["max_position_embeddings"],
                                 layer_norm_eps=med["layer_norm_eps"], pad_token_id=0, is_decoder=True,
                                 bos_token_id=med["vocab_size"] - 2, sep_token_id=3, eos_token_id=3)
    state = torch.load(out / ref["checkpoint"], map_location="cpu", weights_only=True)
    vision, text, mlp = imagereward_from_checkpoint(state, vision_config=vision_config, text_config=text_config)
    tokenizer = blip_tokenizer(BertTokenizerFast.from_pretrained(out / "ir_vocab"))  # vocab.txt
    scorer = make_scorer("imagereward", weights="tiny").attach(scorer_id="parity:imagereward", revision="parity",
                                                               weights="tiny", vision=vision, text=text, mlp=mlp,
                                                               tokenizer=tokenizer)
    return scorer.score([Image.open(p) for p in _images(out)], PROMPTS)


def ours_vqascore(out: Path, ref: dict) -> list[float]:
    from core.scoring.scorers import make_scorer
    from core.scoring.vqascore import load_folder

    # VqaScorer._load_pretrained's loader, in float32 on the CPU (the scorer itself wants CUDA for real weights)
    model, images, tokenizer = load_folder(out / "vqa_model", dtype=torch.float32)
    scorer = make_scorer("vqascore", weights="tiny").attach(scorer_id="parity:vqascore", revision="parity",
                                                            weights="tiny", model=model, images=images,
                                                            tokenizer=tokenizer)
    return scorer.score([Image.open(p) for p in _images(out)], VQA_PROMPTS, batch_size=1)


AUTHORS = {"hps": authors_hps, "imagereward": authors_imagereward, "vqascore": authors_vqascore}
OURS = {"hps": ours_hps, "imagereward": ours_imagereward, "vqascore": ours_vqascore}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("side", choices=("authors", "ours"))
    p.add_argument("metric", choices=tuple(AUTHORS))
    p.add_argument("dir", type=Path)
    args = p.parse_args(argv)
    out = args.dir / args.metric
    out.mkdir(parents=True, exist_ok=True)
    if args.side == "authors":
        ref = AUTHORS[args.metric](out)
        (out / "reference.json").write_text(json.dumps(ref, indent=1))
        print(f"{args.metric}: authors' scores {[round(s, 6) for s in ref['scores']]} written to {out}")
        return 0
    ref = json.loads((out / "reference.json").read_text())
    ours = OURS[args.metric](out, ref)
    diffs = [abs(a - b) for a, b in zip(ours, ref["scores"])]
    prompts = VQA_PROMPTS if args.metric == "vqascore" else PROMPTS
    for prompt, size, a, b, d in zip(prompts, SIZES, ref["scores"], ours, diffs):
        print(f"{args.metric:<12} {size[0]:>3}x{size[1]:<3} authors {a:+.7f}  ours {b:+.7f}  |diff| {d:.2e}  "
              f"{prompt!r}")
    worst = max(diffs)
    ok = len(ours) == len(ref["scores"]) and worst <= TOLERANCE
    print(f"{args.metric}: max |diff| {worst:.2e} over {len(diffs)} images ({'ok' if ok else 'FAIL'}, "
          f"tolerance {TOLERANCE})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
