"""Stable Diffusion 3 Medium (StableDiffusion3Pipeline): MMDiT with CLIP-L, CLIP-G and T5-XXL, classic CFG.

Pooled text = concat of both CLIPs' projections; context = [CLIP-L ‖ CLIP-G] hidden states,
zero-padded to T5's width, followed by the T5 tokens (``max_sequence_length``, default 256).
A single ``negative_prompt`` is used for all three encoders.
"""
from __future__ import annotations

import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
from transformers import CLIPTextModelWithProjection, T5Config, T5EncoderModel

from core.families import Family, extra_kwargs, register
from core.families.sd import tiny_clip_config
from core.families.tokenizers import clip_tokenizer, t5_tokenizer

_CLIP_DIM = 16  # per CLIP: context 2 x 16 = 32, padded to the T5 width below (as 768+1280 -> 4096)
_T5_DIM = 48


def tiny_t5_config(d_model: int = 32, **overrides) -> T5Config:
    cfg = dict(vocab_size=1000, d_model=d_model, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=2,
               num_heads=4, relative_attention_num_buckets=8, dropout_rate=0.0, feed_forward_proj="gated-gelu",
               pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, is_encoder_decoder=True)
    cfg.update(overrides)
    return T5Config(**cfg)


@register
class SD3Family(Family):
    name = "sd3"
    text_encoders = ("text_encoder", "text_encoder_2", "text_encoder_3")
    denoiser = "transformer"
    tiny_size = 32

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = SD3Transformer2DModel(
            sample_size=16, patch_size=2, in_channels=4, out_channels=4, num_layers=1, attention_head_dim=8,
            num_attention_heads=4, caption_projection_dim=32, joint_attention_dim=_T5_DIM,
            pooled_projection_dim=2 * _CLIP_DIM, pos_embed_max_size=32,
        )
        clip_cfg = tiny_clip_config(hidden_size=_CLIP_DIM, intermediate_size=37, num_attention_heads=2,
                                    projection_dim=_CLIP_DIM, hidden_act="gelu")
        torch.manual_seed(0)
        text_encoder = CLIPTextModelWithProjection(clip_cfg)
        torch.manual_seed(1)
        text_encoder_2 = CLIPTextModelWithProjection(clip_cfg)
        torch.manual_seed(0)
        text_encoder_3 = T5EncoderModel(tiny_t5_config(d_model=_T5_DIM))
        torch.manual_seed(0)
        vae = AutoencoderKL(
            block_out_channels=(8, 16), in_channels=3, out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
            layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=32,
            use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5305,
        )
        return StableDiffusion3Pipeline(
            transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0),
            vae=vae, text_encoder=text_encoder, tokenizer=clip_tokenizer(), text_encoder_2=text_encoder_2,
            tokenizer_2=clip_tokenizer(), text_encoder_3=text_encoder_3, tokenizer_3=t5_tokenizer(),
        )

    def call_kwargs(self, spec, req):
        kwargs = super().call_kwargs(spec, req)  # prompt/negative_prompt reach all three encoders
        kwargs.update(extra_kwargs(req, "max_sequence_length"))
        return kwargs
