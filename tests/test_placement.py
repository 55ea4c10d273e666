"""Ray placement and multi-GPU accounting, without Ray or GPUs: how many GPUs a model needs, which model a
free worker takes, which GPUs a split model held, and MFU against the peak of all of them."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from core.environment import physical_gpu_ids
from core.errors import RequestError
from core.executors.base import check_executor
from core.executors.placement import STEAL_MIN_CHUNKS, Candidate, choose_model, gpus_needed
from core.loading import LoadedModel
from core.profiling import held_peak_tflops
from core.registry import get_spec

FLUX, SDXL = get_spec("flux-dev"), get_spec("sdxl")


def test_a_model_that_does_not_fit_one_gpu_needs_several():
    big = replace(FLUX, vram_gb=100.0)
    assert gpus_needed(big, free_gb=80.0, max_gpus=8) == 2  # 100 / (80 x 0.95) -> 2
    assert gpus_needed(big, free_gb=140.0, max_gpus=8) == 1
    assert gpus_needed(big, free_gb=20.0, max_gpus=4) == 4  # capped at the largest node
    assert gpus_needed(big, free_gb=20.0, max_gpus=8, multi_gpu="never") == 1
    assert gpus_needed(SDXL, free_gb=140.0, max_gpus=2, multi_gpu="always") == 2
    assert gpus_needed(SDXL, free_gb=140.0, max_gpus=1, multi_gpu="always") == 1  # one GPU: nothing to split


def test_a_free_worker_takes_a_fresh_model_first_then_helps_the_busiest():
    small, large = replace(SDXL, vram_gb=10.0), replace(FLUX, vram_gb=60.0)
    cands = [Candidate(small, queued=3, workers=0, gpus=1), Candidate(large, queued=5, workers=1, gpus=1)]
    assert choose_model(cands, gpus=1, free_gb=80.0) == "sdxl"
    assert choose_model(cands[1:], gpus=1, free_gb=40.0) is None  # 60 GB does not fit a GPU with 40 GB free
    cands[0] = Candidate(small, queued=3, workers=1, gpus=1)
    assert choose_model(cands, gpus=1, free_gb=80.0) == "flux-dev"  # the one with the most chunks waiting
    few = [Candidate(large, queued=STEAL_MIN_CHUNKS - 1, workers=1, gpus=1)]
    assert choose_model(few, gpus=1, free_gb=80.0) is None  # not worth a second load
    assert choose_model([Candidate(large, queued=5, workers=0, gpus=2)], gpus=1, free_gb=80.0) is None


def test_a_split_model_held_each_gpu_of_its_device_map():
    pipe = SimpleNamespace(hf_device_map={"text_encoder": 0, "transformer": "cuda:1", "vae": "1"})
    model = LoadedModel(spec=FLUX, family=None, pipe=pipe, weights="pretrained", device="cuda", dtype=None,
                        load_s=0.0, device_map="balanced")
    assert model.held_devices() == ["cuda:0", "cuda:1"]
    assert replace(model, device_map=None).held_devices() == ["cuda"]


def test_mfu_of_a_split_model_is_against_the_summed_peak():
    peaks = {"cuda:0": 750.0, "cuda:1": 750.0}
    assert held_peak_tflops(["cuda:0", "cuda:1"], peak_of=peaks.get) == 1500.0
    assert held_peak_tflops(["cuda:0"], peak_of=peaks.get) == 750.0
    assert held_peak_tflops(["cpu"], peak_of=lambda d: None) is None


def test_gpu_ids_are_the_machines_own(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")  # what Ray gives a worker with two GPUs
    assert physical_gpu_ids(["cuda:0", "cuda:1"]) == ["4", "6"]
    assert physical_gpu_ids(["cuda"]) == ["4"] and physical_gpu_ids(["cpu"]) == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert physical_gpu_ids(["cuda:1"]) == ["1"]


@pytest.mark.parametrize("executor, address, field", [("dask", None, "executor"), ("local", "auto", "ray-address"),
                                                      ("ray", "ray://head", "ray-address"), ("ray", "h:99999", "ray-address")])
def test_bad_executor_settings_name_the_field(executor, address, field):
    with pytest.raises(RequestError, match=f"^{field}: "):
        check_executor(executor, address)
    check_executor("ray", "ray://head:10001")
    check_executor("ray", "auto")
    check_executor("ray", "10.0.0.1:6379")
