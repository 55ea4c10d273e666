"""Speed recipes on tiny twins (CPU, torch.compile's "eager" backend), their checks, and the image delta."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from core import recipes
from core.errors import RecipeError, UnknownRecipeError
from core.recipes import RECIPES, apply_recipe, check_recipe, get_recipe
from core.registry import all_specs, get_spec
from core.scoring.compare import CompareError, pixel_delta
from core.jobs import GenerationRequest


@pytest.fixture
def hopper(monkeypatch):
    """A CUDA device of compute capability 9.0 with torchao 0.18 installed (as far as the checks can tell)."""
    monkeypatch.setattr(recipes, "cuda_capability", lambda device: (9, 0))
    monkeypatch.setattr(recipes, "installed_version", lambda name: "0.18.0")


# ---- checks before anything loads ---------------------------------------------------------------------------
def test_unknown_recipe_lists_known_and_suggests():
    with pytest.raises(UnknownRecipeError) as err:
        check_recipe("compil", get_spec("flux-dev"), "cpu")
    text = str(err.value)
    assert "Did you mean 'compile'?" in text
    assert all(name in text for name in RECIPES)


def test_eager_runs_everywhere():
    assert check_recipe("eager", get_spec("flux-dev"), "cpu").steps == ()
    assert check_recipe("eager", all_specs("api")[0], "cpu").name == "eager"


def test_fp8_on_cpu_names_the_card_requirement(monkeypatch):
    monkeypatch.setattr(recipes, "installed_version", lambda name: "0.18.0")
    with pytest.raises(RecipeError) as err:
        check_recipe("fp8", get_spec("flux-dev"), "cpu")
    assert "compute capability >= 9.0" in str(err.value) and "device is 'cpu'" in str(err.value)


def test_fp8_on_an_older_card_names_its_capability(monkeypatch):
    monkeypatch.setattr(recipes, "cuda_capability", lambda device: (8, 0))
    monkeypatch.setattr(recipes, "installed_version", lambda name: "0.18.0")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA A100-SXM4-80GB")
    with pytest.raises(RecipeError) as err:
        check_recipe("compile+fp8", get_spec("flux-dev"), "cuda")
    assert "NVIDIA A100-SXM4-80GB has 8.0" in str(err.value)


def test_missing_or_old_torchao_names_the_install_command(monkeypatch):
    monkeypatch.setattr(recipes, "cuda_capability", lambda device: (9, 0))
    monkeypatch.setattr(recipes, "installed_version", lambda name: None)
    with pytest.raises(RecipeError) as err:
        check_recipe("fp8", get_spec("flux-dev"), "cuda")
    assert f"pip install '{recipes.FP8_PACKAGE}'" in str(err.value) and "not installed" in str(err.value)
    monkeypatch.setattr(recipes, "installed_version", lambda name: "0.5.0")
    with pytest.raises(RecipeError, match="torchao 0.5.0 is installed"):
        check_recipe("fp8", get_spec("flux-dev"), "cuda")


def test_fp8_passes_on_hopper_with_torchao(hopper):
    assert check_recipe("compile+fp8", get_spec("flux-dev"), "cuda").package == recipes.FP8_PACKAGE


def test_a_model_the_recipe_does_not_support_is_refused(hopper):
    with pytest.raises(RecipeError) as err:
        check_recipe("cache", get_spec("sdxl"), "cuda")
    assert "sdxl (family sdxl) does not take cache" in str(err.value)
    assert "models it supports: flux-dev" in str(err.value)
    with pytest.raises(RecipeError, match="fp16 weights"):
        check_recipe("fp8", get_spec("sdxl"), "cuda")
    with pytest.raises(RecipeError, match="no speed settings"):
        check_recipe("compile", get_spec("pixart-alpha"), "cpu")
    with pytest.raises(RecipeError, match="API model"):
        check_recipe("compile", all_specs("api")[0], "cpu")


def test_recipes_say_whether_they_are_lossless():
    assert get_recipe("compile").lossless and get_recipe("eager").lossless
    assert not get_recipe("fp8").lossless and not get_recipe("cache").lossless
    assert not get_recipe("compile+fp8").lossless


# ---- applying to tiny twins -----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["flux-dev", "sana15-1.6b", "sdxl"])
def test_lossless_compile_matches_eager_and_compiles_once(tiny_engine, key):
    request = tiny_engine.prepare(GenerationRequest(model=key, prompt="a red bicycle", seed=3))
    eager = tiny_engine.generate(request)
    assert eager.ok, eager.error
    model = tiny_engine.resident[key]
    report = apply_recipe(model, "compile", backend="eager")
    assert model.recipe == "compile" and report.lossless
    assert "regions of" in report.applied["compile"] and "vae.decoder" in report.applied["compile_vae"]
    assert set(report.applied) | set(report.skipped) == set(get_recipe("compile").steps)
    denoiser = getattr(model.pipe, model.family.denoiser)
    assert any(getattr(m, "_compiled_call_impl", None) is not None for m in denoiser.modules())
    first = tiny_engine.generate(request)  # compiles
    assert first.ok, first.error
    assert first.first_call
    with torch._dynamo.config.patch(error_on_recompile=True):  # the engine's stage hooks force no recompile
        again = tiny_engine.generate(request)
    assert again.ok, again.error
    for outcome in (first, again):
        delta = pixel_delta(outcome.images[0], eager.images[0])
        assert delta.psnr_db > 40 and delta.ssim > 0.99, delta


def test_cache_reuses_steps_when_the_threshold_allows(tiny_engine):
    request = tiny_engine.prepare(GenerationRequest(model="flux-dev", prompt="a red bicycle", seed=3, steps=3))
    eager = tiny_engine.generate(request).images[0]
    model = tiny_engine.resident["flux-dev"]
    report = apply_recipe(model, "cache", overrides={"cache_threshold": 1e9})  # every step after the first reuses
    assert not report.lossless and "first-block cache" in report.applied["cache"]
    cached = tiny_engine.generate(request).images[0]
    assert math.isfinite(pixel_delta(cached, eager).psnr_db)  # the skipped blocks changed the image


def test_recipes_stack_on_a_loaded_model_only_by_adding_steps(tiny_engine):
    model = tiny_engine.load("flux-dev")
    apply_recipe(model, "compile", backend="eager")
    report = apply_recipe(model, "compile+cache", backend="eager")
    assert list(report.applied) == ["cache"]  # compile's steps are already there
    assert model.calls == 0  # the next call compiles again: a first call
    assert recipes.needs_reload("compile+cache", "compile") and not recipes.needs_reload("eager", "compile+fp8")
    with pytest.raises(RecipeError, match="reload it"):
        apply_recipe(model, "compile", backend="eager")


def test_overrides_name_the_allowed_fields(tiny_engine):
    with pytest.raises(ValueError, match="allowed: compile_regions"):
        apply_recipe(tiny_engine.load("flux-dev"), "compile", backend="eager", overrides={"modee": "x"})


def test_fp8_quantizes_the_linear_layers_of_the_blocks(tiny_engine, hopper, monkeypatch):
    """torchao itself needs a Hopper GPU: a stand-in records what the recipe hands to `quantize_`."""
    import sys
    import types

    picked: list[str] = []

    def quantize_(model, config, filter_fn):
        picked.extend(fqn for fqn, m in model.named_modules() if filter_fn(m, fqn))
        assert config.granularity == "per-row"

    fake = types.ModuleType("torchao.quantization")
    fake.quantize_, fake.PerRow = quantize_, lambda: "per-row"
    fake.Float8DynamicActivationFloat8WeightConfig = lambda granularity: types.SimpleNamespace(granularity=granularity)
    monkeypatch.setitem(sys.modules, "torchao", types.ModuleType("torchao"))
    monkeypatch.setitem(sys.modules, "torchao.quantization", fake)
    model = tiny_engine.load("flux-dev")
    model.device = "cuda"  # what check_recipe sees; nothing runs
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: None)
    report = apply_recipe(model, "fp8")
    assert picked and f"{len(picked)} Linear layers in 2 blocks" in report.applied["fp8"]
    assert all(f.startswith(("transformer_blocks.", "single_transformer_blocks.")) for f in picked)
    assert not any(".norm" in f for f in picked)  # AdaLN modulation stays bf16
    assert "transformer_blocks.0.attn.to_q" in picked and "transformer_blocks.0.ff.net.2" in picked


def test_compile_regions_compiles_the_outermost_match_only():
    inner = torch.nn.Sequential(torch.nn.Linear(2, 2))
    outer = torch.nn.Sequential(inner, torch.nn.Sequential(torch.nn.ReLU()))
    assert recipes.compile_regions(outer, ["Sequential"], backend="eager") == 1  # outer itself; its children skip
    assert recipes.compile_regions(inner, ["Linear"], backend="eager") == 1


def test_fp8_picks_linear_layers_with_fp8_shapes():
    assert recipes.linear_for_fp8(torch.nn.Linear(64, 128), "transformer_blocks.0.attn.to_q")
    assert not recipes.linear_for_fp8(torch.nn.Linear(64, 130), "transformer_blocks.0.ff.net.2")
    assert not recipes.linear_for_fp8(torch.nn.Linear(64, 128), "transformer_blocks.0.norm1.linear")
    assert not recipes.linear_for_fp8(torch.nn.Conv2d(64, 64, 1), "proj")


def test_compile_cache_folder_is_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    recipes.configure_compile_cache(tmp_path / "cc")
    assert (tmp_path / "cc" / "inductor").is_dir()
    assert recipes.os.environ["TORCHINDUCTOR_CACHE_DIR"] == str((tmp_path / "cc" / "inductor").resolve())
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    recipes.configure_compile_cache(tmp_path / "cc")  # a folder the user chose wins
    assert recipes.os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")
    path = recipes.artifacts_path(tmp_path, "flux-dev", "compile", "cpu")
    assert path.parent == tmp_path / "mega" and path.name.startswith("flux-dev-compile-cpu-")


def test_warm_up_keeps_the_first_call_apart(monkeypatch):
    clock = iter([0.0, 5.0, 5.0, 6.0, 6.0, 7.5, 7.5, 8.5])  # first call 5 s, then 1, 1.5, 1 s
    monkeypatch.setattr(recipes.time, "perf_counter", lambda: next(clock))
    calls = []
    out, times = recipes.warm_up(lambda: calls.append(1) or len(calls), device="cpu", steady=3)
    assert out == 4 and times.first_s == 5.0 and times.steady_s == [1.0, 1.5, 1.0]
    assert times.steady_median_s == 1.0 and times.compile_s == 4.0


# ---- quality delta (the pixel part of core.scoring.compare) -------------------------------------------------
def _image(value) -> Image.Image:
    return Image.fromarray(np.asarray(value, dtype=np.uint8))


def test_pixel_delta_of_identical_and_shifted_images():
    rng = np.random.default_rng(0)
    a = _image(rng.integers(0, 256, (32, 40, 3)))
    same = pixel_delta(a, a)
    assert same.psnr_db == math.inf and same.ssim == pytest.approx(1.0)
    assert same.as_json() == {"psnr_db": None, "ssim": pytest.approx(1.0)}
    shifted = pixel_delta(_image(np.full((16, 16, 3), 100)), _image(np.full((16, 16, 3), 110)))
    assert shifted.psnr_db == pytest.approx(20 * math.log10(255 / 10), abs=1e-5)  # MSE = 10^2
    assert shifted.ssim < 1.0


def test_pixel_delta_refuses_images_of_different_sizes():
    with pytest.raises(CompareError, match="image size"):
        pixel_delta(_image(np.zeros((16, 16, 3))), _image(np.zeros((16, 24, 3))))
