"""On a CUDA machine: random-weight generation with FLOPs, TFLOP/s, MFU and cheap profiling (skipped elsewhere).

The full benchmark (SDXL, FLUX.1-dev, SANA 1.5 at their default sizes) is scripts/gpu_benchmark.py; this
test runs the smallest of them briefly.
"""
from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_device_peak_is_measured_once_and_kept(db):
    from core.profiling import _PEAKS, device_peak_tflops

    _PEAKS.clear()
    peak = device_peak_tflops("cuda", db=db)
    assert peak and 10 < peak < 5000
    _PEAKS.clear()
    assert device_peak_tflops("cuda", db=db) == peak  # from the store, not measured again


def test_random_weight_generation_on_gpu_has_flops_and_mfu(monkeypatch):
    from core.generation import Engine
    from core.jobs import GenerationRequest

    monkeypatch.setenv("IGCS_DEVICE", "cuda")
    engine = Engine(weights="random", device="cuda")
    request = engine.prepare(GenerationRequest(model="sana15-1.6b", prompt="a cat", seed=0, steps=4,
                                               width=512, height=512))
    try:
        first = engine.generate(request)
        assert first.ok, first.error
        assert first.flops_total > 0 and first.tflops_per_s > 0 and 0 < first.mfu < 1
        assert set(first.stage_s) >= {"text_encode", "denoise", "decode"}
        params = next(iter(engine.resident.values())).pipe.transformer.parameters()
        assert next(params).dtype == torch.bfloat16
        again = engine.generate(request)  # the same seed gives the same image (CPU generators, seeded RNG)
        diff = (torch.tensor(list(again.images[0].getdata())) - torch.tensor(list(first.images[0].getdata())))
        assert int(diff.abs().max()) <= 1
        engine.profile_flops = engine.profile_stages = False  # the overhead baseline: whole call timed only
        bare = engine.generate(request)
        assert bare.ok and bare.total_s > 0 and bare.flops_total is None and bare.stage_s == {}
        # The profiling overhead is measured (as a ratio, at full size) by scripts/gpu_benchmark.py, not here.
    finally:
        engine.unload_all()


def test_random_weight_edit_on_gpu_counts_its_source(monkeypatch, tmp_path):
    """FLUX.2 [klein] (the smallest open editor) edits a 512x512 source at full size: the source's encode is timed
    and counted, the denoiser sees the source's tokens, MFU is measured (scripts/gpu_edit.py: all four editors)."""
    from PIL import Image

    from core.generation import Engine
    from core.jobs import EDIT, GenerationRequest, InputImage

    monkeypatch.setenv("IGCS_DEVICE", "cuda")
    Image.new("RGB", (512, 512), (200, 30, 30)).save(tmp_path / "source.png")
    engine = Engine(weights="random", device="cuda")
    request = engine.prepare(GenerationRequest(model="flux2-klein-4b", prompt="make it blue", seed=0, task=EDIT,
                                               inputs=(InputImage.from_path(tmp_path / "source.png"),)))
    assert (request.width, request.height) == (512, 512)  # the source's size (under 1024x1024 pixels)
    try:
        outcome = engine.generate(request)
        assert outcome.ok, outcome.error
        assert outcome.images[0].size == (512, 512)
        assert outcome.flops["image_encode"] > 0 and outcome.profile["image_encode_s"] > 0
        assert 0 < outcome.mfu < 1
    finally:
        engine.unload_all()
