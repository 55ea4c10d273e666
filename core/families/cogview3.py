"""CogView3-Plus 3B (CogView3PlusPipeline): MM-DiT-style transformer, T5-XXL encoder, 16-channel VAE, classic CFG.

Quirk: without a negative prompt, the pipeline's unconditional branch uses all-zero text embeddings (not the
encoding of ""), so "no negative prompt" and negative_prompt="" are different images.
"""
from __future__ import annotations

import torch
from diffusers import CogVideoXDDIMScheduler, CogView3PlusPipeline, CogView3PlusTransformer2DModel
from transformers import T5EncoderModel

from core.families import Family, register
from core.families.pixart import tiny_t5_config, tiny_vae_8x
from core.families.tokenizers import t5_tokenizer


def cogview3_scheduler() -> CogVideoXDDIMScheduler:
    """The released CogView3-Plus scheduler: DDIM, v-prediction, zero-terminal-SNR, trailing spacing."""
    return CogVideoXDDIMScheduler(
        snr_shift_scale=4.0, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        num_train_timesteps=1000, prediction_type="v_prediction", rescale_betas_zero_snr=True,
        set_alpha_to_one=True, timestep_spacing="trailing",
    )


@register
class CogView3Family(Family):
    name = "cogview3"
    tiny_size = 32
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = CogView3PlusTransformer2DModel(
            patch_size=2, in_channels=16, num_layers=1, attention_head_dim=4, num_attention_heads=2, out_channels=16,
            text_embed_dim=32, time_embed_dim=8, condition_dim=2,
            # Position table as large as the real model's, so every size it accepts works.
            pos_embed_max_size=128, sample_size=self.tiny_size // 8,
        )
        torch.manual_seed(0)
        vae = tiny_vae_8x(latent_channels=16, sample_size=self.tiny_size, use_quant_conv=False,
                          use_post_quant_conv=False, mid_block_add_attention=False, scaling_factor=1.0)
        torch.manual_seed(0)
        text_encoder = T5EncoderModel(tiny_t5_config())
        return CogView3PlusPipeline(tokenizer=t5_tokenizer(), text_encoder=text_encoder.eval(), vae=vae.eval(),
                                    transformer=transformer.eval(), scheduler=cogview3_scheduler())
