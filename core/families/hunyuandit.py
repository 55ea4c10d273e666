"""HunyuanDiT v1.2 (HunyuanDiTPipeline): DiT with a BERT (CLIP-like, 77 tokens) and an mT5 (256 tokens)
text encoder, classic CFG with negative prompts.

Quirk: the pipeline's `use_resolution_binning` (on by default) silently snaps any size outside its ten
standard shapes to the nearest one and returns images at THAT size (it never resizes back). We turn it
off so the image has the requested size; pass ``extra={"use_resolution_binning": True}`` to get the
authors' snapping. Its rotary grid is computed with a hard-coded VAE factor of 8, so the tiny twin's VAE
also downsamples 8x.
"""
from __future__ import annotations

import torch
from diffusers import AutoencoderKL, DDPMScheduler, HunyuanDiT2DModel, HunyuanDiTPipeline
from transformers import BertConfig, BertModel, T5Config, T5EncoderModel

from core.families import Family, extra_kwargs, register
from core.families.tokenizers import bert_tokenizer, t5_tokenizer


def tiny_t5_config(**overrides) -> T5Config:
    cfg = dict(vocab_size=1000, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
               relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    cfg.update(overrides)
    return T5Config(**cfg)


@register
class HunyuanDiTFamily(Family):
    name = "hunyuandit"
    text_encoders = ("text_encoder", "text_encoder_2")
    denoiser = "transformer"
    tiny_size = 32
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = HunyuanDiT2DModel(
            sample_size=16, num_layers=2, patch_size=2, attention_head_dim=8, num_attention_heads=3,
            in_channels=4, cross_attention_dim=32, cross_attention_dim_t5=32, pooled_projection_dim=16,
            hidden_size=24, activation_fn="gelu-approximate", text_len=77, text_len_t5=256,
            use_style_cond_and_image_meta_size=False,  # as v1.2
        )
        # 4 blocks: the 8x VAE factor the pipeline's rotary grid assumes.
        vae = AutoencoderKL(
            block_out_channels=[8, 8, 16, 16], in_channels=3, out_channels=3,
            down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
            latent_channels=4, norm_num_groups=4, layers_per_block=1, sample_size=32,
        )
        text_encoder = BertModel(BertConfig(
            vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=512, pad_token_id=0))
        text_encoder_2 = T5EncoderModel(tiny_t5_config())
        scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.03, beta_schedule="scaled_linear",
                                  clip_sample=False, steps_offset=1, variance_type="fixed_small",
                                  prediction_type="v_prediction")  # as the real config
        return HunyuanDiTPipeline(
            transformer=transformer.eval(), vae=vae.eval(), scheduler=scheduler,
            text_encoder=text_encoder.eval(), tokenizer=bert_tokenizer(model_max_length=77),
            text_encoder_2=text_encoder_2.eval(), tokenizer_2=t5_tokenizer(model_max_length=256),
            safety_checker=None, feature_extractor=None, requires_safety_checker=False,
        )

    def load_pretrained(self, spec, **kw):
        pipe = super().load_pretrained(spec, **kw)
        if getattr(pipe, "safety_checker", None) is not None:
            pipe.safety_checker = None
        return pipe

    def call_kwargs(self, spec, req):
        kwargs = super().call_kwargs(spec, req)
        kwargs["use_resolution_binning"] = bool(req.extra.get("use_resolution_binning", False))
        kwargs.update(extra_kwargs(req, "guidance_rescale"))
        return kwargs
