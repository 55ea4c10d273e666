"""Lumina-Image 2.0 (Lumina2Pipeline): unified Next-DiT, Gemma 2 encoder, 16-channel FLUX VAE.

Quirks: CFG is truncated (`cfg_trunc_ratio`: CFG runs only while the step fraction is at most the ratio, the
rest are conditional passes only) and renormalised (`cfg_normalization`); both come from the spec's `extra`
(request `extra` overrides). The pipeline prepends a system prompt and " <Prompt Start> " to every prompt
(`system_prompt` in `extra` replaces the system prompt). Sizes must be multiples of 16 (VAE 8 x patch 2).
"""
from __future__ import annotations

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, Lumina2Pipeline, Lumina2Transformer2DModel
from transformers import Gemma2Model

from core.families import Family, extra_kwargs, register
from core.families.pixart import tiny_vae_8x
from core.families.sana import tiny_gemma2_config
from core.families.tokenizers import gemma_tokenizer


@register
class Lumina2Family(Family):
    name = "lumina2"
    tiny_size = 32
    tiny_steps = 4  # with the default cfg_trunc_ratio 0.25, step 1 of 4 runs CFG and the rest do not

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = Lumina2Transformer2DModel(
            sample_size=self.tiny_size // 8, patch_size=2, in_channels=16, hidden_size=16, num_layers=2,
            num_refiner_layers=1, num_attention_heads=2, num_kv_heads=1, multiple_of=16, ffn_dim_multiplier=None,
            norm_eps=1e-5, scaling_factor=1.0, axes_dim_rope=(4, 2, 2), cap_feat_dim=16,
        )
        torch.manual_seed(0)
        # FLUX VAE layout: 16 latent channels, no quant convs, shift + scale.
        vae = tiny_vae_8x(latent_channels=16, sample_size=self.tiny_size, use_quant_conv=False,
                          use_post_quant_conv=False, scaling_factor=0.3611, shift_factor=0.1159)
        torch.manual_seed(0)
        # Two layers: the pipeline reads hidden_states[-2].
        text_encoder = Gemma2Model(tiny_gemma2_config(num_hidden_layers=2))
        return Lumina2Pipeline(transformer=transformer.eval(), scheduler=FlowMatchEulerDiscreteScheduler(),
                               vae=vae.eval(), text_encoder=text_encoder.eval(), tokenizer=gemma_tokenizer())

    def call_kwargs(self, spec, req):
        kwargs = super().call_kwargs(spec, req)
        kwargs.update(extra_kwargs(req, "cfg_trunc_ratio", "cfg_normalization", "system_prompt"))
        return kwargs
