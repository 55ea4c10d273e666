"""PixArt-α and PixArt-Σ (PixArtAlphaPipeline, PixArtSigmaPipeline): DiT + T5 encoder, classic CFG.

Both pipelines snap the requested size to the nearest trained aspect-ratio bin and resize the decoded image
back ("resolution binning"). A requested size that is itself a bin is unchanged by it, so binning keeps its
default (on) there; any other size is generated as asked (binning off), not resampled from a bin.
Captions are cleaned (the pipelines' default) only where bs4 and ftfy are installed: see can_clean_captions.

PixArt-alpha/PixArt-Sigma-XL-2-512-MS holds only `transformer/` (no model_index.json): its T5, VAE, tokenizer
and scheduler come from the components repo the PixArt authors name (`components_hf_id` in the spec's extra
overrides it).
"""
from __future__ import annotations

from pathlib import Path

import torch
from diffusers import DPMSolverMultistepScheduler, PixArtTransformer2DModel
from diffusers.image_processor import PixArtImageProcessor
from transformers import T5Config, T5EncoderModel

from core.families import Family, HubRepo, diffusers_class, dtype_kwargs, register
from core.families.sd import tiny_vae
from core.families.tokenizers import t5_tokenizer


def tiny_t5_config(**overrides) -> T5Config:
    """A 2-layer T5 encoder, d_model 32 (pad 0, eos 1: t5_tokenizer's layout)."""
    cfg = dict(vocab_size=1000, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
               relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=1,
               decoder_start_token_id=0, dropout_rate=0.0)
    cfg.update(overrides)
    return T5Config(**cfg)


def tiny_vae_8x(**overrides):
    """A 4-level AutoencoderKL: 8x downsampling like the real SD/SDXL/FLUX VAEs, 8-16 channels."""
    cfg = dict(block_out_channels=[8, 8, 16, 16], down_block_types=["DownEncoderBlock2D"] * 4,
               up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=1)
    cfg.update(overrides)
    return tiny_vae(**cfg)


# Hub repos that hold only a transformer/ folder → the repo with the rest of the pipeline.
COMPONENTS_REPO = {"PixArt-alpha/PixArt-Sigma-XL-2-512-MS": "PixArt-alpha/pixart_sigma_sdxlvae_T5_diffusers"}


def _bin_tables() -> dict[str, dict[int, dict]]:
    """Pipeline class → {trained image size: aspect-ratio bins}, as each pipeline picks them."""
    from diffusers.pipelines.pixart_alpha.pipeline_pixart_alpha import (
        ASPECT_RATIO_256_BIN, ASPECT_RATIO_512_BIN, ASPECT_RATIO_1024_BIN)
    from diffusers.pipelines.pixart_alpha.pipeline_pixart_sigma import ASPECT_RATIO_2048_BIN

    alpha = {256: ASPECT_RATIO_256_BIN, 512: ASPECT_RATIO_512_BIN, 1024: ASPECT_RATIO_1024_BIN}
    return {"PixArtAlphaPipeline": alpha, "PixArtSigmaPipeline": {**alpha, 2048: ASPECT_RATIO_2048_BIN}}


def keeps_binning(bins_by_size: dict[int, dict], trained_size: int | None, height: int, width: int) -> bool:
    """True when the pipeline's resolution binning is available and leaves (height, width) unchanged."""
    bins = bins_by_size.get(trained_size) if trained_size else None
    if bins is None:
        return False
    h, w = PixArtImageProcessor.classify_height_width_bin(height, width, ratios=bins)
    return (h, w) == (height, width)


def can_clean_captions() -> bool:
    """PixArt and Lumina-Next clean captions by default (HTML, URLs, ...) only where both bs4 and ftfy import;
    otherwise they log a warning and encode the raw prompt. Passing the effective value keeps the log quiet and
    the recorded kwargs true to what ran."""
    from diffusers.utils import is_bs4_available, is_ftfy_available

    return is_bs4_available() and is_ftfy_available()


def spec_trained_size(spec) -> int | None:
    return spec.width if spec.width == spec.height else None


def pipe_trained_size(pipe) -> int:
    return pipe.transformer.config.sample_size * pipe.vae_scale_factor


@register
class PixArtFamily(Family):
    name = "pixart"
    tiny_size = 32
    tiny_steps = 2

    def hub_repos(self, spec):
        components = spec.extra.get("components_hf_id") or COMPONENTS_REPO.get(spec.hf_id)
        own = super().hub_repos(spec)
        if not components:
            return own
        return [HubRepo(spec.hf_id, "transformer", spec.gated, "transformer/config.json"),
                HubRepo(str(components), "text encoder, VAE, scheduler (a pipeline repo)")]

    def load_pretrained(self, spec, *, source, torch_dtype, token, device_map):
        components = spec.extra.get("components_hf_id") or COMPONENTS_REPO.get(spec.hf_id)
        if not components or (Path(source) / "model_index.json").is_file():
            return super().load_pretrained(spec, source=source, torch_dtype=torch_dtype, token=token,
                                           device_map=device_map)
        transformer = PixArtTransformer2DModel.from_pretrained(source, subfolder="transformer", token=token,
                                                               **dtype_kwargs(torch_dtype))
        kwargs = {"transformer": transformer, **dtype_kwargs(torch_dtype), "token": token}
        if device_map:
            kwargs["device_map"] = device_map
        return diffusers_class(spec.pipeline_class).from_pretrained(components, **kwargs)

    def build_tiny(self, spec):
        torch.manual_seed(0)
        latent = self.tiny_size // 8
        transformer = PixArtTransformer2DModel(
            sample_size=latent, num_layers=2, patch_size=2, attention_head_dim=8, num_attention_heads=3,
            caption_channels=32, in_channels=4, cross_attention_dim=24, out_channels=8, attention_bias=True,
            activation_fn="gelu-approximate", num_embeds_ada_norm=1000, norm_type="ada_norm_single",
            norm_elementwise_affine=False, norm_eps=1e-6,
        )
        torch.manual_seed(0)
        vae = tiny_vae_8x(latent_channels=4, sample_size=self.tiny_size)
        torch.manual_seed(0)
        text_encoder = T5EncoderModel(tiny_t5_config())
        cls = diffusers_class(spec.pipeline_class)
        return cls(tokenizer=t5_tokenizer(), text_encoder=text_encoder.eval(), vae=vae.eval(),
                   transformer=transformer.eval(), scheduler=DPMSolverMultistepScheduler())

    def call_kwargs(self, spec, req):
        kwargs = super().call_kwargs(spec, req)
        kwargs["clean_caption"] = can_clean_captions()
        kwargs["use_resolution_binning"] = keeps_binning(
            _bin_tables()[spec.pipeline_class], spec_trained_size(spec), req.height, req.width)
        return kwargs

    def run(self, pipe, spec, req, generator):
        kwargs = self.call_kwargs(spec, req)
        # The pipeline picks bins from the loaded transformer; a pipe of another size (a tiny twin) must not bin.
        if kwargs["use_resolution_binning"]:
            kwargs["use_resolution_binning"] = keeps_binning(
                _bin_tables()[type(pipe).__name__], pipe_trained_size(pipe), req.height, req.width)
        return list(pipe(**kwargs, generator=generator, output_type="pil").images)
