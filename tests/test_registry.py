import pytest

from core.errors import UnknownModelError
from core.registry import OPEN_MODELS, get_spec, model_keys, resolve_models

DESIGN_TABLE = {  # key: (hf id, pipeline, size, steps, guidance) from DESIGN.md
    "sd21": ("stabilityai/stable-diffusion-2-1", "StableDiffusionPipeline", 768, 50, 7.5),
    "sdxl": ("stabilityai/stable-diffusion-xl-base-1.0", "StableDiffusionXLPipeline", 1024, 30, 5.0),
    "cogview3": ("zai-org/CogView3-Plus-3B", "CogView3PlusPipeline", 1024, 50, 7.0),
    "pixart-alpha": ("PixArt-alpha/PixArt-XL-2-512x512", "PixArtAlphaPipeline", 512, 20, 4.5),
    "pixart-sigma": ("PixArt-alpha/PixArt-Sigma-XL-2-512-MS", "PixArtSigmaPipeline", 512, 20, 4.5),
    "lumina-next": ("Alpha-VLLM/Lumina-Next-SFT-diffusers", "LuminaPipeline", 1024, 30, 4.0),
    "hunyuandit": ("Tencent-Hunyuan/HunyuanDiT-v1.2-Diffusers", "HunyuanDiTPipeline", 1024, 50, 5.0),
    "sd3-medium": ("stabilityai/stable-diffusion-3-medium-diffusers", "StableDiffusion3Pipeline", 1024, 28, 7.0),
    "flux-dev": ("black-forest-labs/FLUX.1-dev", "FluxPipeline", 1024, 28, 3.5),
    "sana-600m": ("Efficient-Large-Model/Sana_600M_512px_diffusers", "SanaPipeline", 512, 20, 4.5),
    "qwen-image": ("Qwen/Qwen-Image", "QwenImagePipeline", 1328, 50, 4.0),
    "unidiffuser": ("thu-ml/unidiffuser-v1", "UniDiffuserPipeline", 512, 20, 8.0),
    "stable-cascade": ("stabilityai/stable-cascade-prior", None, 1024, 20, 4.0),
    "cogview4": ("zai-org/CogView4-6B", "CogView4Pipeline", 1024, 50, 3.5),
    "kandinsky3": ("kandinsky-community/kandinsky-3", "Kandinsky3Pipeline", 1024, 25, 3.0),
    "hidream-dev": ("HiDream-ai/HiDream-I1-Dev", "HiDreamImagePipeline", 1024, 28, 0.0),
    "sana15-1.6b": ("Efficient-Large-Model/SANA1.5_1.6B_1024px_diffusers", "SanaPipeline", 1024, 20, 4.5),
    "lumina2": ("Alpha-VLLM/Lumina-Image-2.0", "Lumina2Pipeline", 1024, 50, 4.0),
}
EDIT_TABLE = {  # key: (hf id, pipeline, size, steps, guidance, tasks, source images) from the model cards (issue 18)
    "qwen-image-edit": ("Qwen/Qwen-Image-Edit-2511", "QwenImageEditPlusPipeline", 1024, 40, 4.0, ("edit",), 3),
    "flux-kontext-dev": ("black-forest-labs/FLUX.1-Kontext-dev", "FluxKontextPipeline", 1024, 28, 2.5, ("edit",), 1),
    "instruct-pix2pix": ("timbrooks/instruct-pix2pix", "StableDiffusionInstructPix2PixPipeline", 512, 100, 7.5,
                         ("edit",), 1),
    "flux2-klein-4b": ("black-forest-labs/FLUX.2-klein-4B", "Flux2KleinPipeline", 1024, 4, 1.0,
                       ("text-to-image", "edit"), 4),
}


def test_all_18_open_models_with_their_authors_defaults():
    assert sorted(s.key for s in OPEN_MODELS) == sorted([*DESIGN_TABLE, *EDIT_TABLE])
    for key, (hf_id, pipeline, size, steps, guidance, tasks, sources) in EDIT_TABLE.items():
        spec = get_spec(key)
        assert (spec.hf_id, spec.pipeline_class, spec.width, spec.steps, spec.guidance) == (hf_id, pipeline, size,
                                                                                          steps, guidance)
        assert spec.tasks == tasks and spec.max_input_images == sources
    assert get_spec("instruct-pix2pix").extra["image_guidance_scale"] == 1.5
    for key, (hf_id, pipeline, size, steps, guidance) in DESIGN_TABLE.items():
        spec = get_spec(key)
        assert spec.hf_id == hf_id
        if pipeline:
            assert spec.pipeline_class == pipeline
        assert (spec.width, spec.height, spec.steps, spec.guidance) == (size, size, steps, guidance)
        assert spec.vram_gb and spec.license and spec.family


def test_cfg_styles_and_quirks():
    assert get_spec("flux-dev").cfg_style == "distilled" and not get_spec("flux-dev").supports_negative
    assert get_spec("flux-dev").extra["max_sequence_length"] == 512
    assert get_spec("qwen-image").cfg_style == "true_cfg"
    assert get_spec("qwen-image").extra["default_negative_prompt"] == " "
    assert get_spec("lumina2").extra == {"cfg_trunc_ratio": 0.25, "cfg_normalization": True}
    assert get_spec("stable-cascade").extra["decoder_steps"] == 10
    assert get_spec("stable-cascade").extra["decoder_guidance_scale"] == 0.0
    assert get_spec("hidream-dev").extra["text_encoder_4_id"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert get_spec("sd3-medium").gated and get_spec("flux-dev").gated and not get_spec("sd21").gated


def test_unknown_key_lists_known_and_suggests():
    with pytest.raises(UnknownModelError) as err:
        get_spec("flux")
    msg = str(err.value)
    assert "Did you mean 'flux-dev'" in msg and "sd21" in msg and msg.startswith("model:")


def test_resolve_models_groups_and_lists():
    assert [s.key for s in resolve_models("open")] == model_keys("open")
    assert [s.key for s in resolve_models("sdxl, sd21,sdxl")] == ["sdxl", "sd21"]
    with pytest.raises(UnknownModelError):
        resolve_models("sd21,nope")
