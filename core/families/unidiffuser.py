"""UniDiffuser v1 (UniDiffuserPipeline), used in text-to-image mode: U-ViT over [VAE latent, CLIP image
embedding, CLIP text embedding], one CLIP text encoder, a GPT-2 caption decoder (idle in text-to-image).

Quirks:
  - The pipeline infers its mode from its inputs unless set; `run` sets text-to-image mode each call.
  - CFG is UniDiffuser's own: the unconditional branch feeds random text latents at the maximum text
    timestep; a negative prompt is encoded but never used, so the spec takes none.
  - The U-ViT has fixed, learned position embeddings for `sample_size` latents: it only generates
    `unet.config.sample_size * vae_scale_factor` square images (512x512 for v1); any other size fails
    inside the model, so `run` refuses it with a RequestError first.
  - The pipeline lives in `diffusers.pipelines.deprecated` (last supported 0.33.1) and logs a deprecation
    warning when built.
"""
from __future__ import annotations

import torch
from diffusers import DPMSolverMultistepScheduler, UniDiffuserModel, UniDiffuserPipeline, UniDiffuserTextDecoder
from transformers import (CLIPImageProcessor, CLIPTextModel, CLIPVisionConfig,
                          CLIPVisionModelWithProjection)
from transformers.utils import logging as hf_logging

from core.errors import RequestError
from core.families import Family, register
from core.families.sd import tiny_clip_config, tiny_vae
from core.families.tokenizers import clip_tokenizer, gpt2_tokenizer


def native_size(pipe) -> int:
    return int(pipe.unet_resolution * pipe.vae_scale_factor)


@register
class UniDiffuserFamily(Family):
    name = "unidiffuser"
    text_encoders = ("text_encoder",)
    denoiser = "unet"
    tiny_size = 32
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        text_len, text_hidden, prefix_hidden, clip_img_dim = 77, 32, 8, 32
        # 8x VAE as the real one; 32 px -> 4x4 latents (the U-ViT's sample_size).
        vae = tiny_vae(block_out_channels=[8, 8, 16, 16], down_block_types=["DownEncoderBlock2D"] * 4,
                       up_block_types=["UpDecoderBlock2D"] * 4)
        sample_size = self.tiny_size // 2 ** (len(vae.config.block_out_channels) - 1)
        text_encoder = CLIPTextModel(tiny_clip_config(max_position_embeddings=text_len))
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=32, intermediate_size=37, projection_dim=clip_img_dim, num_hidden_layers=2,
            num_attention_heads=4, image_size=32, patch_size=4))
        text_tokenizer = gpt2_tokenizer()
        # GPT2Config pins bos/eos 50256 (outside a 1000-word vocabulary; transformers warns once): build
        # quietly, then point them at our tokenizer's <|endoftext|>.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            text_decoder = UniDiffuserTextDecoder(
                prefix_length=text_len, prefix_inner_dim=text_hidden, prefix_hidden_dim=prefix_hidden,
                vocab_size=len(text_tokenizer), n_positions=1024, n_embd=32, n_layer=2, n_head=4, n_inner=37,
                activation_function="gelu")
        finally:
            hf_logging.set_verbosity(verbosity)
        for cfg in (text_decoder.transformer.config, text_decoder.transformer.generation_config):
            cfg.bos_token_id = cfg.eos_token_id = text_tokenizer.eos_token_id
        # v1 layout (data-type token, post-LayerNorm "unidiffuser" blocks), tiny widths.
        unet = UniDiffuserModel(
            text_dim=prefix_hidden, clip_img_dim=clip_img_dim, num_text_tokens=text_len, num_attention_heads=2,
            attention_head_dim=8, in_channels=4, out_channels=4, num_layers=3, dropout=0.0, norm_num_groups=4,
            attention_bias=False, sample_size=sample_size, patch_size=2, activation_fn="gelu",
            num_embeds_ada_norm=1000, norm_type="layer_norm", block_type="unidiffuser", pre_layer_norm=False,
            use_timestep_embedding=False, norm_elementwise_affine=True, use_patch_pos_embed=False,
            ff_final_dropout=True, use_data_type_embedding=True)
        scheduler = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                                solver_order=3)
        pipe = UniDiffuserPipeline(
            vae=vae.eval(), text_encoder=text_encoder.eval(), image_encoder=image_encoder.eval(),
            clip_image_processor=CLIPImageProcessor(crop_size=32, size=32),
            clip_tokenizer=clip_tokenizer(model_max_length=text_len), text_decoder=text_decoder.eval(),
            text_tokenizer=text_tokenizer, unet=unet.eval(), scheduler=scheduler,
        )
        pipe.set_text_to_image_mode()
        return pipe

    def call_kwargs(self, spec, req):
        return {
            "prompt": req.prompt,
            "num_inference_steps": req.steps,
            "guidance_scale": req.guidance,
            "width": req.width,
            "height": req.height,
            "num_images_per_prompt": req.num_images,
        }

    def run(self, pipe, spec, req, generator):
        size = native_size(pipe)
        for field in ("width", "height"):
            if getattr(req, field) != size:
                raise RequestError(field, getattr(req, field),
                                   f"{spec.key} generates only {size}x{size} (its U-ViT has fixed position "
                                   f"embeddings for that size)")
        pipe.set_text_to_image_mode()
        kwargs = self.call_kwargs(spec, req)
        return list(pipe(**kwargs, generator=generator, output_type="pil").images)
