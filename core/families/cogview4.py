"""CogView4 6B (CogView4Pipeline): DiT with 2D RoPE, GLM-4 9B encoder (second-to-last hidden layer), classic CFG
with a separate unconditional pass (two transformer calls per step, not a doubled batch).

Quirks: prompts are not padded to a fixed length: the pipeline left-pads the GLM ids to a multiple of 16, so
the text sequence grows with the prompt. Without a negative prompt, "" is encoded for the unconditional pass.
"""
from __future__ import annotations

import torch
from diffusers import CogView4Pipeline, CogView4Transformer2DModel, FlowMatchEulerDiscreteScheduler
from transformers import GlmConfig, GlmModel

from core.families import Family, register
from core.families.pixart import tiny_vae_8x
from core.families.tokenizers import glm_tokenizer


def tiny_glm_config(**overrides) -> GlmConfig:
    """GLM with hidden size 32, 2 layers (the pipeline reads hidden_states[-2]); pad 0, eos 1 (glm_tokenizer)."""
    cfg = dict(vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, head_dim=8, attention_bias=True, max_position_embeddings=8192,
               pad_token_id=0, eos_token_id=1, bos_token_id=None)
    cfg.update(overrides)
    return GlmConfig(**cfg)


def cogview4_scheduler() -> FlowMatchEulerDiscreteScheduler:
    """The released CogView4 scheduler: flow matching, linear time shift from the image sequence length."""
    return FlowMatchEulerDiscreteScheduler(base_shift=0.25, max_shift=0.75, base_image_seq_len=256,
                                           use_dynamic_shifting=True, time_shift_type="linear")


@register
class CogView4Family(Family):
    name = "cogview4"
    tiny_size = 32
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = CogView4Transformer2DModel(
            patch_size=2, in_channels=16, out_channels=16, num_layers=2, attention_head_dim=4, num_attention_heads=4,
            text_embed_dim=32, time_embed_dim=8, condition_dim=4, sample_size=self.tiny_size // 8,
        )
        torch.manual_seed(0)
        vae = tiny_vae_8x(latent_channels=16, sample_size=self.tiny_size, use_quant_conv=False,
                          use_post_quant_conv=False, mid_block_add_attention=False, scaling_factor=1.0,
                          shift_factor=0.0)
        torch.manual_seed(0)
        text_encoder = GlmModel(tiny_glm_config())
        return CogView4Pipeline(tokenizer=glm_tokenizer(), text_encoder=text_encoder.eval(), vae=vae.eval(),
                                transformer=transformer.eval(), scheduler=cogview4_scheduler())
