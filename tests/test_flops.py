"""FLOPs/MACs counting (core.flops, core.profiling): hand-computed counts, torch's FlopCounterMode as the
cross-check, and the calls each pipeline actually makes (CFG styles). FLOPs = 2 x MACs throughout."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from core.flops import (FlopCache, TensorSpec, ValuedMeta, build_meta_twin, count_call, count_macs, signature,
                        torch_flop_count)
from core.registry import get_spec, model_keys
from tests.backends import both_backends


def _macs(fn) -> int:
    with count_macs() as counter:
        fn()
    return counter.macs


# ---- single operations, by hand --------------------------------------------------------------------------
def test_linear_counts_in_times_out_per_token():
    layer = torch.nn.Linear(64, 32)  # bias: an add, not a MAC
    x = torch.randn(3, 10, 64)
    assert _macs(lambda: layer(x)) == 3 * 10 * 64 * 32
    assert torch_flop_count(lambda: layer(x)) == 2 * 3 * 10 * 64 * 32


def test_convolution_counts_weights_times_output_positions():
    conv = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2)
    x = torch.randn(2, 8, 12, 12)
    out_positions = 6 * 6
    expected = 2 * (16 * (8 // 2) * 3 * 3) * out_positions
    assert _macs(lambda: conv(x)) == expected
    assert torch_flop_count(lambda: conv(x)) == 2 * expected


def test_transposed_convolution_counts_input_positions():
    conv = torch.nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1)
    x = torch.randn(1, 4, 5, 5)
    assert _macs(lambda: conv(x)) == 1 * (4 * 6 * 4 * 4) * (5 * 5)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_self_attention_sdpa_counts_qk_and_av(device):
    b, h, L, d = 2, 4, 16, 8
    q = torch.randn(b, h, L, d, device=device)
    expected = b * h * L * L * d * 2  # QK^T and AV
    # on the CPU this is the fused flash kernel, which ptflops alone does not count; on meta it decomposes to bmm
    assert _macs(lambda: F.scaled_dot_product_attention(q, q, q)) == expected


def test_fused_sdpa_equals_the_math_path_and_flop_counter_mode():
    q, k, v = torch.randn(1, 2, 10, 16), torch.randn(1, 2, 24, 16), torch.randn(1, 2, 24, 32)
    fused = _macs(lambda: F.scaled_dot_product_attention(q, k, v))
    with sdpa_kernel(SDPBackend.MATH):
        math = _macs(lambda: F.scaled_dot_product_attention(q, k, v))
        reference = torch_flop_count(lambda: F.scaled_dot_product_attention(q, k, v))
    assert fused == math == 1 * 2 * 10 * 24 * (16 + 32)
    assert reference == 2 * fused


def _attention_macs(b, lq, lk, dq, dkv, inner, heads) -> int:
    projections = b * lq * dq * inner + 2 * b * lk * dkv * inner + b * lq * inner * dq
    return projections + b * heads * lq * lk * 2 * (inner // heads)


@pytest.mark.parametrize("processor", ["AttnProcessor2_0", "AttnProcessor"])
def test_cross_attention_module_by_hand(processor):
    """diffusers' Attention: SDPA processor and the classic baddbmm/bmm processor count the same."""
    from diffusers.models import attention_processor as ap

    attn = ap.Attention(query_dim=32, cross_attention_dim=24, heads=4, dim_head=8)
    attn.set_processor(getattr(ap, processor)())
    x, ctx = torch.randn(2, 16, 32), torch.randn(2, 7, 24)
    expected = _attention_macs(2, 16, 7, 32, 24, 32, 4)
    assert _macs(lambda: attn(x, encoder_hidden_states=ctx)) == expected
    with sdpa_kernel(SDPBackend.MATH):
        assert torch_flop_count(lambda: attn(x, encoder_hidden_states=ctx)) == 2 * expected


def test_whole_transformer_block_by_hand():
    """Self-attention, cross-attention and a GEGLU feed-forward (4x): every matmul of the block."""
    from diffusers.models.attention import BasicTransformerBlock

    b, L, D, heads, Lc, Dc = 2, 16, 32, 4, 7, 24
    block = BasicTransformerBlock(D, heads, D // heads, cross_attention_dim=Dc).eval()
    x, ctx = torch.randn(b, L, D), torch.randn(b, Lc, Dc)
    self_attn = _attention_macs(b, L, L, D, D, D, heads)
    cross_attn = _attention_macs(b, L, Lc, D, Dc, D, heads)
    feed_forward = b * L * D * (2 * 4 * D) + b * L * (4 * D) * D  # GEGLU projection, then back down
    expected = self_attn + cross_attn + feed_forward
    with torch.no_grad():
        assert _macs(lambda: block(x, encoder_hidden_states=ctx)) == expected
    # the same block counted on the meta device (no weights), as the engine and the atlas count
    twin = build_meta_twin(block) if hasattr(block, "config") else block.to("meta")
    count, out = count_call(twin, "forward", (TensorSpec((b, L, D), torch.float32),),
                            {"encoder_hidden_states": TensorSpec((b, Lc, Dc), torch.float32)})
    assert count.macs == expected and count.flops == 2 * expected
    assert out.shape == (b, L, D) and out.device.type == "meta"


# ---- meta tensors that keep values; signatures; the cache -----------------------------------------------
def test_valued_meta_answers_data_dependent_questions():
    mask = ValuedMeta(torch.tensor([[1, 1, 0], [1, 0, 0]]))
    assert mask.device.type == "meta"
    assert mask.sum(dim=1).tolist() == [2, 1]
    assert not bool(mask.all()) and bool(mask.bool().any())
    assert mask[:, :2].sum().item() == 3


def test_signature_ignores_values_that_do_not_change_the_work():
    a = signature((torch.zeros(2, 4), 0.5), {"ids": torch.tensor([[5, 7, 9]])})
    b = signature((torch.ones(2, 4), 0.9), {"ids": torch.tensor([[1, 2, 3]])})
    assert a == b  # timesteps (floats) and token ids do not change the FLOPs
    kept_3 = signature((), {"mask": torch.tensor([[1, 1, 1, 0]])})
    kept_2 = signature((), {"mask": torch.tensor([[1, 1, 0, 0]])})
    assert kept_3 != kept_2  # what a mask keeps can (Lumina 2 drops padding)


@both_backends
def test_flop_cache_round_trips_through_the_store(db):
    from core.flops import CallCount

    cache = FlopCache(db=db)
    key = cache.key("m", "unet", "forward", "cfg", "sig")
    assert cache.get(key) is None
    cache.put(key, CallCount(123), model_key="m", component="unet", shapes="sig")
    assert FlopCache(db=db).get(key).macs == 123  # a new process reads the store


# ---- whole tiny pipelines through the engine -----------------------------------------------------------
def _reference_flops(engine, request) -> int:
    """The whole pipeline call under torch's FlopCounterMode (the math SDPA backend: torch's counter does
    not count the CPU flash kernel)."""
    from torch.utils.flop_counter import FlopCounterMode

    from core.generation import make_generator

    model = engine.load(request.model)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model.family.run(model.pipe, engine.spec_for(request.model), request, make_generator(request.seed, 1))
    return int(counter.get_total_flops())


@pytest.mark.parametrize("key", [k for k in model_keys("open") if "text-to-image" in get_spec(k).tasks])
def test_tiny_pipeline_flops_agree_with_flop_counter_mode(tiny_engine, key):
    from core.jobs import GenerationRequest

    request = tiny_engine.prepare(GenerationRequest(model=key, prompt="a red cat on a blue chair", seed=3))
    outcome = tiny_engine.generate(request)
    assert outcome.ok, outcome.error
    assert not outcome.profile["flops"].get("errors")
    reference = _reference_flops(tiny_engine, request)
    assert reference > 0
    assert outcome.flops_total == pytest.approx(reference, rel=0.01)
    assert outcome.flops_total == 2 * outcome.macs_total
    assert sum(outcome.flops.values()) == pytest.approx(outcome.flops_total)
    assert outcome.tflops_per_s and outcome.tflops_per_s > 0
    assert outcome.mfu is None  # no bf16 peak on the CPU


def test_flops_are_recorded_on_the_generation_row(tiny_engine, db, out_dir):
    from core.recording import Recorder
    from core.jobs import GenerationRequest

    request = tiny_engine.prepare(GenerationRequest(model="sd21", prompt="a cat", seed=1))
    outcome = tiny_engine.generate(request)
    recorder = Recorder(db=db, output_dir=out_dir, kind="generate", mode="dev", weights="tiny", device="cpu")
    (row,) = recorder.record(outcome, job_key=request.job_key("tiny"))
    assert row.flops_total == outcome.flops_total and row.macs_total * 2 == row.flops_total
    assert row.flops_denoise and row.flops_text_encode and row.flops_decode
    assert row.flops_text_encode + row.flops_denoise + row.flops_decode == pytest.approx(row.flops_total)
    assert row.tflops_per_s > 0 and row.profile["flops"]["unit"].startswith("FLOPs = 2 x MACs")


def test_counts_are_cached_once_per_shape(tiny_engine):
    from core.jobs import GenerationRequest

    request = tiny_engine.prepare(GenerationRequest(model="flux-dev", prompt="a cat", seed=1))
    first = tiny_engine.generate(request)
    tiny_engine._meta_twins.clear()  # a second generation needs no meta twin: every count is cached
    second = tiny_engine.generate(request)
    assert second.flops_total == first.flops_total
    assert not any(tiny_engine._meta_twins.values())


def test_profiling_off_records_no_flops():
    from core.generation import Engine
    from core.jobs import GenerationRequest

    engine = Engine(weights="tiny", device="cpu", profile_flops=False, profile_stages=False)
    outcome = engine.generate(engine.prepare(GenerationRequest(model="sd21", prompt="a cat", seed=1)))
    assert outcome.ok and outcome.flops_total is None and not outcome.stage_s and outcome.total_s > 0
    engine.unload_all()


# ---- the calls the pipelines make (never steps x 2) ----------------------------------------------------------
def _denoiser_batches(engine, key, **request_fields) -> dict[str, list[int]]:
    """Batch size of every denoiser call of one tiny generation, per component."""
    from core.profiling import StageTimer
    from core.jobs import GenerationRequest
    from core.generation import make_generator

    request = engine.prepare(GenerationRequest(model=key, prompt="a cat", seed=0, **request_fields))
    model = engine.load(key)
    timer = StageTimer(model.family.components(model.pipe), model.family.stages(), "cpu", capture=True)
    with torch.inference_mode(), timer.measure():
        model.family.run(model.pipe, engine.spec_for(key), request, make_generator(request.seed, 1))
    out: dict[str, list[int]] = {}
    for call in timer.records:
        if call.stage in ("denoise", "prior", "decoder", "other") and call.component not in ("decoder.text_encoder", "text_decoder"):
            tensors = [v for v in (*call.args, *call.kwargs.values()) if isinstance(v, TensorSpec) and v.shape]
            out.setdefault(call.component, []).append(tensors[0].shape[0])
    return out


def test_flux_is_guidance_distilled_one_pass_per_step(tiny_engine):
    assert _denoiser_batches(tiny_engine, "flux-dev", steps=3) == {"transformer": [1, 1, 1]}


def test_classic_cfg_doubles_the_batch(tiny_engine):
    assert _denoiser_batches(tiny_engine, "sdxl", steps=3) == {"unet": [2, 2, 2]}


def test_qwen_image_runs_a_second_pass_with_a_negative_prompt(tiny_engine):
    # the family always passes a negative prompt (" " when none is given): true CFG, two passes per step
    assert _denoiser_batches(tiny_engine, "qwen-image", steps=2) == {"transformer": [1, 1, 1, 1]}


def test_qwen_image_without_a_negative_prompt_makes_one_pass(tiny_engine):
    """The pipeline itself skips true CFG when no negative prompt reaches it."""
    from core.families.qwen_image import QwenImageFamily
    from core.profiling import StageTimer

    model = tiny_engine.load("qwen-image")
    timer = StageTimer(model.family.components(model.pipe), model.family.stages(), "cpu", capture=True)
    with torch.inference_mode(), timer.measure():
        model.pipe(prompt="a cat", true_cfg_scale=4.0, num_inference_steps=2, width=32, height=32,
                   generator=torch.Generator().manual_seed(0), output_type="latent")
    assert [c.component for c in timer.records if c.stage == "denoise"] == ["transformer", "transformer"]
    assert QwenImageFamily  # the family adds " " in call_kwargs, see the test above


def test_lumina2_truncates_cfg_after_a_share_of_the_steps(tiny_engine):
    # cfg_trunc_ratio 0.25 of 8 steps: the first 2 steps run an unconditional pass too
    batches = _denoiser_batches(tiny_engine, "lumina2", steps=8)
    assert batches == {"transformer": [1] * 10}


def test_stable_cascade_counts_both_stages(tiny_engine):
    batches = _denoiser_batches(tiny_engine, "stable-cascade", steps=3)
    assert batches["prior.prior"] == [2, 2, 2]  # classic CFG at 4.0
    assert batches["decoder.decoder"] == [1] * 10  # decoder steps, guidance 0: one pass each


def test_hidream_dev_makes_one_pass_per_step(tiny_engine):
    assert _denoiser_batches(tiny_engine, "hidream-dev", steps=2) == {"transformer": [1, 1]}


def test_a_call_in_another_dtype_than_the_module_is_counted():
    """SDXL upcasts its float16 VAE to float32 to decode, then casts it back: the decode still counts."""
    from core.families.sd import tiny_vae
    from core.profiling import StageTimer, flop_profile

    vae = tiny_vae().to(torch.float16)
    timer = StageTimer({"vae": vae}, {"decode": (("vae",), "decode", "sum")}, "cpu", capture=True)
    latents = torch.randn(1, 4, 8, 8)
    with timer.measure(), torch.no_grad():
        vae.to(torch.float32)
        vae.decode(latents)
        vae.to(torch.float16)
    profile = flop_profile(timer.records, {"vae": vae}, model_key="x", cache=FlopCache(), twins={})
    assert not profile.errors
    with torch.no_grad():
        expected = _macs(lambda: tiny_vae().decode(latents))
    assert profile.macs_total == expected > 0
