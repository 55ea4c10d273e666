"""FLUX.1 [dev] (FluxPipeline): MMDiT with CLIP-L (pooled) and T5-XXL (tokens); guidance-distilled.

``guidance_scale`` is fed to the transformer as an embedding (``guidance_embeds=True``); there is
no unconditional pass and no negative prompt (the pipeline's optional ``true_cfg_scale`` stays 1).
"""
from __future__ import annotations

import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
from transformers import CLIPTextModel, T5EncoderModel

from core.families import Family, Speed, register
from core.families.sd import tiny_clip_config
from core.families.sd3 import tiny_t5_config
from core.families.tokenizers import clip_tokenizer, t5_tokenizer

TINY_T5_MAX_LENGTH = 32  # the tiny T5 tokenizer's model_max_length: caps max_sequence_length (512 real)


def flux_scheduler() -> FlowMatchEulerDiscreteScheduler:
    """black-forest-labs/FLUX.1-dev scheduler_config.json (resolution-dependent shift)."""
    return FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096,
    )


@register
class FluxFamily(Family):
    name = "flux"
    text_encoders = ("text_encoder", "text_encoder_2")
    denoiser = "transformer"
    tiny_size = 32
    speed = Speed(
        compile_regions=(),  # the model's _repeated_blocks: FluxTransformerBlock, FluxSingleTransformerBlock
        compile_mode=None,
        fuse_qkv=("transformer", "vae"),
        channels_last=("vae",),
        sdpa="_native_cudnn",
        fp8=True,
        cache_threshold=0.08,  # diffusers' default is 0.05; higher skips more steps and costs more quality
        why={
            "compile": "compute-bound (eager MFU about 52 %): fused elementwise kernels matter, launches do not; "
                       "no CUDA graphs (57 blocks share one compiled graph, which CUDA graphs would re-record "
                       "per block)",
            "sdpa": "cuDNN attention is the fastest exact attention PyTorch has on Hopper (head dim 128, 4608 tokens)",
        },
    )

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True,
            axes_dims_rope=(4, 4, 8),
        )
        torch.manual_seed(0)
        text_encoder = CLIPTextModel(tiny_clip_config(hidden_size=32, projection_dim=32, hidden_act="gelu"))
        torch.manual_seed(0)
        text_encoder_2 = T5EncoderModel(tiny_t5_config(d_model=32))
        torch.manual_seed(0)
        vae = AutoencoderKL(
            block_out_channels=(8, 16), in_channels=3, out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
            layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=32,
            use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611,
        )
        return FluxPipeline(
            scheduler=flux_scheduler(), vae=vae, text_encoder=text_encoder, tokenizer=clip_tokenizer(),
            text_encoder_2=text_encoder_2, tokenizer_2=t5_tokenizer(model_max_length=TINY_T5_MAX_LENGTH),
            transformer=transformer, image_encoder=None, feature_extractor=None,
        )

    def call_kwargs(self, spec, req):
        kwargs = {
            "prompt": req.prompt,
            "num_inference_steps": req.steps,
            "guidance_scale": req.guidance,  # distilled guidance: an input embedding, one pass per step
            "width": req.width,
            "height": req.height,
            "num_images_per_prompt": req.num_images,
        }
        if "max_sequence_length" in req.extra:
            kwargs["max_sequence_length"] = int(req.extra["max_sequence_length"])
        return kwargs

    def run(self, pipe, spec, req, generator):
        kwargs = self.call_kwargs(spec, req)
        # The T5 prompt is padded to max_sequence_length; never beyond what the tokenizer holds
        # (512 for the real T5 tokenizer, a few tokens for the tiny twin's).
        limit = getattr(getattr(pipe, "tokenizer_2", None), "model_max_length", None)
        if limit and "max_sequence_length" in kwargs:
            kwargs["max_sequence_length"] = min(kwargs["max_sequence_length"], int(limit))
        return list(pipe(**kwargs, generator=generator, output_type="pil").images)
