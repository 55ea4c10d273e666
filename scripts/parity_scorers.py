"""Parity of our HPSv2.1 and ImageReward scorers with their authors' packages, on tiny twins, within 1e-4.

The authors' packages do not install beside the project's pins (hpsv2 1.2.0 pins protobuf<4 and pytest==7.2.0;
image-reward 1.5 pins timm==0.6.13 and fairscale==0.4.13 and its BLIP code needs transformers 4.x), so the check
has two halves in two environments, exchanging files through DIR:

  1. `authors`, in a throwaway venv holding the authors' package: builds the authors' own model classes at toy
     size with seeded random weights (open_clip's CLIP through hpsv2's `create_model_and_transforms` with the
     arguments `hpsv2.score` uses; ImageReward's `ImageReward` with BLIP's ViT and BERT made small), scores
     images with the authors' own scoring function (`hpsv2.img_score.score(image, prompt, cp=checkpoint)`,
     `ImageReward.score(prompt, image)`), and writes the checkpoint in the authors' format, the tokenizer files,
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
                                 num_attention_heads=med["num_attention_heads"], encoder_hidden_size=med["encoder_width"],
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


AUTHORS = {"hps": authors_hps, "imagereward": authors_imagereward}
OURS = {"hps": ours_hps, "imagereward": ours_imagereward}


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
    for prompt, size, a, b, d in zip(PROMPTS, SIZES, ref["scores"], ours, diffs):
        print(f"{args.metric:<12} {size[0]:>3}x{size[1]:<3} authors {a:+.7f}  ours {b:+.7f}  |diff| {d:.2e}  {prompt!r}")
    worst = max(diffs)
    ok = len(ours) == len(ref["scores"]) and worst <= TOLERANCE
    print(f"{args.metric}: max |diff| {worst:.2e} over {len(diffs)} images ({'ok' if ok else 'FAIL'}, "
          f"tolerance {TOLERANCE})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
