"""HiDream-I1 Dev (HiDreamImagePipeline): sparse-MoE DiT with four text encoders, guidance-distilled.

Encoders: two CLIPs with projection (pooled only), T5-XXL and Llama-3.1-8B-Instruct (hidden states of
every layer, picked per block by ``llama_layers``). Dev runs at guidance 0.0: no CFG pass, no negative
prompt. The Llama is not in the HiDream repo: it is loaded from its own (gated) repo and handed over.

Quirks of diffusers' pipeline the engine relies on:
  - the requested size is rescaled to the default area ((128 x 8)^2 = 1024^2) keeping the aspect
    ratio, rounded down to multiples of 16: only requests of that area come back at the requested size;
  - HiDream-I1-Dev ships FlowMatchLCMScheduler, which re-noises at each step with noise drawn from
    the *global* torch RNG (the pipeline does not pass its generator to ``scheduler.step``), so
    `run` seeds the global RNG from the request seed to make a seed reproduce its image.
"""
from __future__ import annotations

from typing import Any

import torch
from diffusers import FlowMatchLCMScheduler, HiDreamImagePipeline, HiDreamImageTransformer2DModel
from transformers import CLIPTextModelWithProjection, LlamaConfig, LlamaForCausalLM, T5EncoderModel

from core.families import Family, HubRepo, diffusers_class, dtype_kwargs, register
from core.families.sd import tiny_clip_config, tiny_vae
from core.families.sd3 import tiny_t5_config
from core.families.tokenizers import clip_tokenizer, decoder_lm_tokenizer, t5_tokenizer

LLAMA_ID = "meta-llama/Llama-3.1-8B-Instruct"


def hidream_dev_scheduler() -> FlowMatchLCMScheduler:
    # Class and num_train_timesteps from the HiDream-I1-Dev repo; shift 6.0 is the original Dev inference
    # setting (unverified against the repo's scheduler_config.json).
    return FlowMatchLCMScheduler(num_train_timesteps=1000, shift=6.0)


@register
class HiDreamFamily(Family):
    name = "hidream"
    text_encoders = ("text_encoder", "text_encoder_2", "text_encoder_3", "text_encoder_4")
    denoiser = "transformer"
    tiny_size = 32
    # Its scheduler draws step noise from the global RNG for the whole batch: a batched prompt would
    # not give the image its seed gives alone.
    supports_batch = False

    def hub_repos(self, spec):
        llama = str(spec.extra.get("text_encoder_4_id", LLAMA_ID))
        return super().hub_repos(spec) + [HubRepo(llama, "text_encoder_4 and tokenizer_4", True, "config.json")]

    def load_pretrained(self, spec, *, source, torch_dtype, token, device_map):
        from transformers import AutoTokenizer

        llama_id = str(spec.extra.get("text_encoder_4_id", LLAMA_ID))
        tokenizer_4 = AutoTokenizer.from_pretrained(llama_id, token=token)
        # As in the pipeline's docstring; transformers 5 names the dtype argument `dtype`.
        llama_kwargs: dict[str, Any] = {"output_hidden_states": True, "output_attentions": True,
                                        "dtype": torch_dtype, "token": token}
        if device_map:
            llama_kwargs["device_map"] = device_map
        text_encoder_4 = LlamaForCausalLM.from_pretrained(llama_id, **llama_kwargs)
        kwargs: dict[str, Any] = {**dtype_kwargs(torch_dtype), "token": token,
                                  "text_encoder_4": text_encoder_4, "tokenizer_4": tokenizer_4}
        if spec.variant and source == spec.hf_id:
            kwargs["variant"] = spec.variant
        if device_map:
            kwargs["device_map"] = device_map
        return diffusers_class(spec.pipeline_class).from_pretrained(source, **kwargs)

    def build_tiny(self, spec):
        size = max(self.tiny_size, spec.size_multiple)
        torch.manual_seed(0)
        vae = tiny_vae(scaling_factor=0.3611, shift_factor=0.1159)  # 2 blocks: 8x -> 2x downsampling
        latent = size // 2
        torch.manual_seed(0)
        transformer = HiDreamImageTransformer2DModel(
            patch_size=2, in_channels=4, out_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=8,
            num_attention_heads=4, caption_channels=[32, 16], text_emb_dim=64, num_routed_experts=4,
            num_activated_experts=2, axes_dims_rope=(4, 2, 2), max_resolution=(latent, latent), llama_layers=(0, 1),
        ).eval()
        # HiDream's CLIPs read up to min(max_sequence_length, 218) tokens (128 by default): long-context CLIP.
        clip_cfg = tiny_clip_config(hidden_size=32, projection_dim=32, hidden_act="gelu",
                                    max_position_embeddings=248)
        torch.manual_seed(0)
        text_encoder = CLIPTextModelWithProjection(clip_cfg)
        torch.manual_seed(1)
        text_encoder_2 = CLIPTextModelWithProjection(clip_cfg)
        torch.manual_seed(0)
        text_encoder_3 = T5EncoderModel(tiny_t5_config(d_model=32))
        torch.manual_seed(0)
        text_encoder_4 = LlamaForCausalLM(LlamaConfig(
            vocab_size=1000, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=512, pad_token_id=0, eos_token_id=1, bos_token_id=2,
        )).eval()
        pipe = HiDreamImagePipeline(
            scheduler=hidream_dev_scheduler(), vae=vae,
            text_encoder=text_encoder, tokenizer=clip_tokenizer(model_max_length=248),
            text_encoder_2=text_encoder_2, tokenizer_2=clip_tokenizer(model_max_length=248),
            text_encoder_3=text_encoder_3, tokenizer_3=t5_tokenizer(),
            text_encoder_4=text_encoder_4, tokenizer_4=decoder_lm_tokenizer(model_max_length=128),
            transformer=transformer,
        )
        # The pipeline rescales every request to the area (default_sample_size x vae scale)^2; the real
        # model's 128 latents = 1024 px. Scale it to the tiny twin's default size.
        pipe.default_sample_size = latent
        return pipe

    def call_kwargs(self, spec, req):
        kwargs = {
            "prompt": req.prompt,
            "num_inference_steps": req.steps,
            "guidance_scale": req.guidance,  # 0.0 for Dev: CFG only runs above 1
            "width": req.width,
            "height": req.height,
            "num_images_per_prompt": req.num_images,
        }
        if "max_sequence_length" in req.extra:
            kwargs["max_sequence_length"] = int(req.extra["max_sequence_length"])
        if spec.supports_negative and req.negative_prompt:
            kwargs["negative_prompt"] = req.negative_prompt
        return kwargs

    def run(self, pipe, spec, req, generator):
        torch.manual_seed(int(req.seed))  # the scheduler's per-step noise comes from the global RNG
        return super().run(pipe, spec, req, generator)
