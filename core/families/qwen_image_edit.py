"""Qwen-Image-Edit-2511 (QwenImageEditPlusPipeline): Qwen-Image's MMDiT conditioned on the source image(s)
twice, through the Qwen2.5-VL encoder (the image seen as vision tokens) and as VAE latents beside the noise.

Quirks (diffusers 0.42's pipeline and the Qwen/Qwen-Image-Edit-2511 model card):
  - 2511 is the newest edit checkpoint the "Plus" pipeline serves: its transformer config sets
    ``zero_cond_t`` (the source latents get timestep 0), which QwenImageTransformer2DModel reads.
  - Up to three source images ("Picture 1: ... Picture 2: ..."); each is resized inside the pipeline to a
    384x384-pixel area for the VL encoder and to a 1024x1024-pixel area for the VAE, whatever the output
    size, so the source goes in unresized (core.families.edit_images keeps it) and its tokens count in
    the denoiser's sequence: 4096 output + 4096 source tokens at 1024x1024.
  - True CFG as Qwen-Image: ``true_cfg_scale`` 4.0 with the negative prompt " " (the card's example); the
    negative pass re-encodes the source through the VL encoder too. ``guidance_scale`` 1.0 in the card is
    for guidance-distilled checkpoints and is ignored by this one: left out.
  - 40 steps in the card's example. The output size defaults to the last source's aspect ratio at a
    1024x1024 area, multiples of 32 (the pipeline's ``calculate_dimensions``).
  - The tiny twin scales those two areas down with it (56x56 and its own output area, set on the module
    for the call: the pipeline reads them as module constants); full-size pipelines keep the real ones.
  - Without torchvision, transformers cannot load the repo's Qwen2VLProcessor (its video processor needs
    torchvision, the pipeline never uses it): `load_pretrained` then builds the processor from the repo's
    tokenizer and image processor (PIL) and hands it to ``from_pretrained``.
  - One prompt per call (the pipeline refuses batch_size > 1): no batching.
  - The VL template drops its first 64 tokens (``prompt_template_encode_start_idx``); the stand-in
    tokenizer (tokenizers.qwen2_vl_tokenizer) counts that prefix as 64 too.
"""
from __future__ import annotations

import contextlib
import importlib.util
from unittest import mock

from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageEditPlusPipeline,
                       QwenImageTransformer2DModel)
import torch
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from core.families import EditFamily, diffusers_class, dtype_kwargs, register
from core.families.qwen_image import SCHEDULER_CONFIG, true_cfg_kwargs
from core.families.tokenizers import qwen2_vl_processor, qwen2_vl_processor_from_pretrained
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as plus_module

TINY_AREAS = "_igcs_tiny_source_areas"  # attribute of a tiny twin: (VL area, VAE area) of each source


@register
class QwenImageEditFamily(EditFamily):
    name = "qwen_image_edit"
    text_encoders = ("text_encoder",)
    denoiser = "transformer"
    tiny_size = 32
    tiny_steps = 2
    supports_batch = False
    resize_inputs = False  # the pipeline resizes each source to its own areas (VL 384², VAE 1024²)
    edit_multiple = 32

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = QwenImageTransformer2DModel(
            patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16,
            num_attention_heads=3, joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4),
            zero_cond_t=True,
        )
        z_dim = 4
        vae = AutoencoderKLQwenImage(
            base_dim=z_dim * 6, z_dim=z_dim, dim_mult=[1, 2, 4], num_res_blocks=1,
            temperal_downsample=[False, True], latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim,
        )
        processor = qwen2_vl_processor(vocab_size=1000)
        tokenizer = processor.tokenizer
        ids = dict(zip(("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"),
                       tokenizer.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>", "<|vision_start|>",
                                                        "<|vision_end|>"])))
        config = Qwen2_5_VLConfig(
            text_config={
                "hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                "num_key_value_heads": 2, "vocab_size": 1000, "rope_theta": 1000000.0,
                "bos_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
                "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            },
            # the real vision tower's patching (14-pixel patches, 2x2 merge, 2 frames): the processor's numbers
            vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                           "out_hidden_size": 16, "patch_size": 14, "spatial_merge_size": 2,
                           "temporal_patch_size": 2, "fullatt_block_indexes": [1], "window_size": 112},
            hidden_size=16, vocab_size=1000, **ids,
        )
        text_encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
        pipe = QwenImageEditPlusPipeline(
            transformer=transformer.eval(), vae=vae.eval(), text_encoder=text_encoder, tokenizer=tokenizer,
            processor=processor, scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        )
        size = max(self.tiny_size, spec.width if spec is not None else 0)
        object.__setattr__(pipe, TINY_AREAS, (56 * 56, size * size))  # not a pipeline component or config
        return pipe

    def load_pretrained(self, spec, *, source, torch_dtype, token, device_map):
        kwargs = {**dtype_kwargs(torch_dtype), "token": token}
        if device_map:
            kwargs["device_map"] = device_map
        if importlib.util.find_spec("torchvision") is None:
            kwargs["processor"] = qwen2_vl_processor_from_pretrained(source, token=token)
        return diffusers_class(spec.pipeline_class).from_pretrained(source, **kwargs)

    def call_kwargs(self, spec, req, images=None):
        return {"image": list(images or []), **true_cfg_kwargs(req)}

    def run(self, pipe, spec, req, generator, images=None):
        kwargs = self.call_kwargs(spec, req, images=images)
        areas = getattr(pipe, TINY_AREAS, None)
        with _source_areas(areas) if areas else contextlib.nullcontext():
            return list(pipe(**kwargs, generator=generator, output_type="pil").images)


@contextlib.contextmanager
def _source_areas(areas: tuple[int, int]):
    """The pipeline's source areas (module constants) set to a tiny twin's for one call."""
    condition, vae = areas
    with mock.patch.object(plus_module, "CONDITION_IMAGE_SIZE", condition), \
            mock.patch.object(plus_module, "VAE_IMAGE_SIZE", vae):
        yield
