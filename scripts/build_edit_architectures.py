"""Write the architecture specs of the open editing models (data/architectures/<key>/architecture.json).

    python scripts/build_edit_architectures.py

../shared/model-configs holds none of these models, so each component here is its published config.json
values, with where they come from: the model's own Hugging Face file where its architecture is another
model's already in data/architectures (Kontext [dev] is FLUX.1 [dev]'s architecture; Qwen-Image-Edit-2511 is
Qwen-Image's with `zero_cond_t`), diffusers' own conversion script or class defaults where that is what the
checkpoint was converted with (FLUX.2 [klein]), and the base model's published file otherwise (Qwen3-4B,
Stable Diffusion 1.5's U-Net and VAE). Confidence as in scripts/build_architectures.py: R (reconstructed from
the sources named) for every component, since none of the models' own files was read here; the numbers
were checked by instantiating each config on the meta device (parameter counts in the README).
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "architectures"
FORMAT = 1
HF = "https://huggingface.co"
CONFIDENCE = {"E": "exact HF file", "N": "near-exact third-party copy", "R": "reconstructed", "M": "missing"}


def _spec(key: str) -> dict:
    return json.loads((OUT / key / "architecture.json").read_text())


def _source(url: str, details: str, conf: str = "R") -> dict:
    return {"file": url, "confidence": conf, "confidence_meaning": CONFIDENCE[conf], "details": details}


def _component(library: str, cls: str, stage: str, config: dict, source: dict, *, note: str = "",
               method_stages: dict | None = None) -> dict:
    comp = {"library": library, "class": cls, "stage": stage, "source": source, "config": config, "available": True}
    if note:
        comp["note"] = note
    if method_stages:
        comp["method_stages"] = method_stages  # the VAE's encode of the source image is its own stage
    return comp


ENCODE = {"encode": "image_encode"}


def _reuse(base: str, slot: str, url: str, why: str, **overrides) -> dict:
    comp = copy.deepcopy(_spec(base)["components"][slot])
    comp["config"].update(overrides.pop("config", {}))
    comp["source"] = _source(url, f"{why} (values as data/architectures/{base}/architecture.json '{slot}')")
    comp.update(overrides)
    return comp


def flux_kontext() -> dict:
    repo = f"{HF}/black-forest-labs/FLUX.1-Kontext-dev/blob/main"
    why = "FLUX.1 Kontext [dev] keeps FLUX.1 [dev]'s architecture; its file has the same values"
    flux = _spec("flux-dev")
    return {
        "hf_id": "black-forest-labs/FLUX.1-Kontext-dev", "pipeline_class": "FluxKontextPipeline", "dtype": "bfloat16",
        "components": {
            "text_encoder": _reuse("flux-dev", "text_encoder", f"{repo}/text_encoder/config.json", why),
            "text_encoder_2": _reuse("flux-dev", "text_encoder_2", f"{repo}/text_encoder_2/config.json", why),
            "transformer": _reuse("flux-dev", "transformer", f"{repo}/transformer/config.json", why),
            "vae": _reuse("flux-dev", "vae", f"{repo}/vae/config.json", why, method_stages=ENCODE),
        },
        "tokenizers": copy.deepcopy(flux["tokenizers"]),
        "schedulers": {"scheduler": {**copy.deepcopy(flux["schedulers"]["scheduler"]),
                                     "source": _source(f"{repo}/scheduler/scheduler_config.json", why)}},
    }


def qwen_image_edit() -> dict:
    repo = f"{HF}/Qwen/Qwen-Image-Edit-2511/blob/main"
    why = "Qwen-Image-Edit-2511 keeps Qwen-Image's text encoder (Qwen2.5-VL-7B-Instruct), VAE and scheduler"
    qwen = _spec("qwen-image")
    vocab = qwen["components"]["text_encoder"]["config"]["vocab_size"]
    tok = {"kind": "qwen2_vl", "model_max_length": 32768, "vocab_size": vocab, "for": "text_encoder",
           "source": "Qwen2 tokenizer with Qwen2-VL's vision tokens at their ids (the text encoder's config names "
                     "them); the pipeline encodes through the processor"}
    return {
        "hf_id": "Qwen/Qwen-Image-Edit-2511", "pipeline_class": "QwenImageEditPlusPipeline", "dtype": "bfloat16",
        "components": {
            "text_encoder": _reuse("qwen-image", "text_encoder", f"{repo}/text_encoder/config.json", why),
            "transformer": _reuse(
                "qwen-image", "transformer", f"{repo}/transformer/config.json",
                "Qwen-Image's MMDiT (60 blocks, 3072 wide); 2511 adds zero_cond_t (the source latents at timestep 0)",
                config={"zero_cond_t": True}),
            "vae": _reuse("qwen-image", "vae", f"{repo}/vae/config.json", why, method_stages=ENCODE),
        },
        "tokenizers": {
            "tokenizer": tok,
            "processor": {**tok, "kind": "qwen2_vl_processor",
                          "source": "Qwen2VLProcessor: Qwen2.5-VL-7B-Instruct preprocessor_config.json (14-pixel "
                                    "patches, 2x2 merge, 2 frames, 3136..12845056 pixels) and the tokenizer above"},
        },
        "schedulers": {"scheduler": {**copy.deepcopy(qwen["schedulers"]["scheduler"]),
                                     "source": _source(f"{repo}/scheduler/scheduler_config.json", why)}},
    }


# Stable Diffusion 1.5's U-Net with 8 input channels (4 noise + 4 source latents): InstructPix2Pix's unet/config.json.
PIX2PIX_UNET = {
    "_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": False, "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 8, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}


def instruct_pix2pix() -> dict:
    repo = f"{HF}/timbrooks/instruct-pix2pix/blob/main"
    flux = _spec("flux-dev")
    return {
        "hf_id": "timbrooks/instruct-pix2pix", "pipeline_class": "StableDiffusionInstructPix2PixPipeline",
        "dtype": "float16",
        "components": {
            "text_encoder": _reuse("flux-dev", "text_encoder", f"{repo}/text_encoder/config.json",
                                   "CLIP ViT-L/14's text encoder, Stable Diffusion 1.5's (the same values as FLUX.1's)"),
            "unet": _component("diffusers", "diffusers.UNet2DConditionModel", "denoise", PIX2PIX_UNET,
                               _source(f"{repo}/unet/config.json", "Stable Diffusion 1.5's U-Net "
                                       "(runwayml/stable-diffusion-v1-5 unet/config.json) with in_channels 8: the "
                                       "paper's architecture (Brooks et al. 2023, sec. 3.2)")),
            "vae": _reuse("sd21", "vae", f"{repo}/vae/config.json",
                          "Stable Diffusion's VAE (the same architecture in 1.5 and 2.1; sample_size 512 in 1.5)",
                          config={"sample_size": 512}, method_stages=ENCODE),
        },
        "tokenizers": {"tokenizer": copy.deepcopy(flux["tokenizers"]["tokenizer"])},
        "schedulers": {"scheduler": {
            "available": True, "class": "diffusers.EulerAncestralDiscreteScheduler",
            "config": {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                       "beta_schedule": "scaled_linear", "steps_offset": 1, "prediction_type": "epsilon"},
            "source": _source(f"{repo}/scheduler/scheduler_config.json",
                              "Stable Diffusion 1.5's noise schedule with the Euler ancestral sampler the model card "
                              "and the authors' edit_cli.py use"),
        }},
    }


# diffusers scripts/convert_flux2_to_diffusers.py, get_flux2_transformer_config("klein-4b")
KLEIN_TRANSFORMER = {
    "_class_name": "Flux2Transformer2DModel", "patch_size": 1, "in_channels": 128, "num_layers": 5,
    "num_single_layers": 20, "attention_head_dim": 128, "num_attention_heads": 24, "joint_attention_dim": 7680,
    "timestep_guidance_channels": 256, "mlp_ratio": 3.0, "axes_dims_rope": [32, 32, 32, 32], "rope_theta": 2000,
    "eps": 1e-06, "guidance_embeds": False,
}
# Qwen/Qwen3-4B config.json
QWEN3_4B = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 2560,
    "initializer_range": 0.02, "intermediate_size": 9728, "max_position_embeddings": 40960, "max_window_layers": 36,
    "model_type": "qwen3", "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None,
    "tie_word_embeddings": True, "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
}


def flux2_klein() -> dict:
    repo = f"{HF}/black-forest-labs/FLUX.2-klein-4B/blob/main"
    vae_config = _flux2_vae_defaults()
    flux = _spec("flux-dev")
    return {
        "hf_id": "black-forest-labs/FLUX.2-klein-4B", "pipeline_class": "Flux2KleinPipeline", "dtype": "bfloat16",
        "components": {
            "text_encoder": _component(
                "transformers", "transformers.Qwen3ForCausalLM", "text_encode", QWEN3_4B,
                _source(f"{repo}/text_encoder/config.json", "Qwen3-4B (Qwen/Qwen3-4B config.json): the pipeline reads "
                        "the hidden states of layers 9, 18 and 27 (3 x 2560 = the transformer's joint_attention_dim)")),
            "transformer": _component(
                "diffusers", "diffusers.Flux2Transformer2DModel", "denoise", KLEIN_TRANSFORMER,
                _source(f"{repo}/transformer/config.json", "diffusers' scripts/convert_flux2_to_diffusers.py, "
                        "get_flux2_transformer_config('klein-4b'), the config the checkpoint was converted with")),
            "vae": _component(
                "diffusers", "diffusers.AutoencoderKLFlux2", "decode", vae_config,
                _source(f"{repo}/vae/config.json", "AutoencoderKLFlux2's defaults, which diffusers' FLUX.2 conversion "
                        "script instantiates (AutoencoderKLFlux2()) for the FLUX.2 VAE"), method_stages=ENCODE),
        },
        "tokenizers": {"tokenizer": {"kind": "qwen3", "model_max_length": 40960, "vocab_size": 151936,
                                     "for": "text_encoder", "source": "Qwen3 tokenizer (chat template; the pipeline pads "
                                                                      "prompts to max_sequence_length 512)"}},
        "schedulers": {"scheduler": {**copy.deepcopy(flux["schedulers"]["scheduler"]),
                                     "source": _source(f"{repo}/scheduler/scheduler_config.json",
                                                       "FLUX.1 [dev]'s scheduler config, which the conversion script "
                                                       "gives FLUX.2 pipelines")}},
    }


def _flux2_vae_defaults() -> dict:
    import inspect

    from diffusers import AutoencoderKLFlux2

    params = inspect.signature(AutoencoderKLFlux2.__init__).parameters
    out = {"_class_name": "AutoencoderKLFlux2"}
    for name, p in params.items():
        if name == "self" or p.default is inspect.Parameter.empty:
            continue
        out[name] = list(p.default) if isinstance(p.default, tuple) else p.default
    return out


MODELS = {"flux-kontext-dev": flux_kontext, "qwen-image-edit": qwen_image_edit,
          "instruct-pix2pix": instruct_pix2pix, "flux2-klein-4b": flux2_klein}


def build() -> dict[str, dict]:
    out = {}
    for key, make in MODELS.items():
        spec = make()
        for slot, tok in spec["tokenizers"].items():
            tok.setdefault("for", "text_encoder")
        out[key] = {"format": FORMAT, "model": key, **spec, "available": True,
                    "sources": "Published config.json values; see each component's source (confidence R: "
                               "reconstructed from the files named, none read from the model's own repository here)."}
    return out


def main(argv=None) -> int:
    # scripts/build_architectures.py leaves these keys alone
    (OUT / "EDIT_MODELS.json").write_text(json.dumps(sorted(MODELS)) + "\n")
    for key, spec in build().items():
        path = OUT / key / "architecture.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec, indent=1, sort_keys=False) + "\n")
        print(f"{path.relative_to(ROOT)}: available")
    return 0


if __name__ == "__main__":
    sys.exit(main())
