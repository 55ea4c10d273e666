"""Stable Diffusion XL (StableDiffusionXLPipeline): U-Net with two CLIP text encoders, classic CFG.

The U-Net's ``addition_embed_type="text_time"`` conditions on the pooled output of text_encoder_2
(CLIPTextModelWithProjection) plus six size/crop numbers (``add_time_ids``); the cross-attention
context is the concatenation of both encoders' penultimate hidden states.
"""
from __future__ import annotations

import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from core.families import Family, Speed, register
from core.families.sd import tiny_clip_config, tiny_vae
from core.families.tokenizers import clip_tokenizer

# Tiny dims: each CLIP is 32 wide, so the U-Net's context is 64; the text_time embedding input is
# 6 time ids x addition_time_embed_dim + text_encoder_2's projection_dim.
_CLIP_DIM = 32
_TIME_EMBED_DIM = 8


def sdxl_scheduler() -> EulerDiscreteScheduler:
    """stabilityai/stable-diffusion-xl-base-1.0 scheduler_config.json."""
    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        prediction_type="epsilon", steps_offset=1, timestep_spacing="leading", interpolation_type="linear",
        use_karras_sigmas=False,
    )


@register
class SDXLFamily(Family):
    name = "sdxl"
    text_encoders = ("text_encoder", "text_encoder_2")
    denoiser = "unet"
    tiny_size = 32
    speed = Speed(
        # The U-Net's stages, each compiled whole: its convolutions and norms matter as much as its attention
        # blocks (diffusers' `_repeated_blocks`, BasicTransformerBlock, would leave every ResNet eager).
        compile_regions=("DownBlock2D", "CrossAttnDownBlock2D", "UNetMidBlock2DCrossAttn", "CrossAttnUpBlock2D",
                         "UpBlock2D"),
        compile_mode="reduce-overhead",
        fuse_qkv=("unet", "vae"),
        channels_last=("unet", "vae"),
        why={
            "compile": "the seven U-Net stages compiled with CUDA graphs (reduce-overhead): launch-bound, eager MFU "
                       "12-15 %. Each U-Net call marks a CUDA-graph step and clones its output (core.recipes."
                       "CudaGraphSteps); without that, reduce-overhead failed on the H200 (2026-12-02) with 'accessing "
                       "tensor output of CUDAGraphs that has been overwritten' between the stages of one step. "
                       "Default mode measured 2.11x",
            "sdpa": "the U-Net's attention processors call F.scaled_dot_product_attention directly: PyTorch's "
                    "default pick (flash attention, head dim 64) stays",
            "fp8": "fp16 weights (the float8 row-wise matmuls want bf16), and a U-Net's compute is mostly "
                   "convolutions, which torchao's float8 Linear quantization leaves alone",
            "cache": "diffusers' first-block cache needs a stack of registered transformer blocks; a U-Net has none",
        },
    )

    def build_tiny(self, spec):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), norm_num_groups=4,
            attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 2),
            cross_attention_dim=2 * _CLIP_DIM, addition_embed_type="text_time",
            addition_time_embed_dim=_TIME_EMBED_DIM,
            projection_class_embeddings_input_dim=6 * _TIME_EMBED_DIM + _CLIP_DIM,
        )
        clip_cfg = tiny_clip_config(hidden_size=_CLIP_DIM, projection_dim=_CLIP_DIM, hidden_act="gelu")
        torch.manual_seed(0)
        text_encoder = CLIPTextModel(clip_cfg)
        torch.manual_seed(0)
        text_encoder_2 = CLIPTextModelWithProjection(clip_cfg)
        torch.manual_seed(0)
        vae = tiny_vae()
        return StableDiffusionXLPipeline(
            vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=clip_tokenizer(),
            tokenizer_2=clip_tokenizer(), unet=unet, scheduler=sdxl_scheduler(), image_encoder=None,
            feature_extractor=None, force_zeros_for_empty_prompt=True, add_watermarker=False,
        )

    def load_pretrained(self, spec, **kw):
        pipe = super().load_pretrained(spec, **kw)
        # The invisible watermark (applied only when the `invisible-watermark` package happens to be
        # installed) changes pixels depending on the environment; measure the model, not the package.
        if getattr(pipe, "watermark", None) is not None:
            pipe.watermark = None
        return pipe
