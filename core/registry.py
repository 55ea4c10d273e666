"""What each model is: one `ModelSpec` per model, with its authors' defaults.

Open models name a pipeline *family* (``core/families/<family>.py``): the module that knows how to
load that pipeline, build its tiny twin and turn a request into pipeline kwargs. API models name a
*provider* (``core/providers/``). Unknown keys fail with the list of known keys and a suggestion.
"""
from __future__ import annotations

import difflib
from dataclasses import replace
from types import MappingProxyType

from core import providers
from core.providers import catalog
from core.errors import UnknownModelError
from core.spec import ModelSpec


def _open(key: str, **kw) -> ModelSpec:
    if "extra" in kw:
        kw["extra"] = MappingProxyType(dict(kw["extra"]))
    return ModelSpec(key=key, kind="open", **kw)


# Defaults from each model card. Parameter counts are the sums of the full-size configs
# instantiated on the meta device (../shared/model-configs/README.md); VRAM ~ params x bytes + activations.
OPEN_MODELS: list[ModelSpec] = [
    _open("sd21", name="Stable Diffusion 2.1", family="sd", hf_id="stabilityai/stable-diffusion-2-1",
          pipeline_class="StableDiffusionPipeline", dtype="float16", variant="fp16", width=768, height=768,
          steps=50, guidance=7.5, size_multiple=8, max_size=1536, vram_gb=4, params_b=1.29,
          license="openrail++"),
    _open("sdxl", name="Stable Diffusion XL 1.0", family="sdxl", hf_id="stabilityai/stable-diffusion-xl-base-1.0",
          pipeline_class="StableDiffusionXLPipeline", dtype="float16", variant="fp16", width=1024, height=1024,
          steps=30, guidance=5.0, size_multiple=8, vram_gb=9, params_b=3.47, license="openrail++",
          notes="VAE overflows in fp16; the config's force_upcast decodes it in fp32"),
    _open("cogview3", name="CogView3-Plus 3B", family="cogview3", hf_id="zai-org/CogView3-Plus-3B",
          pipeline_class="CogView3PlusPipeline", dtype="bfloat16", width=1024, height=1024, steps=50,
          guidance=7.0, size_multiple=16, min_size=512, vram_gb=18, params_b=8.15, license="apache-2.0"),
    _open("pixart-alpha", name="PixArt-α XL 512", family="pixart", hf_id="PixArt-alpha/PixArt-XL-2-512x512",
          pipeline_class="PixArtAlphaPipeline", dtype="float16", width=512, height=512, steps=20, guidance=4.5,
          size_multiple=16, max_size=1024, vram_gb=12, params_b=5.59, license="openrail++"),
    _open("pixart-sigma", name="PixArt-Σ XL 512 MS", family="pixart", hf_id="PixArt-alpha/PixArt-Sigma-XL-2-512-MS",
          pipeline_class="PixArtSigmaPipeline", dtype="float16", width=512, height=512, steps=20, guidance=4.5,
          size_multiple=16, max_size=1024, vram_gb=12, params_b=5.59, license="openrail++"),
    _open("lumina-next", name="Lumina-Next SFT", family="lumina", hf_id="Alpha-VLLM/Lumina-Next-SFT-diffusers",
          pipeline_class="LuminaPipeline", dtype="bfloat16", width=1024, height=1024, steps=30, guidance=4.0,
          size_multiple=16, vram_gb=10, params_b=4.35, license="apache-2.0"),
    _open("hunyuandit", name="HunyuanDiT v1.2", family="hunyuandit", hf_id="Tencent-Hunyuan/HunyuanDiT-v1.2-Diffusers",
          pipeline_class="HunyuanDiTPipeline", dtype="float16", width=1024, height=1024, steps=50, guidance=5.0,
          size_multiple=16, min_size=512, vram_gb=11, params_b=4.12, license="tencent-hunyuan-community",
          notes="prompts in Chinese or English"),
    _open("sd3-medium", name="Stable Diffusion 3 Medium", family="sd3",
          hf_id="stabilityai/stable-diffusion-3-medium-diffusers", pipeline_class="StableDiffusion3Pipeline",
          dtype="float16", width=1024, height=1024, steps=28, guidance=7.0, size_multiple=16, vram_gb=18,
          params_b=7.83, gated=True, license="stabilityai-ai-community", notes="three text encoders"),
    _open("flux-dev", name="FLUX.1 [dev]", family="flux", hf_id="black-forest-labs/FLUX.1-dev",
          pipeline_class="FluxPipeline", dtype="bfloat16", width=1024, height=1024, steps=28, guidance=3.5,
          supports_negative=False, cfg_style="distilled", extra={"max_sequence_length": 512}, size_multiple=16,
          vram_gb=36, params_b=17.0, gated=True, license="flux-1-dev-non-commercial",
          notes="guidance-distilled: guidance is an input, no CFG pass"),
    _open("sana-600m", name="Sana 600M 512px", family="sana", hf_id="Efficient-Large-Model/Sana_600M_512px_diffusers",
          pipeline_class="SanaPipeline", dtype="bfloat16", width=512, height=512, steps=20, guidance=4.5,
          size_multiple=32, max_size=1024, vram_gb=8, params_b=3.52, license="nvidia-sana", notes="DC-AE 32x latent"),
    _open("qwen-image", name="Qwen-Image", family="qwen_image", hf_id="Qwen/Qwen-Image",
          pipeline_class="QwenImagePipeline", dtype="bfloat16", width=1328, height=1328, steps=50, guidance=4.0,
          cfg_style="true_cfg", extra={"default_negative_prompt": " "}, size_multiple=16, vram_gb=60,
          params_b=28.85, license="apache-2.0",
          notes="true CFG (true_cfg_scale) runs only with a negative prompt; ' ' is used when none is given"),
    _open("unidiffuser", name="UniDiffuser v1", family="unidiffuser", hf_id="thu-ml/unidiffuser-v1",
          pipeline_class="UniDiffuserPipeline", dtype="float16", width=512, height=512, steps=20, guidance=8.0,
          supports_negative=False, size_multiple=16, min_size=512, max_size=512, vram_gb=5, params_b=1.41,
          license="agpl-3.0", notes="text-to-image mode; 512x512 only (fixed position tables)"),
    _open("stable-cascade", name="Stable Cascade", family="cascade", hf_id="stabilityai/stable-cascade-prior",
          pipeline_class="StableCascadePriorPipeline+StableCascadeDecoderPipeline", dtype="bfloat16",
          width=1024, height=1024, steps=20, guidance=4.0,
          extra={"decoder_hf_id": "stabilityai/stable-cascade", "decoder_steps": 10, "decoder_guidance_scale": 0.0},
          size_multiple=128, min_size=512, vram_gb=16, params_b=7.55, license="stable-cascade-nc-community",
          notes="two stages (prior, decoder), both resident"),
    _open("cogview4", name="CogView4 6B", family="cogview4", hf_id="zai-org/CogView4-6B",
          pipeline_class="CogView4Pipeline", dtype="bfloat16", width=1024, height=1024, steps=50, guidance=3.5,
          size_multiple=32, min_size=512, vram_gb=33, params_b=15.55, license="apache-2.0"),
    _open("kandinsky3", name="Kandinsky 3", family="kandinsky3", hf_id="kandinsky-community/kandinsky-3",
          pipeline_class="Kandinsky3Pipeline", dtype="float16", variant="fp16", width=1024, height=1024, steps=25,
          guidance=3.0, size_multiple=64, vram_gb=26, params_b=12.18, license="apache-2.0"),
    _open("hidream-dev", name="HiDream-I1 Dev", family="hidream", hf_id="HiDream-ai/HiDream-I1-Dev",
          pipeline_class="HiDreamImagePipeline", dtype="bfloat16", width=1024, height=1024, steps=28, guidance=0.0,
          supports_negative=False, cfg_style="none",
          extra={"text_encoder_4_id": "meta-llama/Llama-3.1-8B-Instruct"}, size_multiple=16, vram_gb=64,
          params_b=30.93, gated=True, license="mit (Llama 3.1 community for text encoder 4)",
          notes="needs Llama-3.1-8B-Instruct (gated) as text_encoder_4/tokenizer_4"),
    _open("sana15-1.6b", name="SANA 1.5 1.6B 1024px", family="sana",
          hf_id="Efficient-Large-Model/SANA1.5_1.6B_1024px_diffusers", pipeline_class="SanaPipeline",
          dtype="bfloat16", width=1024, height=1024, steps=20, guidance=4.5, size_multiple=32, vram_gb=12,
          params_b=4.53, license="nvidia-sana"),
    _open("lumina2", name="Lumina-Image 2.0", family="lumina2", hf_id="Alpha-VLLM/Lumina-Image-2.0",
          pipeline_class="Lumina2Pipeline", dtype="bfloat16", width=1024, height=1024, steps=50, guidance=4.0,
          extra={"cfg_trunc_ratio": 0.25, "cfg_normalization": True}, size_multiple=16, vram_gb=12, params_b=5.31,
          license="apache-2.0", notes="CFG truncated after 25% of steps, with CFG normalisation"),
    # ---- editing: a source image and an instruction (core.families.EditFamily) ----
    _open("qwen-image-edit", name="Qwen-Image-Edit-2511", family="qwen_image_edit", hf_id="Qwen/Qwen-Image-Edit-2511",
          pipeline_class="QwenImageEditPlusPipeline", dtype="bfloat16", width=1024, height=1024, steps=40,
          guidance=4.0, cfg_style="true_cfg", extra={"default_negative_prompt": " "}, size_multiple=16,
          tasks=("edit",), max_input_images=3, vram_gb=62, params_b=28.85, license="apache-2.0",
          notes="true CFG (true_cfg_scale) with the negative prompt ' '; each source read twice (VL encoder, VAE)"),
    _open("flux-kontext-dev", name="FLUX.1 Kontext [dev]", family="flux_kontext",
          hf_id="black-forest-labs/FLUX.1-Kontext-dev", pipeline_class="FluxKontextPipeline", dtype="bfloat16",
          width=1024, height=1024, steps=28, guidance=2.5, supports_negative=False, cfg_style="distilled",
          extra={"max_sequence_length": 512}, size_multiple=16, tasks=("edit",), max_input_images=1, vram_gb=38,
          params_b=16.87, gated=True, license="flux-1-dev-non-commercial",
          notes="guidance-distilled; the source's tokens double the image sequence"),
    _open("instruct-pix2pix", name="InstructPix2Pix", family="instruct_pix2pix", hf_id="timbrooks/instruct-pix2pix",
          pipeline_class="StableDiffusionInstructPix2PixPipeline", dtype="float16", width=512, height=512, steps=100,
          guidance=7.5, extra={"image_guidance_scale": 1.5}, size_multiple=8, max_size=1024, tasks=("edit",),
          max_input_images=1, vram_gb=4, params_b=1.07, license="mit",
          notes="text and image guidance: three U-Net passes per step; the output has the source's size"),
    _open("flux2-klein-4b", name="FLUX.2 [klein] 4B", family="flux2_klein", hf_id="black-forest-labs/FLUX.2-klein-4B",
          pipeline_class="Flux2KleinPipeline", dtype="bfloat16", width=1024, height=1024, steps=4, guidance=1.0,
          supports_negative=False, cfg_style="none", extra={"max_sequence_length": 512}, size_multiple=16,
          tasks=("text-to-image", "edit"), max_input_images=4, vram_gb=20, params_b=7.98, license="apache-2.0",
          notes="step-distilled (4 steps, no CFG); generates and edits, up to 4 source images"),
]



def tiny_spec(spec: ModelSpec, size: int, steps: int) -> ModelSpec:
    """The spec of a model's tiny twin: same checks, small default size and few steps."""
    size = max(size, spec.size_multiple)
    return replace(spec, width=size, height=size, steps=steps, min_size=min(spec.min_size, size),
                   vram_gb=0, params_b=None)


def _index() -> dict[str, ModelSpec]:
    """Open models, then every provider's API models (asked of core.providers, nothing registered by import)."""
    return {spec.key: spec for spec in [*OPEN_MODELS, *providers.api_specs()]}


def all_specs(kind: str | None = None) -> list[ModelSpec]:
    specs = list(_index().values())
    return [s for s in specs if kind is None or s.kind == kind]


def model_keys(kind: str | None = None) -> list[str]:
    return [s.key for s in all_specs(kind)]


def get_spec(key: str) -> ModelSpec:
    index = _index()
    if key in index:
        return index[key]
    known = sorted(index)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.4)
    raise UnknownModelError(key, known, close[0] if close else None)


def resolve_models(selection: str | list[str], *, task: str | None = None) -> list[ModelSpec]:
    """``"all"``, ``"open"``, ``"api"`` or a comma list of keys → specs, in registry order for groups.

    With `task`, groups hold only the models that take it (`--models open --task edit`: the editors); a model
    named alone stays, for its request check to refuse it naming the task."""
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    out: list[ModelSpec] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        group = {"all": None, "open": "open", "api": "api"}
        # groups leave out retired API models (named alone, one is refused with its replacement)
        specs = ([s for s in all_specs(group[item]) if (not s.is_api or catalog.is_available(s.key))
                  and (task is None or task in s.tasks)]
                 if item in group else [get_spec(item)])
        out.extend(s for s in specs if s not in out)
    return out
