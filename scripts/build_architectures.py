"""Write the project's architecture specs (data/architectures/<model key>/architecture.json) from the
collected full-size configs in ../shared/model-configs (a developer's checkout only; the specs it writes
are self-contained and committed, so CI and users never need ../shared).

    python scripts/build_architectures.py [--shared ../shared/model-configs]

Numbers are copied, never invented: each component cites the file it came from and that file's
confidence (E exact HF file, N near-exact copy, R reconstructed, M missing) from the folder's INDEX.md /
SOURCES.md. A component whose config is missing is written as unavailable with the reason.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "architectures"
FORMAT = 1

T = "transformers"
D = "diffusers"

# Tokenizer layouts (core/families/tokenizers.py builders) and their lengths. Vocabulary sizes come from the
# text encoder's config; the maximum lengths are the tokenizers' `model_max_length` that the pipelines read.
CLIP_TOK = {"kind": "clip", "model_max_length": 77,
            "source": "CLIP tokenizer model_max_length 77 (= the text config's max_position_embeddings)"}


def t5_tok(max_len: int = 512) -> dict:
    return {"kind": "t5", "model_max_length": max_len,
            "source": f"T5 tokenizer model_max_length {max_len}; pipelines pad to their max_sequence_length"}


def lm_tok(kind: str, max_len: int, note: str) -> dict:
    return {"kind": kind, "model_max_length": max_len, "source": note}


# model key -> (folder in ../shared/model-configs, hf id, components, tokenizers, schedulers)
# component: key -> (file, library, class path, stage, confidence, note)
MODELS: dict[str, dict] = {
    "sd21": dict(folder="sd21", components={
        "text_encoder": ("text_encoder.json", T, "transformers.CLIPTextModel", "text_encode", "E", ""),
        "unet": ("unet.json", D, "diffusers.UNet2DConditionModel", "denoise", "E", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "E", ""),
    }, tokenizers={"tokenizer": ("text_encoder", CLIP_TOK)}, schedulers={"scheduler": ("scheduler.json", "E")}),
    "sdxl": dict(folder="sdxl", components={
        "text_encoder": ("text_encoder.json", T, "transformers.CLIPTextModel", "text_encode", "E", ""),
        "text_encoder_2": ("text_encoder_2.json", T, "transformers.CLIPTextModelWithProjection", "text_encode", "E", ""),
        "unet": ("unet.json", D, "diffusers.UNet2DConditionModel", "denoise", "E", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "E", ""),
    }, tokenizers={"tokenizer": ("text_encoder", CLIP_TOK), "tokenizer_2": ("text_encoder_2", CLIP_TOK)},
        schedulers={"scheduler": ("scheduler.json", "E")}),
    "cogview3": dict(folder="cogview3plus-3b", components={
        "text_encoder": ("text_encoder.json", T, "transformers.T5EncoderModel", "text_encode", "R",
                         "T5-v1.1-XXL values (same architecture as the repo's)"),
        "transformer": ("transformer.json", D, "diffusers.CogView3PlusTransformer2DModel", "denoise", "E", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "R", "from diffusers' conversion script"),
    }, tokenizers={"tokenizer": ("text_encoder", t5_tok(226))}, schedulers={"scheduler": ("scheduler.json", "R")}),
    "pixart-alpha": dict(folder="pixart-alpha-512", components={
        "text_encoder": ("text_encoder.json", T, "transformers.T5EncoderModel", "text_encode", "R",
                         "T5-v1.1-XXL encoder (PixArt-Sigma's copy)"),
        "transformer": ("transformer.json", D, "diffusers.PixArtTransformer2DModel", "denoise", "N",
                        "the repo names the class Transformer2DModel; diffusers maps it to PixArtTransformer2DModel"),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "N", ""),
    }, tokenizers={"tokenizer": ("text_encoder", t5_tok(120))}, schedulers={"scheduler": (None, "M")}),
    "pixart-sigma": dict(folder="pixart-sigma-512-ms", components={
        "text_encoder": ("text_encoder.json", T, "transformers.T5EncoderModel", "text_encode", "N", ""),
        "transformer": ("transformer.json", D, "diffusers.PixArtTransformer2DModel", "denoise", "E",
                        "the repo names the class Transformer2DModel; diffusers maps it to PixArtTransformer2DModel"),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "N", ""),
    }, tokenizers={"tokenizer": ("text_encoder", t5_tok(300))}, schedulers={"scheduler": (None, "M")}),
    "lumina-next": dict(folder="lumina-next-sft", components={
        "text_encoder": ("text_encoder.json", T, "transformers.GemmaModel", "text_encode", "R", "gemma-2b values"),
        "transformer": ("transformer.json", D, "diffusers.LuminaNextDiT2DModel", "denoise", "R",
                        "from diffusers' conversion script"),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "R", "SDXL VAE values"),
    }, tokenizers={"tokenizer": ("text_encoder", lm_tok("gemma", 8192, "Gemma tokenizer; length = max_position_embeddings"))},
        schedulers={"scheduler": ("scheduler.json", "R")}),
    "hunyuandit": dict(folder="hunyuandit-v1.2", components={
        "text_encoder": ("text_encoder.json", T, "transformers.BertModel", "text_encode", "E",
                         "v1.0 file; v1.2 keeps the same BERT"),
        "text_encoder_2": ("text_encoder_2.json", T, "transformers.T5EncoderModel", "text_encode", "E",
                           "mT5-XL encoder, v1.0 file; v1.2 keeps it"),
        "transformer": ("transformer.json", D, "diffusers.HunyuanDiT2DModel", "denoise", "N", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "E", "v1.0 file; v1.2 keeps the same VAE"),
    }, tokenizers={"tokenizer": ("text_encoder", lm_tok("bert", 77, "HunyuanDiT's BERT tokenizer reads 77 tokens")),
                   "tokenizer_2": ("text_encoder_2", t5_tok(256))},
        schedulers={"scheduler": ("scheduler.json", "E")}),
    "sd3-medium": dict(folder="sd3-medium", components={
        "text_encoder": ("text_encoder.json", T, "transformers.CLIPTextModelWithProjection", "text_encode", "E", ""),
        "text_encoder_2": ("text_encoder_2.json", T, "transformers.CLIPTextModelWithProjection", "text_encode", "E", ""),
        "text_encoder_3": ("text_encoder_3.json", T, "transformers.T5EncoderModel", "text_encode", "E", ""),
        "transformer": ("transformer.json", D, "diffusers.SD3Transformer2DModel", "denoise", "E", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "E", ""),
    }, tokenizers={"tokenizer": ("text_encoder", CLIP_TOK), "tokenizer_2": ("text_encoder_2", CLIP_TOK),
                   "tokenizer_3": ("text_encoder_3", t5_tok(512))},
        schedulers={"scheduler": ("scheduler.json", "E")}),
    "flux-dev": dict(folder="flux1-dev", components={
        "text_encoder": ("text_encoder.json", T, "transformers.CLIPTextModel", "text_encode", "E", ""),
        "text_encoder_2": ("text_encoder_2.json", T, "transformers.T5EncoderModel", "text_encode", "N",
                           "Forge copy with feed_forward_proj gated-gelu restored"),
        "transformer": ("transformer.json", D, "diffusers.FluxTransformer2DModel", "denoise", "E", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "E", ""),
    }, tokenizers={"tokenizer": ("text_encoder", CLIP_TOK), "tokenizer_2": ("text_encoder_2", t5_tok(512))},
        schedulers={"scheduler": ("scheduler.json", "E")}),
    "sana-600m": dict(folder="sana-600m-512", components={
        "text_encoder": ("text_encoder.json", T, "transformers.Gemma2Model", "text_encode", "R", "gemma-2-2b values"),
        "transformer": ("transformer.json", D, "diffusers.SanaTransformer2DModel", "denoise", "R",
                        "from diffusers' conversion script (high confidence)"),
        "vae": ("vae.json", D, "diffusers.AutoencoderDC", "decode", "R", "dc-ae-f32c32-sana-1.0, loaded-config values"),
    }, tokenizers={"tokenizer": ("text_encoder", lm_tok("gemma", 8192, "Gemma 2 tokenizer; length = max_position_embeddings"))},
        schedulers={"scheduler": ("scheduler.json", "R")}),
    "qwen-image": dict(folder="qwen-image", components={
        "text_encoder": ("text_encoder.json", T, "transformers.Qwen2_5_VLForConditionalGeneration", "text_encode", "E", ""),
        "transformer": ("transformer.json", D, "diffusers.QwenImageTransformer2DModel", "denoise", "E", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKLQwenImage", "decode", "E", ""),
    }, tokenizers={"tokenizer": ("text_encoder", lm_tok("qwen2", 32768, "Qwen2 tokenizer; the pipeline caps prompts at 1024"))},
        schedulers={"scheduler": ("scheduler.json", "E")}),
    "unidiffuser": dict(folder="unidiffuser-v1", components={
        "text_encoder": ("text_encoder.json", T, "transformers.CLIPTextModel", "text_encode", "R", "CLIP ViT-L/14 text"),
        "image_encoder": ("image_encoder.json", T, "transformers.CLIPVisionModelWithProjection", "unused", "R",
                          "CLIP ViT-B/32 vision; not called in text-to-image mode"),
        "text_decoder": ("text_decoder.json", D, "diffusers.pipelines.deprecated.unidiffuser.UniDiffuserTextDecoder",
                         "text_encode", "R", "GPT-2 caption decoder; in text-to-image mode only its encode (the "
                         "prefix projection of the CLIP text embeddings) runs"),
        "unet": ("unet.json", D, "diffusers.pipelines.deprecated.unidiffuser.UniDiffuserModel", "denoise", "R",
                 "from diffusers' conversion script"),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "R", "from diffusers' conversion script"),
    }, tokenizers={"clip_tokenizer": ("text_encoder", CLIP_TOK),
                   "text_tokenizer": ("text_decoder", lm_tok("gpt2", 1024, "GPT-2 tokenizer (n_positions 1024)"))},
        schedulers={"scheduler": ("scheduler.json", "R")}),
    "stable-cascade": dict(folder="stable-cascade", components={
        "prior.text_encoder": ("prior_text_encoder.json", T, "transformers.CLIPTextModelWithProjection", "text_encode", "E", ""),
        "prior.prior": ("prior.json", D, "diffusers.StableCascadeUNet", "denoise", "E", "stage C (prior), full size"),
        "decoder.text_encoder": ("decoder_text_encoder.json", T, "transformers.CLIPTextModelWithProjection",
                                 "text_encode", "E", ""),
        "decoder.decoder": ("decoder.json", D, "diffusers.StableCascadeUNet", "denoise", "E", "stage B (decoder), full size"),
        "decoder.vqgan": ("vqgan.json", D, "diffusers.pipelines.deprecated.wuerstchen.PaellaVQModel", "decode", "E",
                          "stage A"),
    }, tokenizers={"prior.tokenizer": ("prior.text_encoder", CLIP_TOK),
                   "decoder.tokenizer": ("decoder.text_encoder", CLIP_TOK)},
        schedulers={"prior.scheduler": ("prior_scheduler.json", "E"), "decoder.scheduler": ("decoder_scheduler.json", "E")}),
    "cogview4": dict(folder="cogview4-6b", components={
        "text_encoder": ("text_encoder.json", T, "transformers.GlmModel", "text_encode", "R",
                         "GLM-4-9B values (hidden 4096, 40 layers)"),
        "transformer": ("transformer.json", D, "diffusers.CogView4Transformer2DModel", "denoise", "E", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "R", "from diffusers' conversion script"),
    }, tokenizers={"tokenizer": ("text_encoder", lm_tok("glm", 8192, "GLM-4 tokenizer; length = max_position_embeddings"))},
        schedulers={"scheduler": ("scheduler.json", "R")}),
    "kandinsky3": dict(folder="kandinsky3", components={
        "text_encoder": ("text_encoder.json", T, "transformers.T5EncoderModel", "text_encode", "E",
                         "Flan-UL2 (the file says T5ForConditionalGeneration; the pipeline loads T5EncoderModel)"),
        "unet": ("unet.json", D, "diffusers.Kandinsky3UNet", "denoise", "R",
                 "diffusers defaults, numerically identical to the original upload"),
        "movq": ("movq.json", D, "diffusers.VQModel", "decode", "E", ""),
    }, tokenizers={"tokenizer": ("text_encoder", t5_tok(128))}, schedulers={"scheduler": (None, "M")}),
    "hidream-dev": dict(folder="hidream-i1-dev", components={
        "text_encoder": ("text_encoder.json", T, "transformers.CLIPTextModelWithProjection", "text_encode", "R",
                         "values of SD3's CLIP-L (HiDream's own file not seen)"),
        "text_encoder_2": ("text_encoder_2.json", T, "transformers.CLIPTextModelWithProjection", "text_encode", "R",
                           "values of SD3's CLIP-bigG (HiDream's own file not seen)"),
        "text_encoder_3": ("text_encoder_3.json", T, "transformers.T5EncoderModel", "text_encode", "R", "T5-v1.1-XXL"),
        "text_encoder_4": ("text_encoder_4.json", T, "transformers.LlamaForCausalLM", "text_encode", "R",
                           "Llama-3.1-8B-Instruct values"),
        "transformer": ("transformer.json", D, "diffusers.HiDreamImageTransformer2DModel", "denoise", "N", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "R", "FLUX VAE values"),
    }, tokenizers={"tokenizer": ("text_encoder", CLIP_TOK), "tokenizer_2": ("text_encoder_2", CLIP_TOK),
                   "tokenizer_3": ("text_encoder_3", t5_tok(512)),
                   "tokenizer_4": ("text_encoder_4", lm_tok("decoder_lm", 131072, "Llama 3.1 tokenizer; length = max_position_embeddings"))},
        schedulers={"scheduler": (None, "M")}),
    "sana15-1.6b": dict(folder="sana1.5-1.6b-1024", components={
        "text_encoder": ("text_encoder.json", T, "transformers.Gemma2Model", "text_encode", "R", "gemma-2-2b values"),
        "transformer": ("transformer.json", D, "diffusers.SanaTransformer2DModel", "denoise", "R",
                        "from diffusers' conversion script (high confidence)"),
        "vae": ("vae.json", D, "diffusers.AutoencoderDC", "decode", "R", "dc-ae-f32c32-sana-1.0, loaded-config values"),
    }, tokenizers={"tokenizer": ("text_encoder", lm_tok("gemma", 8192, "Gemma 2 tokenizer; length = max_position_embeddings"))},
        schedulers={"scheduler": ("scheduler.json", "R")}),
    "lumina2": dict(folder="lumina-image-2", components={
        "text_encoder": ("text_encoder.json", T, "transformers.Gemma2Model", "text_encode", "N", "gemma-2-2b"),
        "transformer": ("transformer.json", D, "diffusers.Lumina2Transformer2DModel", "denoise", "E", ""),
        "vae": ("vae.json", D, "diffusers.AutoencoderKL", "decode", "R", "FLUX VAE values"),
    }, tokenizers={"tokenizer": ("text_encoder", lm_tok("gemma", 8192, "Gemma 2 tokenizer; length = max_position_embeddings"))},
        schedulers={"scheduler": (None, "M")}),
}

CONFIDENCE = {"E": "exact HF file", "N": "near-exact third-party copy", "R": "reconstructed", "M": "missing"}
DROP_KEYS = ("_note", "_name_or_path", "_commit_hash")


def _value(v):
    # The collected files spell JSON's -Infinity as a note ("-inf (JSON -Infinity)"): write the number back.
    if isinstance(v, str) and v.endswith("(JSON -Infinity)"):
        return float("-inf")
    if isinstance(v, str) and v.endswith("(JSON Infinity)"):
        return float("inf")
    return v


def _load(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {k: _value(v) for k, v in data.items() if k not in DROP_KEYS}


def _note(path: Path) -> str | None:
    return json.loads(path.read_text()).get("_note")


def build(shared: Path) -> dict[str, dict]:
    from core.registry import OPEN_MODELS

    # The editing models' specs are written by scripts/build_edit_architectures.py (no collected configs here).
    edit_keys = set(json.loads((ROOT / "data" / "architectures" / "EDIT_MODELS.json").read_text()))
    specs = {}
    for model in OPEN_MODELS:
        if model.key in edit_keys:
            continue
        entry = MODELS.get(model.key)
        if entry is None:
            specs[model.key] = {"format": FORMAT, "model": model.key, "hf_id": model.hf_id, "available": False,
                                "reason": "no configs collected in ../shared/model-configs", "components": {}}
            continue
        folder = shared / entry["folder"]
        sources_md = f"model-configs/{entry['folder']}/SOURCES.md"
        components = {}
        for key, (file, library, cls, stage, conf, note) in entry["components"].items():
            path = folder / file
            comp = {"library": library, "class": cls, "stage": stage,
                    "source": {"file": f"model-configs/{entry['folder']}/{file}", "confidence": conf,
                               "confidence_meaning": CONFIDENCE[conf], "details": sources_md}}
            if note:
                comp["note"] = note
            if path.exists():
                comp["config"] = _load(path)
                if _note(path):
                    comp["source"]["file_note"] = _note(path)
                comp["available"] = True
            else:
                comp["available"] = False
                comp["reason"] = f"{file} is missing from the collected configs"
            components[key] = comp
        tokenizers = {}
        for slot, (encoder, tok) in entry["tokenizers"].items():
            enc_cfg = components[encoder].get("config", {})
            vocab = enc_cfg.get("vocab_size") or enc_cfg.get("text_config", {}).get("vocab_size")
            tokenizers[slot] = {**tok, "vocab_size": vocab, "for": encoder,
                                "vocab_source": f"{components[encoder]['source']['file']} vocab_size"}
        schedulers = {}
        for slot, (file, conf) in entry["schedulers"].items():
            if file is None:
                schedulers[slot] = {"available": False, "source": {"confidence": "M", "details": sources_md},
                                    "reason": "scheduler config missing from the collected configs; random-weight "
                                              "pipelines use the family's scheduler (core/families)"}
            else:
                cfg = _load(folder / file)
                schedulers[slot] = {"available": True, "class": f"diffusers.{cfg['_class_name']}", "config": cfg,
                                    "source": {"file": f"model-configs/{entry['folder']}/{file}", "confidence": conf,
                                               "confidence_meaning": CONFIDENCE[conf], "details": sources_md}}
        unavailable = [k for k, c in components.items() if not c["available"] and c["stage"] != "unused"]
        specs[model.key] = {
            "format": FORMAT, "model": model.key, "hf_id": model.hf_id, "pipeline_class": model.pipeline_class,
            "dtype": model.dtype, "available": not unavailable,
            **({"reason": "missing configs: " + ", ".join(unavailable)} if unavailable else {}),
            "components": components, "tokenizers": tokenizers, "schedulers": schedulers,
            "sources": "Collected from public copies of the model's config files; see each component's source "
                       "(confidence E exact / N near-exact / R reconstructed / M missing).",
        }
    return specs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "model-configs")
    args = p.parse_args(argv)
    if not args.shared.is_dir():
        print(f"error: {args.shared} not found (the collected configs live beside a developer's checkout)",
              file=sys.stderr)
        return 2
    for key, spec in build(args.shared).items():
        out = OUT / key / "architecture.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(spec, indent=1, sort_keys=False) + "\n")
        print(f"{out.relative_to(ROOT)}: {'available' if spec['available'] else 'UNAVAILABLE: ' + spec['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
