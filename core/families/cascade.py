"""Stable Cascade (StableCascadePriorPipeline + StableCascadeDecoderPipeline): two stages, both resident.

Stage C (prior) turns the prompt into 16-channel image embeddings at ~1/42.67 of the image size, with
classic CFG; stage B (decoder) expands them 10.67x into Paella VQ latents (guidance 0.0 by default:
one pass per step) that the VQGAN decodes 4x to pixels. Both stages have their own CLIP text encoder.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import (
    DDPMWuerstchenScheduler,
    StableCascadeDecoderPipeline,
    StableCascadePriorPipeline,
    StableCascadeUNet,
)
from diffusers.pipelines.deprecated.wuerstchen.modeling_paella_vq_model import PaellaVQModel
from transformers import CLIPTextModelWithProjection

from core.families import Family, HubRepo, dtype_kwargs, register
from core.families.sd import tiny_clip_config
from core.families.tokenizers import clip_tokenizer

_CLIP_DIM = 32


@dataclass
class CascadePipelines:
    prior: StableCascadePriorPipeline
    decoder: StableCascadeDecoderPipeline

    def to(self, device: Any) -> "CascadePipelines":
        self.prior.to(device)
        self.decoder.to(device)
        return self

    @property
    def components(self) -> dict[str, torch.nn.Module]:
        out: dict[str, torch.nn.Module] = {}
        for stage, pipe in (("prior", self.prior), ("decoder", self.decoder)):
            for name, module in pipe.components.items():
                if isinstance(module, torch.nn.Module):
                    out[f"{stage}.{name}"] = module
        return out

    def set_progress_bar_config(self, **kwargs) -> None:
        self.prior.set_progress_bar_config(**kwargs)
        self.decoder.set_progress_bar_config(**kwargs)


def _load_vqgan(source: str, *, variant: str | None, **kwargs) -> PaellaVQModel:
    """The decoder's VQGAN (stage A), loaded on its own.

    stabilityai/stable-cascade's model_index.json declares ``"vqgan": ["wuerstchen", "PaellaVQModel"]``.
    diffusers 0.42 keeps that class in ``diffusers.pipelines.deprecated.wuerstchen`` and exports it
    neither from ``diffusers`` nor as ``pipelines.wuerstchen``, so ``from_pretrained`` cannot resolve
    the entry (and rejects a passed ``vqgan=`` for the same reason): the pipeline is loaded with
    ``vqgan=None`` and this model registered afterwards.
    """
    try:
        return PaellaVQModel.from_pretrained(source, subfolder="vqgan", variant=variant, **kwargs)
    except (OSError, ValueError):
        if variant is None:
            raise
        return PaellaVQModel.from_pretrained(source, subfolder="vqgan", **kwargs)


def cascade_scheduler() -> DDPMWuerstchenScheduler:
    return DDPMWuerstchenScheduler(s=0.008, scaler=1.0)  # both stages' scheduler_config.json


@register
class CascadeFamily(Family):
    name = "cascade"
    text_encoders = ("prior.text_encoder", "decoder.text_encoder")
    denoiser = "prior.prior"
    decoder = "decoder.vqgan"
    tiny_size = 128  # the real size multiple; 128 px -> 3x3 prior latents -> 32x32 decoder latents
    tiny_steps = 2

    # ---- loading -------------------------------------------------------------------------
    def hub_repos(self, spec):
        return [HubRepo(spec.hf_id, "StableCascadePriorPipeline (stage C)", spec.gated),
                HubRepo(str(spec.extra["decoder_hf_id"]), "StableCascadeDecoderPipeline (stages B and A)", spec.gated)]

    def load_pretrained(self, spec, *, source, torch_dtype, token, device_map):
        decoder_source = str(spec.extra["decoder_hf_id"])
        kwargs: dict[str, Any] = {**dtype_kwargs(torch_dtype), "token": token}
        if device_map:
            kwargs["device_map"] = device_map
        # Both hub repos ship a "bf16" variant; their default files are fp32 (the prior alone ~14 GB).
        variant = spec.variant or "bf16"
        prior = StableCascadePriorPipeline.from_pretrained(
            source, **kwargs, **({"variant": variant} if source == spec.hf_id else {}))
        decoder = StableCascadeDecoderPipeline.from_pretrained(decoder_source, vqgan=None, variant=variant, **kwargs)
        vqgan = _load_vqgan(decoder_source, variant=variant, token=token, **dtype_kwargs(torch_dtype))
        if device_map:
            vqgan.to(decoder.device)
        decoder.register_modules(vqgan=vqgan)
        return CascadePipelines(prior=prior, decoder=decoder)

    def build_tiny(self, spec):
        clip_cfg = tiny_clip_config(hidden_size=_CLIP_DIM, projection_dim=_CLIP_DIM)
        torch.manual_seed(0)
        prior_unet = StableCascadeUNet(
            in_channels=16, out_channels=16, conditioning_dim=32, block_out_channels=(32, 32),
            num_attention_heads=(2, 2), down_num_layers_per_block=(1, 1), up_num_layers_per_block=(1, 1),
            clip_image_in_channels=32, clip_text_in_channels=_CLIP_DIM, clip_text_pooled_in_channels=_CLIP_DIM,
            switch_level=(False,), dropout=(0.0, 0.0),
        ).eval()
        torch.manual_seed(0)
        prior_text_encoder = CLIPTextModelWithProjection(clip_cfg).eval()
        prior = StableCascadePriorPipeline(
            tokenizer=clip_tokenizer(), text_encoder=prior_text_encoder, prior=prior_unet,
            scheduler=cascade_scheduler(), resolution_multiple=42.67, feature_extractor=None, image_encoder=None,
        )
        torch.manual_seed(0)
        decoder_unet = StableCascadeUNet(
            in_channels=4, out_channels=4, conditioning_dim=32, block_out_channels=(8, 16, 32, 32),
            num_attention_heads=(0, 0, 2, 2), down_num_layers_per_block=(1, 1, 1, 1),
            up_num_layers_per_block=(1, 1, 1, 1), down_blocks_repeat_mappers=(1, 1, 1, 1),
            up_blocks_repeat_mappers=(2, 2, 1, 1),
            block_types_per_layer=(
                ("SDCascadeResBlock", "SDCascadeTimestepBlock"),
                ("SDCascadeResBlock", "SDCascadeTimestepBlock"),
                ("SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"),
                ("SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"),
            ),
            clip_text_pooled_in_channels=_CLIP_DIM, effnet_in_channels=16, pixel_mapper_in_channels=3,
            patch_size=2, timestep_conditioning_type=("sca",), switch_level=None, dropout=(0.0, 0.0, 0.0, 0.0),
        ).eval()
        torch.manual_seed(1)
        decoder_text_encoder = CLIPTextModelWithProjection(clip_cfg).eval()
        torch.manual_seed(0)
        vqgan = PaellaVQModel(bottleneck_blocks=1, embed_dim=16, num_vq_embeddings=16, levels=2,
                              latent_channels=4, up_down_scale_factor=2, scale_factor=0.3764).eval()
        decoder = StableCascadeDecoderPipeline(
            decoder=decoder_unet, tokenizer=clip_tokenizer(), text_encoder=decoder_text_encoder,
            scheduler=cascade_scheduler(), vqgan=vqgan, latent_dim_scale=10.67,
        )
        return CascadePipelines(prior=prior, decoder=decoder)

    # ---- calling -------------------------------------------------------------------------
    def call_kwargs(self, spec, req) -> dict[str, Any]:
        """Kwargs of the prior stage (the decoder's come from `decoder_kwargs`)."""
        kwargs: dict[str, Any] = {
            "prompt": req.prompt,
            "height": req.height,
            "width": req.width,
            "num_inference_steps": req.steps,
            "guidance_scale": req.guidance,
            "num_images_per_prompt": req.num_images,
        }
        if spec.supports_negative and req.negative_prompt:
            kwargs["negative_prompt"] = req.negative_prompt
        return kwargs

    def decoder_kwargs(self, spec, req) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "prompt": req.prompt,
            "num_inference_steps": int(req.extra.get("decoder_steps", 10)),
            "guidance_scale": float(req.extra.get("decoder_guidance_scale", 0.0)),
        }
        if spec.supports_negative and req.negative_prompt:
            kwargs["negative_prompt"] = req.negative_prompt
        return kwargs

    def run(self, pipe: CascadePipelines, spec, req, generator) -> list:
        prior_out = pipe.prior(**self.call_kwargs(spec, req), generator=generator, output_type="pt")
        embeddings = prior_out.image_embeddings
        # The decoder repeats its prompt embeddings per image embedding: one image per embedding.
        images = pipe.decoder(image_embeddings=embeddings.to(pipe.decoder.dtype), **self.decoder_kwargs(spec, req),
                              num_images_per_prompt=1, generator=generator, output_type="pil").images
        return list(images)

    # ---- introspection -------------------------------------------------------------------
    def components(self, pipe: CascadePipelines) -> dict[str, torch.nn.Module]:
        return pipe.components

    def stages(self) -> dict[str, tuple[tuple[str, ...], str, str]]:
        """Two denoising stages: the prior (stage C) and the decoder (stage B); denoise_s is their sum."""
        return {
            "text_encode": (self.text_encoders, "forward", "sum"),
            "prior": (("prior.prior",), "forward", "span"),
            "decoder": (("decoder.decoder",), "forward", "span"),
            "decode": ((self.decoder,), "decode", "sum"),
        }

    def to(self, pipe: CascadePipelines, device: str) -> CascadePipelines:
        return pipe.to(device)
