"""Lumina-Next SFT (LuminaPipeline): Next-DiT with 2D RoPE, Gemma-2B encoder (second-to-last hidden layer).

Quirks: the pipeline fixes the VAE scale factor at 8 and applies CFG to the first 3 latent channels only
(as the reference code does); `scaling_watershed` and `proportional_attn` keep the pipeline's defaults.
Captions are cleaned (the default) only where bs4 and ftfy are installed, as with PixArt.
"""
from __future__ import annotations

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, LuminaNextDiT2DModel, LuminaPipeline
from transformers import GemmaConfig, GemmaModel

from core.families import Family, register
from core.families.pixart import can_clean_captions, tiny_vae_8x
from core.families.tokenizers import gemma_tokenizer


def tiny_gemma_config(**overrides) -> GemmaConfig:
    """Gemma with hidden size 16, 2 layers (the pipeline reads hidden_states[-2]); pad 0, eos 1, bos 2."""
    cfg = dict(vocab_size=1000, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
               num_key_value_heads=1, head_dim=8, max_position_embeddings=8192, pad_token_id=0, eos_token_id=1,
               bos_token_id=2)
    cfg.update(overrides)
    return GemmaConfig(**cfg)


@register
class LuminaFamily(Family):
    name = "lumina"
    tiny_size = 32
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = LuminaNextDiT2DModel(
            sample_size=self.tiny_size // 8, patch_size=2, in_channels=4, hidden_size=24, num_layers=2,
            num_attention_heads=3, num_kv_heads=1, multiple_of=16, ffn_dim_multiplier=None, norm_eps=1e-5,
            learn_sigma=True, qk_norm=True, cross_attention_dim=16, scaling_factor=1.0,
        )
        torch.manual_seed(0)
        vae = tiny_vae_8x(latent_channels=4, sample_size=self.tiny_size, scaling_factor=0.13025)
        torch.manual_seed(0)
        text_encoder = GemmaModel(tiny_gemma_config())
        return LuminaPipeline(transformer=transformer.eval(), scheduler=FlowMatchEulerDiscreteScheduler(),
                              vae=vae.eval(), text_encoder=text_encoder.eval(), tokenizer=gemma_tokenizer())

    def call_kwargs(self, spec, req):
        kwargs = super().call_kwargs(spec, req)
        kwargs["clean_caption"] = can_clean_captions()
        return kwargs
