"""Qwen-Image (QwenImagePipeline): MMDiT with a Qwen2.5-VL text encoder, true CFG.

Quirks:
  - CFG is "true CFG": `true_cfg_scale` (our guidance) runs a second, unbatched negative pass per step
    (twice the transformer calls) only when a negative prompt is given; without one the pipeline skips CFG
    with a warning. With guidance > 1 we always pass one: the request's, else the spec's
    ``extra["default_negative_prompt"]`` (" "), as the authors' example does. `guidance_scale`
    is only for guidance-distilled checkpoints (Qwen-Image is not: `guidance_embeds=False`) and is left out,
    or the pipeline warns that it is ignored.
  - The prompt goes through a chat template; the pipeline drops the first 34 tokens of it
    (`prompt_template_encode_start_idx`), which assumes Qwen's tokenizer; our stand-in
    (tokenizers.qwen2_tokenizer) counts the template prefix the same way.
  - `max_sequence_length` defaults to 512 (at most 1024); the spec's extra may set it.
"""
from __future__ import annotations

import torch
from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImagePipeline,
                       QwenImageTransformer2DModel)
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from core.families import Family, extra_kwargs, register
from core.families.tokenizers import qwen2_tokenizer

# The real scheduler config (Qwen/Qwen-Image scheduler/scheduler_config.json): dynamic, exponential shift.
SCHEDULER_CONFIG = dict(base_image_seq_len=256, base_shift=0.5, invert_sigmas=False, max_image_seq_len=8192,
                        max_shift=0.9, num_train_timesteps=1000, shift=1.0, shift_terminal=0.02,
                        stochastic_sampling=False, time_shift_type="exponential", use_beta_sigmas=False,
                        use_dynamic_shifting=True, use_exponential_sigmas=False, use_karras_sigmas=False)


def true_cfg_kwargs(req) -> dict:
    """The call of a Qwen-Image pipeline (generation and edit alike): true CFG, and a negative prompt only where CFG
    runs (" " by default)."""
    kwargs = {
        "prompt": req.prompt,
        "true_cfg_scale": req.guidance,
        "num_inference_steps": req.steps,
        "width": req.width,
        "height": req.height,
        "num_images_per_prompt": req.num_images,
    }
    if req.guidance > 1:  # at <= 1 the pipeline ignores (and warns about) a negative prompt
        kwargs["negative_prompt"] = req.negative_prompt or req.extra.get("default_negative_prompt", " ")
    kwargs.update(extra_kwargs(req, "max_sequence_length"))
    return kwargs


@register
class QwenImageFamily(Family):
    name = "qwen_image"
    text_encoders = ("text_encoder",)
    denoiser = "transformer"
    tiny_size = 32
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = QwenImageTransformer2DModel(
            patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16,
            num_attention_heads=3, joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4),
        )
        z_dim = 4
        vae = AutoencoderKLQwenImage(
            base_dim=z_dim * 6, z_dim=z_dim, dim_mult=[1, 2, 4], num_res_blocks=1,
            temperal_downsample=[False, True], latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim,
        )
        tokenizer = qwen2_tokenizer(vocab_size=1000)
        config = Qwen2_5_VLConfig(
            text_config={
                "hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                "num_key_value_heads": 2, "vocab_size": 1000, "rope_theta": 1000000.0,
                # Qwen: bos <|endoftext|>, eos <|im_end|> (ids of our stand-in tokenizer)
                "bos_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
                "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            },
            vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                           "out_hidden_size": 16},
            hidden_size=16, vocab_size=1000,
        )
        text_encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
        return QwenImagePipeline(
            transformer=transformer.eval(), vae=vae.eval(), text_encoder=text_encoder, tokenizer=tokenizer,
            scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        )

    def call_kwargs(self, spec, req):
        return true_cfg_kwargs(req)
