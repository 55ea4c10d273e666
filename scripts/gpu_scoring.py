"""Full-size quality scorers with random weights on a CUDA GPU: images scored per second and memory.

    python scripts/gpu_scoring.py [--metrics clip,pick,aesthetic,hps,imagereward,vqascore]
                                  [--batch-sizes 1,8,32,64,128,256] [--dtypes float32,bfloat16] [--image-size 1024]
                                  [--seconds 2]
    python scripts/gpu_scoring.py --metrics hps,imagereward,vqascore --dtypes bfloat16   (issue 20's new metrics)

Each scorer is built at full size from the configs below (CLIP ViT-L/14 as openai/clip-vit-large-patch14,
CLIP ViT-H/14 as laion/CLIP-ViT-H-14-laion2B-s32B-b79K under PickScore_v1, the aesthetic MLP over ViT-L/14's vision
tower; HPSv2.1's open_clip ViT-H-14 (core.scoring.hps.VIT_H14); ImageReward's BLIP ViT-L/16 + BERT-base with
cross-attention and its MLP (core.scoring.imagereward.VISION, TEXT); VQAScore's Qwen2.5-VL-7B-Instruct
(core.scoring.vqascore.QWEN25_VL_7B)) with random weights, no download, and driven through the scorers (the code
the store's scores come from). The tokenizers are the tiny word-level ones (ids within each vocabulary; prompts
of ~20 tokens, like real ones); VQAScore's images are its real ones: a 1024 px image becomes 1036 x 1036 px, 1,369
visual tokens, so its cost is the image's, not the prompt's. Per scorer and dtype, printed:
- model img/s: `forward` on prepared tensors (GPU work only), at each batch size; the best one is marked;
- end-to-end img/s: `score` on PIL images of --image-size (the CPU preprocessing included), at batch 1 and at the
  best batch size;
- weights GB (allocated after load) and peak GB (max allocated during the largest batch).
Needs torch, transformers, tokenizers, pillow, pydantic-settings and huggingface_hub; not the store nor diffusers.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from PIL import Image
from transformers import (BlipTextConfig, BlipVisionConfig, CLIPConfig, CLIPModel, CLIPProcessor,
                          CLIPVisionModelWithProjection, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration)
from transformers.models.blip.modeling_blip import BlipVisionModel
from transformers.models.blip.modeling_blip_text import BlipTextModel
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from core.scoring.aesthetic_mlp import AestheticMLP
from core.scoring.hps import VIT_H14
from core.scoring.imagereward import TEXT as IR_TEXT
from core.scoring.imagereward import VISION as IR_VISION
from core.scoring.scorers import make_scorer
from core.scoring.tiny import pil_image_processor, tiny_bert_tokenizer, tiny_clip_tokenizer, tiny_qwen_tokenizer
from core.scoring.vqascore import MAX_PIXELS, MIN_PIXELS, QWEN25_VL_7B

# openai/clip-vit-large-patch14 (CLIPScore; the aesthetic predictor's vision tower)
CLIP_L14 = dict(
    projection_dim=768, logit_scale_init_value=2.6592,
    text_config=dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                     num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
                     bos_token_id=0, pad_token_id=1, eos_token_id=2),
    vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                       image_size=224, patch_size=14, hidden_act="quick_gelu", projection_dim=768),
)
# laion/CLIP-ViT-H-14-laion2B-s32B-b79K, the architecture of yuvalkirstain/PickScore_v1
CLIP_H14 = dict(
    projection_dim=1024, logit_scale_init_value=4.6052,
    text_config=dict(vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                     num_attention_heads=16, max_position_embeddings=77, hidden_act="gelu", projection_dim=1024,
                     bos_token_id=0, pad_token_id=1, eos_token_id=2),
    vision_config=dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                       image_size=224, patch_size=14, hidden_act="gelu", projection_dim=1024),
)
PROMPT = "a photograph of an astronaut riding a horse on the moon, detailed, high quality, in the style of a painting"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _processor() -> CLIPProcessor:
    # CLIP's 224 px preprocessing; the word-level tokenizer stands in for CLIP's BPE (ids < 49,408, ~20 tokens).
    images = pil_image_processor()(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    return CLIPProcessor(image_processor=images, tokenizer=tiny_clip_tokenizer())


def build(metric: str, dtype: torch.dtype, device: str = "cuda"):
    scorer = make_scorer(metric, weights="tiny")  # attach() below replaces the weights
    with torch.device(device):  # random init on the GPU: seconds, not a minute on the CPU
        _attach_random(scorer, metric)
    scorer.dtype = dtype
    return scorer.to(device)


def _qwen_random() -> tuple[Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessorPil, object]:
    tokenizer = tiny_qwen_tokenizer()
    vocab = tokenizer.get_vocab()
    ids = dict(image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
               vision_start_token_id=vocab["<|vision_start|>"], vision_end_token_id=vocab["<|vision_end|>"])
    model = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(**{**QWEN25_VL_7B, **ids}))
    images = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, patch_size=14, merge_size=2,
                                      temporal_patch_size=2)
    return model, images, tokenizer


def _attach_random(scorer, metric: str) -> None:
    if metric == "hps":
        scorer.attach(scorer_id="random:hps", revision="random", model=CLIPModel(CLIPConfig(**VIT_H14)),
                      tokenizer=tiny_clip_tokenizer(), image_size=224)
    elif metric == "imagereward":
        scorer.attach(scorer_id="random:imagereward", revision="random",
                      vision=BlipVisionModel(BlipVisionConfig(**IR_VISION)),
                      text=BlipTextModel(BlipTextConfig(**IR_TEXT), add_pooling_layer=False),
                      mlp=AestheticMLP(IR_TEXT["hidden_size"]), tokenizer=tiny_bert_tokenizer())
    elif metric == "vqascore":
        model, images, tokenizer = _qwen_random()
        scorer.attach(scorer_id="random:vqascore", revision="random", model=model, images=images,
                      tokenizer=tokenizer)
    elif metric == "aesthetic":
        vision = CLIPVisionModelWithProjection(CLIPConfig(**CLIP_L14).vision_config)
        scorer.attach(scorer_id="random:aesthetic", revision="random", vision=vision, mlp=AestheticMLP(768),
                      processor=_processor().image_processor)
    else:
        config = CLIPConfig(**(CLIP_L14 if metric == "clip" else CLIP_H14))
        scorer.attach(scorer_id=f"random:{metric}", revision="random", model=CLIPModel(config), processor=_processor())


def rate(fn, n_images: int, seconds: float) -> float:
    """Images per second of fn() (synchronised), after one warm-up call, over at least `seconds` and 3 calls."""
    fn()
    torch.cuda.synchronize()
    calls, t0 = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - t0 < seconds:
        fn()
        torch.cuda.synchronize()
        calls += 1
    return calls * n_images / (time.perf_counter() - t0)


def bench(metric: str, dtype_name: str, batch_sizes: list[int], images: list[Image.Image], seconds: float) -> dict:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    scorer = build(metric, DTYPES[dtype_name])
    params = sum(p.numel() for m in scorer._modules() for p in m.parameters())
    weights_gb = (torch.cuda.memory_allocated() - base) / 1e9
    prompts = [PROMPT] * len(images)
    model_rates: dict[int, float] = {}
    peak_gb = None
    for bs in batch_sizes:
        inputs = scorer.prepare(images[:bs], prompts[:bs])
        torch.cuda.reset_peak_memory_stats()
        try:
            model_rates[bs] = rate(lambda: scorer.forward(inputs), bs, seconds)
        except torch.OutOfMemoryError:
            print(f"  {metric} {dtype_name}: batch {bs} does not fit", flush=True)
            break
        peak_gb = (torch.cuda.max_memory_allocated() - base) / 1e9
        print(f"  {metric:<9} {dtype_name:<8} batch {bs:>4}: model {model_rates[bs]:>8.1f} img/s, "
              f"peak {peak_gb:.2f} GB", flush=True)
    best = max(model_rates, key=model_rates.get)
    end_to_end = {bs: rate(lambda: scorer.score(images[:bs], prompts[:bs]), bs, seconds) for bs in sorted({1, best})}
    del scorer
    torch.cuda.empty_cache()
    return dict(metric=metric, dtype=dtype_name, params=params, weights_gb=weights_gb, peak_gb=peak_gb,
                model=model_rates, best=best, end_to_end=end_to_end)


def table(results: list[dict]) -> str:
    head = (f"{'metric':<10} {'dtype':<9} {'params M':>8} {'weights GB':>10} {'peak GB':>8} {'model@1':>8} "
            f"{'best bs':>7} {'model@best':>10} {'e2e@1':>7} {'e2e@best':>8}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r['metric']:<10} {r['dtype']:<9} {r['params'] / 1e6:>8.0f} {r['weights_gb']:>10.2f} "
                     f"{r['peak_gb']:>8.2f} {r['model'].get(1, float('nan')):>8.1f} {r['best']:>7} "
                     f"{r['model'][r['best']]:>10.1f} {r['end_to_end'][1]:>7.1f} {r['end_to_end'][r['best']]:>8.1f}")
    lines.append("img/s; model = GPU forward of prepared tensors; e2e = score() on PIL images, CPU preprocessing "
                 "included; peak GB = max allocated at the largest batch that ran, weights included")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", default="clip,pick,aesthetic,hps,imagereward,vqascore")
    p.add_argument("--batch-sizes", default="1,8,32,64,128,256")
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--image-size", type=int, default=1024)
    p.add_argument("--seconds", type=float, default=2.0, help="measuring time per point (default: 2)")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 1
    batch_sizes = sorted(int(b) for b in args.batch_sizes.split(","))
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (args.image_size, args.image_size, 3), dtype=np.uint8))
              for _ in range(max(batch_sizes))]
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {args.image_size}px images", flush=True)
    results = []
    for metric in args.metrics.split(","):
        for dtype_name in args.dtypes.split(","):
            results.append(bench(metric, dtype_name, batch_sizes, images, args.seconds))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
