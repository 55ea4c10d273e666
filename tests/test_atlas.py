"""The compute atlas (core.atlas), the architecture specs (data/architectures) and random-weight builds."""
from __future__ import annotations

import json

import pytest
import torch

from core.architecture import ARCHITECTURES_DIR, Architecture, build_component, load_architecture
from core.atlas import atlas_entry, build_atlas, table
from core.random_weights import build_random_pipeline
from core.registry import OPEN_MODELS
from tests.backends import both_backends

FLUX_PASS_TFLOP_PUBLISHED = 74.5  # FLUX.1-dev transformer, 1024x1024, 512 T5 tokens (published independently)


@pytest.fixture(scope="module")
def atlas():
    """Every open text-to-image model at its default size, 2 steps (the counts per pass do not depend on the step
    count). The editors' rows: `edit_atlas`."""
    return {r.model_key: r for r in build_atlas(steps=2, task="text-to-image")}


EDITORS = [s.key for s in OPEN_MODELS if "edit" in s.tasks]


@pytest.fixture(scope="module")
def edit_atlas():
    """Every open editing model editing a source of its default output size, 2 steps."""
    return {r.model_key: r for r in build_atlas(EDITORS, steps=2, task="edit")}


def test_flux_dev_transformer_pass_at_1024(capsys):
    entry = atlas_entry("flux-dev", width=1024, height=1024, steps=2)
    assert entry.available, entry.reason
    per_pass = entry.flops_per_denoise_call / 1e12
    with capsys.disabled():
        print(f"\nFLUX.1-dev transformer pass at 1024x1024, 512 text tokens: {per_pass:.3f} TFLOP "
              f"(published ~{FLUX_PASS_TFLOP_PUBLISHED})")
    assert per_pass == pytest.approx(74.4, abs=0.1)
    assert per_pass == pytest.approx(FLUX_PASS_TFLOP_PUBLISHED, rel=0.01)
    # the T5 prompt is padded to 512 tokens: 4096 image tokens + 512 text tokens per pass
    sigs = entry.components["transformer"]["signatures"]
    assert any("T[1, 512, 4096]" in s and "T[1, 4096, 64]" in s for s in sigs)
    assert entry.denoise_calls == 2  # guidance-distilled: one pass per step
    assert entry.flops_by_stage["denoise"] == pytest.approx(2 * entry.flops_per_denoise_call)


def test_every_open_model_has_an_entry_or_a_reason(atlas):
    assert set(atlas) == {s.key for s in OPEN_MODELS if "text-to-image" in s.tasks}
    for key, entry in atlas.items():
        if entry.available:
            assert entry.flops_total > 0 and entry.denoise_calls > 0, key
            assert set(entry.flops_by_stage) <= {"text_encode", "denoise", "decode"}, key
            assert entry.flops_total == pytest.approx(sum(entry.flops_by_stage.values()))
            assert entry.params and all(n > 0 for n in entry.params.values()), key
        else:
            assert entry.reason, key
    # all 18 generators and FLUX.2 [klein] (HiDream's CLIPs now have the 248 positions its pipeline's 128 tokens need)
    unavailable = {k: e.reason for k, e in atlas.items() if not e.available}
    assert unavailable == {} and len(atlas) == 19
    print(table(list(atlas.values())))


def test_hidream_is_counted_at_its_defaults():
    entry = atlas_entry("hidream-dev", steps=2)
    assert entry.available, entry.reason
    assert entry.flops_per_denoise_call / 1e12 == pytest.approx(77.8, abs=0.05)  # 1024², 128 + 128 + 128 text tokens
    assert entry.denoise_calls == 2


def test_cfg_styles_in_the_atlas(atlas):
    calls = {k: e.denoise_calls for k, e in atlas.items() if e.available}
    assert calls["flux-dev"] == 2  # distilled: no CFG pass
    assert calls["sdxl"] == 2  # classic CFG: one pass per step, batch doubled
    assert calls["qwen-image"] == 4  # true CFG: a second pass per step with the (default " ") negative prompt
    assert calls["cogview4"] == 4  # separate conditional and unconditional passes
    assert calls["stable-cascade"] == 2 + 10  # prior steps + decoder steps
    sdxl_sig = next(iter(atlas["sdxl"].components["unet"]["signatures"]))
    assert "T[2, 4, 128, 128]" in sdxl_sig


def test_lumina2_cfg_truncation_at_its_defaults():
    entry = atlas_entry("lumina2", steps=8)  # cfg_trunc_ratio 0.25: CFG on the first 2 of 8 steps
    assert entry.denoise_calls == 8 + 2


def test_flops_scale_with_resolution(atlas):
    small = atlas_entry("sdxl", width=512, height=512, steps=2)
    assert small.flops_by_stage["denoise"] < atlas["sdxl"].flops_by_stage["denoise"] / 3


def test_unavailable_architecture_is_reported(monkeypatch):
    import core.atlas as atlas_module

    missing = Architecture("sd21", {"model": "sd21", "available": False, "reason": "no configs collected"})
    monkeypatch.setattr(atlas_module, "load_architecture", lambda key: missing)
    entry = atlas_entry("sd21", steps=2)
    assert not entry.available and entry.reason == "no configs collected"
    assert entry.to_entry().flops_per_image is None


def test_a_failing_component_reason_closes_its_brackets(monkeypatch):
    import core.atlas as atlas_module

    def fail(*args, **kwargs):
        raise ValueError("Sequence length must be less than max_position_embeddings (got `sequence length`: "
                         "128 and max_position_embeddings: 77")

    monkeypatch.setattr(atlas_module, "count_call", fail)
    entry = atlas_entry("sd21", steps=2)
    assert not entry.available
    assert entry.reason.startswith("the text_encoder config cannot run what the pipeline feeds it: ValueError: ")
    assert entry.reason.count("(") == entry.reason.count(")") and entry.reason.endswith("77)")
    assert atlas_module.balanced("a (b [c") == "a (b [c])" and atlas_module.balanced("f(x) [y]") == "f(x) [y]"


def test_cli_prints_the_table_once_into_a_file(db_url, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "atlas.txt"
    root = Path(__file__).resolve().parents[1]
    with open(out, "w") as f:
        done = subprocess.run([sys.executable, "-m", "core.bench", "atlas", "--models", "sd21,pixart-alpha",
                               "--steps", "2", "--no-store"], stdout=f, stderr=subprocess.PIPE, cwd=root,
                              env={**__import__("os").environ, "PYTHONPATH": str(root)}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert text.count("FLOP/img") == 1
    assert [line.split()[0] for line in text.splitlines() if line.startswith(("sd21 ", "pixart-alpha "))] == \
        ["sd21", "pixart-alpha"]


@both_backends
def test_cli_prints_and_stores_the_atlas(db_url, capsys):
    from core.cli.bench import main
    from core.store import atlas_rows, make_engine, session_scope

    assert main(["atlas", "--models", "sdxl,flux-dev", "--steps", "2", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "sdxl" in out and "flux-dev" in out and "stored 2 atlas entries" in out
    with session_scope(make_engine(db_url)) as session:
        rows = {r["model_key"]: r for r in atlas_rows(session=session)}
    assert set(rows) == {"sdxl", "flux-dev"}
    flux = rows["flux-dev"]
    assert flux["available"] and flux["width"] == 1024 and flux["steps"] == 2
    assert flux["flops_per_image"] == pytest.approx(flux["macs_per_image"] * 2)
    assert flux["params_total"] > 16e9 and flux["flops_per_denoise_call"] == pytest.approx(74.38e12, rel=1e-3)


# ---- the architecture specs ----------------------------------------------------------------------------
@pytest.mark.parametrize("key", [s.key for s in OPEN_MODELS])
def test_architecture_specs_are_self_contained_and_cited(key):
    path = ARCHITECTURES_DIR / key / "architecture.json"
    assert path.exists(), f"no spec for {key}"
    data = json.loads(path.read_text())
    assert data["model"] == key
    if not data["available"]:
        assert data["reason"]
        return
    for name, comp in data["components"].items():
        assert comp["source"]["confidence"] in ("E", "N", "R"), name
        # the collected configs (model-configs/...), or the model's own published file (editing models)
        assert comp["source"]["file"].startswith(("model-configs/", "https://huggingface.co/")), name
        assert comp["stage"] in ("text_encode", "denoise", "decode", "unused"), name
        assert set(comp.get("method_stages", {}).values()) <= {"image_encode"}, name
        assert comp["available"] and isinstance(comp["config"], dict), name
    for slot, sched in data["schedulers"].items():
        assert sched["available"] or sched["reason"], slot
    for slot, tok in data["tokenizers"].items():
        assert tok["vocab_size"] and tok["model_max_length"], slot


# ---- random weights --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [s.key for s in OPEN_MODELS])
def test_random_weight_pipeline_builds_on_meta(key):
    from core.families import get_family
    from core.registry import get_spec

    spec = get_spec(key)
    family = get_family(spec.family)
    pipe = build_random_pipeline(family, spec, device="meta", dtype=torch.bfloat16)
    components = family.components(pipe)
    arch = load_architecture(key)
    assert set(components) <= set(arch.components)
    for name, module in components.items():
        params = list(module.parameters())
        assert params and all(p.device.type == "meta" for p in params), name
        assert all(p.dtype == torch.bfloat16 for p in params if p.is_floating_point()), name


def test_random_weight_parameter_counts_match_the_configs():
    from core.families import get_family
    from core.registry import get_spec

    def params(key):
        spec = get_spec(key)
        family = get_family(spec.family)
        comps = family.components(build_random_pipeline(family, spec, device="meta", dtype=torch.bfloat16))
        return {k: sum(p.numel() for p in m.parameters()) for k, m in comps.items()}

    assert params("qwen-image")["transformer"] == 20_430_401_088  # the stated figure, exactly
    flux = params("flux-dev")
    assert flux["transformer"] == 11_901_408_320
    assert round(flux["vae"] / 1e9, 3) == 0.084


def test_random_component_is_created_on_the_device_in_the_dtype():
    """Parameters are created where and as they will live: no float32 copy first."""
    spec = load_architecture("sd21").components["vae"]
    created: list[torch.dtype] = []

    class Watch(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if isinstance(out, torch.Tensor) and out.numel() > 4096:
                created.append(out.dtype)
            return out

    with Watch():
        vae = build_component(spec, device="cpu", dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 and p.device.type == "cpu" for p in vae.parameters())
    assert created and torch.float32 not in created
    assert all(torch.isfinite(p).all() for p in vae.parameters())


def test_random_weights_through_the_loader():
    """load_model(weights="random") builds the full-size pipeline from the spec (on meta here: no memory)."""
    from core.loading import load_model, unload
    from core.registry import get_spec

    model = load_model(get_spec("sdxl"), "random", device="meta")
    try:
        assert model.params["unet"] == 2_567_463_684
        assert model.dtype == torch.float16  # the spec's dtype, off the CPU
        assert model.pipe.tokenizer.model_max_length == 77 and model.pipe.tokenizer_2.model_max_length == 77
        assert model.pipe.unet.config.cross_attention_dim == 2048
        assert model.pipe.vae_scale_factor == 8  # derived from the full-size VAE, not the tiny template's
        assert all(p.dtype == torch.float16 for p in model.pipe.unet.parameters())
    finally:
        unload(model)


# ---- editing models: the source image counts -----------------------------------------------------------
def test_every_editor_has_an_edit_row_with_its_source_counted(edit_atlas):
    assert set(edit_atlas) == set(EDITORS) == {"qwen-image-edit", "flux-kontext-dev", "instruct-pix2pix",
                                               "flux2-klein-4b"}
    for key, entry in edit_atlas.items():
        assert entry.available, (key, entry.reason)
        assert entry.task == "edit" and entry.key.endswith("|edit")
        assert entry.flops_by_stage["image_encode"] > 0, key  # the source through the VAE
        assert entry.flops_total == pytest.approx(sum(entry.flops_by_stage.values()))
        assert entry.to_entry().detail["task"] == "edit"
    print(table(list(edit_atlas.values())))


def test_kontext_attends_over_twice_fluxs_image_sequence(atlas, edit_atlas):
    kontext, flux = edit_atlas["flux-kontext-dev"], atlas["flux-dev"]
    sigs = kontext.components["transformer"]["signatures"]
    # 4096 noise tokens + 4096 source tokens (FLUX: 4096), 512 T5 tokens
    assert any("T[1, 8192, 64]" in s and "T[1, 512, 4096]" in s for s in sigs), sigs
    assert kontext.denoise_calls == 2  # guidance-distilled, as FLUX.1 [dev]
    # linear layers double, attention grows with the square: more than twice FLUX's pass, less than four times
    ratio = kontext.flops_per_denoise_call / flux.flops_per_denoise_call
    assert 2.0 < ratio < 4.0, ratio


def test_editor_guidance_passes(edit_atlas):
    assert edit_atlas["qwen-image-edit"].denoise_calls == 4  # true CFG with the " " negative prompt
    assert edit_atlas["flux2-klein-4b"].denoise_calls == 2  # step-distilled: no CFG pass
    pix2pix = edit_atlas["instruct-pix2pix"]
    assert pix2pix.denoise_calls == 2
    # text and image guidance: the U-Net sees a batch of three (text+image, image only, neither), 8 channels
    assert any(s.startswith("forward(T[3, 8, 64, 64]") for s in pix2pix.components["unet"]["signatures"])


def test_klein_counts_both_tasks(atlas, edit_atlas):
    generate, edit = atlas["flux2-klein-4b"], edit_atlas["flux2-klein-4b"]
    assert generate.available and edit.available, (generate.reason, edit.reason)
    assert "image_encode" not in generate.flops_by_stage and edit.flops_by_stage["image_encode"] > 0
    assert edit.flops_per_denoise_call > 2 * generate.flops_per_denoise_call
    assert generate.key != edit.key
