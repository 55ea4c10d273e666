"""FLUX.2 [klein] 4B (Flux2KleinPipeline): one model that both generates and edits, with up to four source
images; a FLUX.2 MMDiT (5 double-stream + 20 single-stream blocks, 3072 wide) over the FLUX.2 VAE's
128-channel patchified latents, prompted through Qwen3-4B (hidden states of layers 9, 18 and 27 stacked).

Why this one as the fourth open editor: it is the newest editing model diffusers ships from the lab whose
earlier model (Kontext) is already here, it is the distilled 4-step model that Black Forest Labs offers for
interactive use, under Apache-2.0 (Kontext [dev] and FLUX.2 [dev] are non-commercial), and it generates too:
the same weights on both tasks, and the cheapest point of the quality-against-cost frontier that
Qwen-Image-Edit (20B, 40 steps with CFG) and Kontext (12B, 28 steps) span.

Quirks (diffusers 0.42's pipeline; black-forest-labs/FLUX.2-klein-4B model card; docs.bfl.ai):
  - Step-distilled (``is_distilled`` in model_index.json): 4 steps at ``guidance_scale`` 1.0 (the card's
    call); the pipeline never runs a CFG pass for a distilled checkpoint, and there is no negative prompt.
  - Sources: each must be at least 64 pixels a side; one above 1024x1024 pixels is scaled down to that
    area, then cropped to multiples of 16. Their latent tokens join the noise tokens (4096 more per
    1024x1024 source). Up to 4 reference images (docs.bfl.ai, "Reference Images per Model").
  - Without a size, the output takes the (first) source's size after that cap (`edit_size`).
  - The Qwen3 prompt is padded to ``max_sequence_length`` (512): capped at what the tokenizer holds, so the
    tiny twin's stays short.
"""
from __future__ import annotations

import torch
from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline, Flux2Transformer2DModel
from transformers import Qwen3Config, Qwen3ForCausalLM

from core.families import EditFamily, register
from core.families.tokenizers import qwen3_tokenizer

TINY_MAX_LENGTH = 32  # the tiny tokenizer's model_max_length: caps max_sequence_length (512 real)

# FLUX.1's flow-matching scheduler config, which diffusers' FLUX.2 conversion script gives the pipeline; the
# pipeline computes its own shift (compute_empirical_mu) from the image sequence and the step count.
SCHEDULER_CONFIG = dict(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True, base_shift=0.5,
                        max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096)


@register
class Flux2KleinFamily(EditFamily):
    name = "flux2_klein"
    text_encoders = ("text_encoder",)
    denoiser = "transformer"
    tiny_size = 64  # the pipeline refuses sources under 64 pixels a side
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = Flux2Transformer2DModel(
            patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=48, timestep_guidance_channels=32, mlp_ratio=3.0,
            axes_dims_rope=(4, 4, 4, 4), rope_theta=2000, guidance_embeds=False,
        )
        torch.manual_seed(0)
        vae = AutoencoderKLFlux2(
            block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, latent_channels=4, norm_num_groups=4,
            sample_size=64,
        )
        tokenizer = qwen3_tokenizer(vocab_size=1000, model_max_length=TINY_MAX_LENGTH)
        torch.manual_seed(0)
        # 28 layers: the pipeline stacks the hidden states of layers 9, 18 and 27 (3 x 16 = joint_attention_dim)
        text_encoder = Qwen3ForCausalLM(Qwen3Config(
            hidden_size=16, intermediate_size=16, num_hidden_layers=28, num_attention_heads=2,
            num_key_value_heads=2, head_dim=8, vocab_size=1000, max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        )).eval()
        return Flux2KleinPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG), vae=vae.eval(), text_encoder=text_encoder,
            tokenizer=tokenizer, transformer=transformer.eval(), is_distilled=True,
        )

    def edit_size(self, spec, source_size):
        """The source's size, scaled down to the spec's area when above it, floored to multiples of 16."""
        width, height = source_size
        area = spec.width * spec.height
        if width * height > area:
            scale = (area / (width * height)) ** 0.5
            width, height = int(width * scale), int(height * scale)
        m = spec.size_multiple
        return max(m, width // m * m), max(m, height // m * m)

    def call_kwargs(self, spec, req, images=None):
        kwargs = {
            "prompt": req.prompt,
            "guidance_scale": req.guidance,  # unused by a distilled checkpoint (no CFG pass); recorded
            "num_inference_steps": req.steps,
            "width": req.width,
            "height": req.height,
            "num_images_per_prompt": req.num_images,
        }
        if images:
            kwargs["image"] = list(images)
        if "max_sequence_length" in req.extra:
            kwargs["max_sequence_length"] = int(req.extra["max_sequence_length"])
        return kwargs

    def run(self, pipe, spec, req, generator, images=None):
        kwargs = self.call_kwargs(spec, req, images=images)
        limit = getattr(getattr(pipe, "tokenizer", None), "model_max_length", None)
        if limit and "max_sequence_length" in kwargs:
            kwargs["max_sequence_length"] = min(kwargs["max_sequence_length"], int(limit))
        return list(pipe(**kwargs, generator=generator, output_type="pil").images)
