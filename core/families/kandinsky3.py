"""Kandinsky 3 (Kandinsky3Pipeline): U-Net with a Flan-UL2 (T5) encoder and a MoVQ decoder, classic CFG.

Quirks: the real weights load with variant "fp16" (in the spec). The pipeline sizes latents as
ceil(size / 64) * 8, with the 8 hard-coded, so the tiny twin's MoVQ also upsamples 8x and sizes are
multiples of 64. Its decoder is `movq`, not `vae`. Without a negative prompt the unconditional branch uses
zero embeddings (not an empty prompt).
"""
from __future__ import annotations

import torch
from diffusers import DDPMScheduler, Kandinsky3Pipeline, Kandinsky3UNet, VQModel
from transformers import T5Config, T5EncoderModel

from core.families import Family, register
from core.families.tokenizers import t5_tokenizer


@register
class Kandinsky3Family(Family):
    name = "kandinsky3"
    text_encoders = ("text_encoder",)
    denoiser = "unet"
    decoder = "movq"
    tiny_size = 64
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        unet = Kandinsky3UNet(
            in_channels=4, time_embedding_dim=4, groups=2, attention_head_dim=4, layers_per_block=3,
            block_out_channels=(32, 64), cross_attention_dim=4, encoder_hid_dim=32,
        )
        # Same block layout as the real MoVQ (3 plain + 1 attention block: 8x). SpatialNorm hard-codes 32
        # GroupNorm groups, so channels stay at 32.
        movq = VQModel(
            block_out_channels=[32, 32, 32, 32], in_channels=3, out_channels=3, latent_channels=4,
            down_block_types=["DownEncoderBlock2D"] * 3 + ["AttnDownEncoderBlock2D"],
            up_block_types=["AttnUpDecoderBlock2D"] + ["UpDecoderBlock2D"] * 3,
            layers_per_block=1, norm_num_groups=8, norm_type="spatial", num_vq_embeddings=12, vq_embed_dim=4,
            sample_size=32,
        )
        text_encoder = T5EncoderModel(T5Config(
            vocab_size=1000, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        ))
        scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                  beta_schedule="squaredcos_cap_v2", clip_sample=True, thresholding=False)
        return Kandinsky3Pipeline(unet=unet.eval(), scheduler=scheduler, movq=movq.eval(),
                                  text_encoder=text_encoder.eval(), tokenizer=t5_tokenizer(model_max_length=128))
