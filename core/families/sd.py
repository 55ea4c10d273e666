"""Stable Diffusion 2.1 (StableDiffusionPipeline): U-Net, one CLIP text encoder, classic CFG."""
from __future__ import annotations

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from core.families import Family, register
from core.families.tokenizers import clip_tokenizer


def tiny_clip_config(**overrides) -> CLIPTextConfig:
    cfg = dict(bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=32, intermediate_size=37,
               layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=2, vocab_size=1000)
    cfg.update(overrides)
    return CLIPTextConfig(**cfg)


def tiny_vae(**overrides) -> AutoencoderKL:
    cfg = dict(block_out_channels=[8, 16], in_channels=3, out_channels=3,
               down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
               up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4, norm_num_groups=4,
               sample_size=32)
    cfg.update(overrides)
    return AutoencoderKL(**cfg)


@register
class SDFamily(Family):
    name = "sd"
    denoiser = "unet"

    def build_tiny(self, spec):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            block_out_channels=(8, 16), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=4,
            attention_head_dim=(2, 4), use_linear_projection=True,
        )
        # steps_offset=1 as in SD 2.1's own scheduler config (0 makes diffusers print a 20-line FutureWarning)
        scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  clip_sample=False, set_alpha_to_one=False, steps_offset=1)
        return StableDiffusionPipeline(
            unet=unet, scheduler=scheduler, vae=tiny_vae(), text_encoder=CLIPTextModel(tiny_clip_config()),
            tokenizer=clip_tokenizer(), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False,
        )

    def load_pretrained(self, spec, **kw):
        pipe = super().load_pretrained(spec, **kw)
        # Research use: the NSFW checker blacks out images and costs time; the workbench measures models.
        if getattr(pipe, "safety_checker", None) is not None:
            pipe.safety_checker = None
        return pipe
