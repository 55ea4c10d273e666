"""Sana and SANA 1.5 (SanaPipeline): linear-attention DiT on a 32x DC-AE latent, Gemma 2 encoder, classic CFG.

Quirks the engine keeps: the pipeline prepends its "complex human instruction" (a fixed prompt-enhancing
preamble) to the prompt before Gemma encodes it (left at the pipeline's default), and it bins the size to its
trained aspect ratios like PixArt (kept only where binning leaves the requested size unchanged).
"""
from __future__ import annotations

import torch
from diffusers import AutoencoderDC, DPMSolverMultistepScheduler, SanaPipeline, SanaTransformer2DModel
from transformers import Gemma2Config, Gemma2Model

from core.families import Family, Speed, register
from core.families.pixart import keeps_binning, pipe_trained_size, spec_trained_size
from core.families.tokenizers import gemma_tokenizer


def _bin_table() -> dict[int, dict]:
    """Trained image size → aspect-ratio bins, as SanaPipeline picks them from the transformer's sample_size."""
    from diffusers.pipelines.pixart_alpha.pipeline_pixart_alpha import ASPECT_RATIO_512_BIN, ASPECT_RATIO_1024_BIN
    from diffusers.pipelines.pixart_alpha.pipeline_pixart_sigma import ASPECT_RATIO_2048_BIN
    from diffusers.pipelines.sana.pipeline_sana import ASPECT_RATIO_4096_BIN

    return {512: ASPECT_RATIO_512_BIN, 1024: ASPECT_RATIO_1024_BIN, 2048: ASPECT_RATIO_2048_BIN,
            4096: ASPECT_RATIO_4096_BIN}


def tiny_gemma2_config(**overrides) -> Gemma2Config:
    """Gemma 2 with hidden size 16 (pad 0, eos 1, bos 2: gemma_tokenizer's layout)."""
    cfg = dict(vocab_size=1000, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
               num_key_value_heads=1, head_dim=8, max_position_embeddings=8192, pad_token_id=0, eos_token_id=1,
               bos_token_id=2, attn_implementation="eager")
    cfg.update(overrides)
    return Gemma2Config(**cfg)


def tiny_dc_ae(latent_channels: int = 32) -> AutoencoderDC:
    """A 6-level DC-AE (32x, like Sana's), 8-32 channels, one layer per block (the deepest level needs at
    least `latent_channels` channels: the decoder's input shortcut repeats the latent up to it)."""
    blocks = ("ResBlock",) * 3 + ("EfficientViTBlock",) * 3
    channels = (8, 8, 8, 16, 16, latent_channels)
    return AutoencoderDC(
        in_channels=3, latent_channels=latent_channels, attention_head_dim=4,
        encoder_block_types=blocks, decoder_block_types=blocks,
        encoder_block_out_channels=channels, decoder_block_out_channels=channels,
        encoder_layers_per_block=(1,) * 6, decoder_layers_per_block=(1,) * 6,
        encoder_qkv_multiscales=((), (), (), (5,), (5,), (5,)), decoder_qkv_multiscales=((), (), (), (5,), (5,), (5,)),
        upsample_block_type="interpolate", downsample_block_type="Conv", decoder_norm_types="rms_norm",
        decoder_act_fns="silu", scaling_factor=0.41407,
    )


def sana_scheduler() -> DPMSolverMultistepScheduler:
    """The released Sana scheduler: DPM-Solver++ on flow sigmas (flow_shift 3)."""
    return DPMSolverMultistepScheduler(
        beta_start=0.0001, beta_end=0.02, beta_schedule="linear", algorithm_type="dpmsolver++", solver_order=2,
        solver_type="midpoint", prediction_type="flow_prediction", flow_shift=3.0, use_flow_sigmas=True,
        final_sigmas_type="zero", lower_order_final=True,
    )


@register
class SanaFamily(Family):
    name = "sana"
    tiny_size = 64  # 2x2 latent on the 32x DC-AE
    tiny_steps = 2
    speed = Speed(
        compile_regions=("SanaTransformerBlock",),  # SanaTransformer2DModel declares no _repeated_blocks
        compile_mode="reduce-overhead",
        channels_last=("vae",),
        fp8=True,
        why={
            "compile": "launch-bound (eager MFU 12-15 %): CUDA graphs (reduce-overhead), one recording per block "
                       "(the 20 blocks share one compiled graph, each with its own weights). Each transformer call "
                       "marks a CUDA-graph step and clones its output (core.recipes.CudaGraphSteps): the multistep "
                       "scheduler keeps earlier outputs. Default mode measured 1.48x; the DC-AE decoder, a large "
                       "share of the compiled call, is compiled too",
            "fuse_qkv": "the linear-attention processors read to_q, to_k and to_v separately: a fused projection "
                        "would only take memory",
            "sdpa": "self-attention is linear attention (no SDPA); the short cross-attention keeps PyTorch's pick",
            "cache": "SanaTransformerBlock is not registered for diffusers' first-block cache",
        },
    )

    def build_tiny(self, spec):
        torch.manual_seed(0)
        transformer = SanaTransformer2DModel(
            patch_size=1, in_channels=32, out_channels=32, num_layers=1, num_attention_heads=2, attention_head_dim=4,
            num_cross_attention_heads=2, cross_attention_head_dim=4, cross_attention_dim=8, caption_channels=16,
            sample_size=self.tiny_size // 32,
            # SANA 1.5 normalises q/k across heads; Sana 1.0 does not.
            qk_norm="rms_norm_across_heads" if "1.5" in (spec.hf_id or "") else None,
        )
        torch.manual_seed(0)
        vae = tiny_dc_ae(latent_channels=32)
        torch.manual_seed(0)
        text_encoder = Gemma2Model(tiny_gemma2_config())
        return SanaPipeline(tokenizer=gemma_tokenizer(), text_encoder=text_encoder.eval(), vae=vae.eval(),
                            transformer=transformer.eval(), scheduler=sana_scheduler())

    def call_kwargs(self, spec, req):
        kwargs = super().call_kwargs(spec, req)
        kwargs["use_resolution_binning"] = keeps_binning(_bin_table(), spec_trained_size(spec), req.height, req.width)
        return kwargs

    def run(self, pipe, spec, req, generator):
        kwargs = self.call_kwargs(spec, req)
        if kwargs["use_resolution_binning"]:  # bins come from the loaded transformer (a tiny twin has none)
            kwargs["use_resolution_binning"] = keeps_binning(
                _bin_table(), pipe_trained_size(pipe), req.height, req.width)
        return list(pipe(**kwargs, generator=generator, output_type="pil").images)
