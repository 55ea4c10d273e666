"""InstructPix2Pix (StableDiffusionInstructPix2PixPipeline): Stable Diffusion 1.5 fine-tuned to follow edit
instructions, the source's VAE latents concatenated to the noise as 4 extra U-Net input channels (8 in all).
The classic baseline of instruction editing (Brooks, Holynski and Efros, CVPR 2023).

Quirks (diffusers 0.42's pipeline; timbrooks/instruct-pix2pix model card; the authors' edit_cli.py):
  - Two guidance scales: text ``guidance_scale`` 7.5 (our guidance) and ``image_guidance_scale`` 1.5 (the
    spec's extra), the authors' edit_cli.py defaults; the card's snippet (10 steps, image guidance 1) is a
    quick demo. With both > 1 every step runs the U-Net on a batch of three (text+image, image only,
    neither): three times a plain pass, counted from the actual call.
  - 100 steps with Euler ancestral, as edit_cli.py and the card (which swaps EulerAncestralDiscreteScheduler
    in from the repo's scheduler config; `load_pretrained` does the same).
  - No size argument: the output has the source's size. edit_cli.py scales the source so its long side is
    512 pixels, multiples of 64 (`edit_size`); the source is resized to the request's size (edit_images).
  - The NSFW checker is dropped on load, as for Stable Diffusion (research use).
"""
from __future__ import annotations

import math

import torch
from diffusers import (EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline,
                       UNet2DConditionModel)
from transformers import CLIPTextModel

from core.families import EditFamily, extra_kwargs, register
from core.families.sd import tiny_clip_config, tiny_vae
from core.families.tokenizers import clip_tokenizer

# Stable Diffusion 1.5's noise schedule (timbrooks/instruct-pix2pix scheduler_config.json values).
SCHEDULER_CONFIG = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                        steps_offset=1)


@register
class InstructPix2PixFamily(EditFamily):
    name = "instruct_pix2pix"
    denoiser = "unet"
    tiny_size = 32
    tiny_steps = 2

    def build_tiny(self, spec):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            block_out_channels=(8, 16), layers_per_block=1, sample_size=32, in_channels=8, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=4,
            attention_head_dim=(2, 4),
        )
        return StableDiffusionInstructPix2PixPipeline(
            unet=unet, scheduler=EulerAncestralDiscreteScheduler(**SCHEDULER_CONFIG), vae=tiny_vae(),
            text_encoder=CLIPTextModel(tiny_clip_config()), tokenizer=clip_tokenizer(), safety_checker=None,
            feature_extractor=None, requires_safety_checker=False,
        )

    def load_pretrained(self, spec, **kw):
        pipe = super().load_pretrained(spec, **kw)
        pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)  # as the model card
        if getattr(pipe, "safety_checker", None) is not None:
            pipe.safety_checker = None
        return pipe

    def edit_size(self, spec, source_size):
        """edit_cli.py: the long side at the model's resolution (512), both sides multiples of 64 (of 8 for the
        tiny twin's 32 pixels)."""
        width, height = source_size
        resolution = max(spec.width, spec.height)
        multiple = max(spec.size_multiple, min(64, resolution // 8))
        factor = resolution / max(width, height)
        factor = math.ceil(min(width, height) * factor / multiple) * multiple / min(width, height)
        return (max(multiple, int(width * factor // multiple) * multiple),
                max(multiple, int(height * factor // multiple) * multiple))

    def call_kwargs(self, spec, req, images=None):
        kwargs = {
            "prompt": req.prompt,
            "image": (images or [None])[0],  # at the output size: the pipeline keeps the source's size
            "num_inference_steps": req.steps,
            "guidance_scale": req.guidance,
            "num_images_per_prompt": req.num_images,
        }
        if spec.supports_negative and req.negative_prompt:
            kwargs["negative_prompt"] = req.negative_prompt
        kwargs.update(extra_kwargs(req, "image_guidance_scale"))
        return kwargs
