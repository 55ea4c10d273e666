"""HPSv2.1, ImageReward and VQAScore on their tiny twins; the authors' checkpoints through our conversions; weights
that are missing offline; scorer weights that follow the rows; `python -m core.bench weights` on a fake HF cache.

Parity with the authors' packages runs outside the test suite (they do not install beside our pins):
scripts/parity_scorers.py, whose output is in README ("Quality scores").
"""
from __future__ import annotations

import json
import logging
import time

import huggingface_hub
import huggingface_hub.constants
import numpy as np
import pytest
import torch
from PIL import Image
from sqlmodel import select
from transformers import CLIPModel

from core.scoring import sources
from core.scoring.backfill import ScorerSet, score_missing
from core.cli.score import main as score_main
from core.scoring.hps import clip_from_open_clip
from core.scoring.imagereward import IR_MEAN, IR_STD, imagereward_from_checkpoint
from core.scoring.metrics import DEFAULT_METRICS, LABELS, METRICS
from core.scoring.scorers import SCORERS, make_scorer, parse_metrics
from core.scoring.sources import ScorerWeightsError, fetch_command
from core.scoring.tiny import tiny_clip, tiny_imagereward
from core.scoring.transforms import OPENAI_MEAN, OPENAI_STD, resize_crop, resize_longest_pad
from core.settings import get_settings
from core.store import Generation, Run, Score, add_generation, add_run, session_scope
from core.cli.weights import main as weights_main
from dashboard.chart_scores import METRIC_LABELS as CHART_LABELS
from tests.backends import both_backends

NEW = ("hps", "imagereward", "vqascore")
PROMPTS = ["a red cat", "two dogs on the left of a house", "photo of a blue sky", "a robot riding a horse"]


def _images(n: int = 4, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    sizes = [(48, 40), (32, 32), (64, 40), (40, 90)]
    return [Image.fromarray(rng.integers(0, 256, (*sizes[i % 4], 3), dtype=np.uint8)) for i in range(n)]


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    path = tmp_path / "models"
    path.mkdir()
    monkeypatch.setenv("IGCS_MODELS_DIR", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """No network, HF_HUB_OFFLINE unset, an empty cache; the hub endpoint a closed local port. A download attempt
    (huggingface_hub's retry loop) fails the test."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))

    def no_download(*args, **kwargs):
        raise AssertionError("a hub download was attempted while the hub is unreachable")

    monkeypatch.setattr(sources, "hf_hub_download", no_download)
    monkeypatch.setattr(sources, "snapshot_download", no_download)


# ---- the metrics --------------------------------------------------------------------------------------------
def test_new_metrics_are_named_labelled_and_opt_in():
    assert set(NEW) <= set(SCORERS) and set(NEW) <= set(METRICS)
    assert {m: LABELS[m] for m in NEW} == {"hps": "HPSv2.1", "imagereward": "ImageReward v1.0",
                                          "vqascore": "VQAScore (Qwen2.5-VL-7B)"}
    assert {m: CHART_LABELS[m] for m in NEW} == {"hps": "HPSv2.1", "imagereward": "ImageReward",
                                                "vqascore": "VQAScore"}
    # a default never pulls a new multi-GB model: the first three and the edit metrics stay the default
    assert {"clip", "pick", "aesthetic"} <= set(DEFAULT_METRICS) and not set(NEW) & set(DEFAULT_METRICS)
    assert parse_metrics("hps,imagereward,vqascore") == list(NEW)


@pytest.mark.parametrize("metric", NEW)
def test_new_metrics_score_the_same_one_at_a_time_and_in_a_batch(metric):
    scorer = make_scorer(metric, weights="tiny").load("cpu")
    images = _images()
    batch = scorer.score(images, PROMPTS)
    single = [scorer.score([im], [p])[0] for im, p in zip(images, PROMPTS)]
    np.testing.assert_allclose(batch, single, rtol=1e-6, atol=1e-5)
    assert len({round(v, 6) for v in batch}) == len(batch)  # images and prompts change the score
    assert scorer.revision.startswith("tiny-") and scorer.scorer_id.startswith("tiny:")


def test_hps_is_the_cosine_of_clip_embeddings_of_the_padded_image():
    scorer = make_scorer("hps", weights="tiny").load("cpu")
    images = _images()
    ours = scorer.score(images, PROMPTS)
    model = scorer.model
    pixels = torch.stack([resize_longest_pad(im, 32) for im in images])
    text = scorer.tokenizer(PROMPTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=text["input_ids"], attention_mask=text["attention_mask"], pixel_values=pixels)
    expected = torch.diagonal(out.image_embeds @ out.text_embeds.T)  # hpsv2: diag(logits_per_image), no scale
    np.testing.assert_allclose(ours, expected.numpy(), atol=1e-5)
    assert all(-1 <= v <= 1 for v in ours)


def test_imagereward_is_the_standardised_mlp_of_the_cls_state():
    scorer = make_scorer("imagereward", weights="tiny").load("cpu")
    image, prompt = _images(1)[0], "a red cat"
    tok = scorer.tokenizer([prompt], padding="max_length", max_length=35, return_tensors="pt")
    assert tok["input_ids"].shape == (1, 35) and tok["input_ids"][0, 0] == scorer.tokenizer.cls_token_id
    with torch.no_grad():
        embeds = scorer.vision(pixel_values=resize_crop(image, 32)[None]).last_hidden_state
        cls = scorer.text(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"],
                          encoder_hidden_states=embeds).last_hidden_state[:, 0]
        expected = (scorer.mlp(cls).item() - IR_MEAN) / IR_STD
    assert scorer.score([image], [prompt])[0] == pytest.approx(expected, abs=1e-5)


def test_vqascore_is_the_probability_of_yes_and_refuses_the_cpu_for_pretrained_weights():
    scorer = make_scorer("vqascore", weights="tiny").load("cpu")
    values = scorer.score(_images(2), PROMPTS[:2])
    assert all(0 < v < 1 for v in values)
    inputs = scorer.prepare(_images(1), PROMPTS[:1])
    assert (inputs["input_ids"] == scorer.model.config.image_token_id).sum() == inputs["image_grid_thw"].prod() // 4
    with torch.no_grad():  # no generation-config processors on the twin: the next-token softmax itself
        logits = scorer.model(**{k: v for k, v in inputs.items() if k != "answer_id"}).logits[:, -1]
    expected = torch.softmax(logits.float(), -1)[0, scorer.tokenizer.convert_tokens_to_ids("Yes")]
    assert scorer.score(_images(1), PROMPTS[:1])[0] == pytest.approx(expected.item(), abs=1e-6)
    with pytest.raises(ValueError, match="needs a CUDA device"):  # before anything loads
        ScorerSet("vqascore", device="cpu", weights="pretrained")


def test_transforms_keep_the_whole_image_for_hps_and_centre_crop_for_imagereward():
    wide = Image.fromarray(np.full((10, 40, 3), 255, dtype=np.uint8))  # white, 4:1
    padded = resize_longest_pad(wide, 32)
    assert padded.shape == (3, 32, 32)
    black = (torch.zeros(3) - torch.tensor(OPENAI_MEAN)) / torch.tensor(OPENAI_STD)
    white = (torch.ones(3) - torch.tensor(OPENAI_MEAN)) / torch.tensor(OPENAI_STD)
    torch.testing.assert_close(padded[:, 0, 0], black)  # rows above the image: zero padding, then normalised
    torch.testing.assert_close(padded[:, 16, 16], white, atol=1e-4, rtol=0)
    assert (padded[0, :, 0] > 0).sum() == 8  # 40 -> 32 wide, 10 -> 8 high, centred: rows 12..19
    cropped = resize_crop(wide, 32)
    assert cropped.shape == (3, 32, 32)
    torch.testing.assert_close(cropped[:, 0, 0], white, atol=1e-4, rtol=0)  # shortest edge to 32: no padding


# ---- the authors' checkpoint layouts --------------------------------------------------------------------------
def _as_open_clip(model: CLIPModel) -> dict[str, torch.Tensor]:
    """A transformers CLIP state dict written back in open_clip's names (the layout of HPS_v2.1_compressed.pt)."""
    sd, out = model.state_dict(), {}
    out.update({"logit_scale": sd["logit_scale"],
                "token_embedding.weight": sd["text_model.embeddings.token_embedding.weight"],
                "positional_embedding": sd["text_model.embeddings.position_embedding.weight"],
                "ln_final.weight": sd["text_model.final_layer_norm.weight"],
                "ln_final.bias": sd["text_model.final_layer_norm.bias"],
                "text_projection": sd["text_projection.weight"].T, "visual.proj": sd["visual_projection.weight"].T,
                "visual.class_embedding": sd["vision_model.embeddings.class_embedding"],
                "visual.conv1.weight": sd["vision_model.embeddings.patch_embedding.weight"],
                "visual.positional_embedding": sd["vision_model.embeddings.position_embedding.weight"]})
    for a, b in (("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")):
        out[f"visual.{a}.weight"], out[f"visual.{a}.bias"] = (sd[f"vision_model.{b}.weight"],
                                                             sd[f"vision_model.{b}.bias"])
    for src, dst, n in (("text_model.", "", model.config.text_config.num_hidden_layers),
                        ("vision_model.", "visual.", model.config.vision_config.num_hidden_layers)):
        for i in range(n):
            s, d = f"{src}encoder.layers.{i}.", f"{dst}transformer.resblocks.{i}."
            out[d + "attn.in_proj_weight"] = torch.cat([sd[s + f"self_attn.{x}_proj.weight"] for x in "qkv"])
            out[d + "attn.in_proj_bias"] = torch.cat([sd[s + f"self_attn.{x}_proj.bias"] for x in "qkv"])
            for a, b in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                         ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                out[d + a + ".weight"], out[d + a + ".bias"] = sd[s + b + ".weight"], sd[s + b + ".bias"]
    return {"module." + k: v for k, v in out.items()}  # as saved from DistributedDataParallel


def test_an_open_clip_checkpoint_becomes_the_same_clip_model():
    model, processor = tiny_clip(seed=11)
    rebuilt = clip_from_open_clip(_as_open_clip(model), model.config)
    pixels = processor(images=_images(2), return_tensors="pt")["pixel_values"]
    ids = processor(text=PROMPTS[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        a, b = model(**ids, pixel_values=pixels), rebuilt(**ids, pixel_values=pixels)
    torch.testing.assert_close(a.logits_per_image, b.logits_per_image)


def test_an_imagereward_checkpoint_becomes_the_same_modules():
    vision, text, mlp, _ = tiny_imagereward(seed=12)
    state = {"blip.visual_encoder.cls_token": vision.embeddings.class_embedding,
             "blip.visual_encoder.pos_embed": vision.embeddings.position_embedding,
             "blip.visual_encoder.patch_embed.proj.weight": vision.embeddings.patch_embedding.weight,
             "blip.visual_encoder.patch_embed.proj.bias": vision.embeddings.patch_embedding.bias,
             "blip.visual_encoder.norm.weight": vision.post_layernorm.weight,
             "blip.visual_encoder.norm.bias": vision.post_layernorm.bias,
             "blip.text_encoder.embeddings.position_ids": torch.arange(64)[None],
             "blip.vision_proj.weight": torch.zeros(4, 32)}  # in the checkpoint, unused by the reward
    for i, layer in enumerate(vision.encoder.layers):
        for a, module in (("norm1", layer.layer_norm1), ("norm2", layer.layer_norm2), ("attn.qkv", layer.self_attn.qkv),
                          ("attn.proj", layer.self_attn.projection), ("mlp.fc1", layer.mlp.fc1),
                          ("mlp.fc2", layer.mlp.fc2)):
            state[f"blip.visual_encoder.blocks.{i}.{a}.weight"] = module.weight
            state[f"blip.visual_encoder.blocks.{i}.{a}.bias"] = module.bias
    state.update({f"blip.text_encoder.{k}": v for k, v in text.state_dict().items()})
    state.update({f"mlp.{k}": v for k, v in mlp.state_dict().items()})
    v2, t2, m2 = imagereward_from_checkpoint(state, vision_config=vision.config, text_config=text.config)
    for before, after in ((vision, v2), (text, t2), (mlp, m2)):
        for (name, x), (_, y) in zip(sorted(before.state_dict().items()), sorted(after.state_dict().items())):
            torch.testing.assert_close(x, y, msg=name)


# ---- missing weights, offline ---------------------------------------------------------------------------------
@pytest.mark.parametrize("metric, command", [
    ("clip", "hf download openai/clip-vit-large-patch14 --include '*.json'"),
    ("hps", "hf download xswu/HPSv2 HPS_v2.1_compressed.pt"),
    ("imagereward", "hf download THUDM/ImageReward ImageReward.pt"),
])
def test_a_missing_weight_fails_at_once_with_its_command_and_no_retry_loop(metric, command, no_hub, caplog):
    caplog.set_level(logging.WARNING)
    t0 = time.perf_counter()
    with pytest.raises(ScorerWeightsError) as err:
        make_scorer(metric).load("cpu")
    elapsed = time.perf_counter() - t0
    assert command in str(err.value) and "did not answer" in str(err.value)
    assert "Retrying" not in caplog.text and elapsed < 10  # huggingface_hub's loop takes ~25 s; ours one probe


@both_backends
def test_score_command_offline_fails_fast_with_the_command_once(db_url, db, tmp_path, no_hub, capsys):
    with session_scope(db) as s:
        run = add_run(session=s, run=Run(kind="bench"))
        path = tmp_path / "a.png"
        _images(1)[0].save(path)
        add_generation(session=s, generation=Generation(run_id=run.id, job_key="k", model_key="sd21",
                                                        prompt="a cat", image_path=str(path)))
    t0 = time.perf_counter()
    assert score_main(["--all", "--metrics", "hps", "--device", "cpu", "--db", db_url]) == 1
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert err.count("hf download xswu/HPSv2 HPS_v2.1_compressed.pt") == 1 and "Retrying" not in err


def test_hub_reachable_is_one_quick_probe(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    assert sources.hub_reachable() is False
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert sources.hub_reachable() is False
    assert fetch_command("a/b", ("x.pt",)) == "hf download a/b x.pt"
    assert fetch_command("a/b", ("*.json", "y.txt")) == "hf download a/b --include '*.json' --include 'y.txt'"


# ---- scorer weights follow the rows -----------------------------------------------------------------------------
def _rows(db, tmp_path, modes: list[str]) -> list[int]:
    ids = []
    with session_scope(db) as s:
        for mode in sorted(set(modes)):
            run = add_run(session=s, run=Run(kind="bench", weights=mode))
            for i, m in enumerate(modes):
                if m != mode:
                    continue
                path = tmp_path / f"{mode}{i}.png"
                _images(len(modes))[i].save(path)
                g = add_generation(session=s, generation=Generation(run_id=run.id, job_key=f"{mode}{i}",
                                                                    model_key="sd21", weights=mode,
                                                                    prompt=PROMPTS[i % 4], image_path=str(path)))
                ids.append(g.id)
    return ids


@both_backends
def test_score_all_on_tiny_rows_uses_tiny_scorers_and_says_so(db_url, db, tmp_path, no_hub, capsys):
    _rows(db, tmp_path, ["tiny", "tiny", "tiny"])
    assert score_main(["--all", "--metrics", "clip,hps", "--device", "cpu", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "scorer weights: auto" in out and "tiny scorers for rows of tiny weights" in out
    assert [line.split()[:2] + line.split()[-3:] for line in out.splitlines() if line.startswith(("clip", "hps"))] \
        == [["clip", "3", "3", "by", "tiny"], ["hps", "3", "3", "by", "tiny"]]
    with session_scope(db, read_only=True) as s:
        assert {(r.metric, r.weights) for r in s.exec(select(Score))} == {("clip", "tiny"), ("hps", "tiny")}


def test_auto_scores_each_row_by_the_scorers_of_its_own_weights(db, tmp_path, models_dir):
    model, processor = tiny_clip(seed=7)  # "pretrained" CLIP: a local folder
    model.save_pretrained(models_dir / "clip")
    processor.save_pretrained(models_dir / "clip")
    _rows(db, tmp_path, ["tiny", "random", "pretrained", "tiny"])
    counts = score_missing(store_engine=db, metrics="clip", device="cpu", weights="auto")
    assert counts["clip"].by_weights == {"pretrained": 2, "tiny": 2}
    with session_scope(db, read_only=True) as s:
        pairs = s.exec(select(Generation.weights, Score.weights).join(Score, Score.generation_id == Generation.id))
        assert sorted(pairs) == [("pretrained", "pretrained"), ("random", "pretrained"), ("tiny", "tiny"),
                                 ("tiny", "tiny")]


# ---- python -m core.bench weights ---------------------------------------------------------------------------------
def _cache_file(cache, repo: str, filename: str, commit: str = "c0ffee" * 6 + "abcd") -> None:
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    path = root / "snapshots" / commit / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")


def test_weights_lists_what_is_present_where_it_looks_and_the_command(tmp_path, models_dir, monkeypatch, capsys):
    cache = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    _cache_file(cache, "openai/clip-vit-large-patch14", "config.json")
    _cache_file(cache, "openai/clip-vit-large-patch14", "model.safetensors")
    _cache_file(cache, "yuvalkirstain/PickScore_v1", "config.json")  # no weight file yet: partial
    _cache_file(cache, "laion/CLIP-ViT-H-14-laion2B-s32B-b79K", "tokenizer_config.json")  # a tokenizer: present
    _cache_file(cache, "xswu/HPSv2", "HPS_v2.1_compressed.pt")
    (models_dir / "sd21" / "unet").mkdir(parents=True)
    (models_dir / "sd21" / "model_index.json").write_text("{}")
    (models_dir / "sd21" / "unet" / "diffusion_pytorch_model.safetensors").write_text("x")

    assert weights_main(["--json"]) == 0
    rows = {(r["owner"], r["repo"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("clip", "openai/clip-vit-large-patch14")]["status"] == "present"
    assert rows[("pick", "yuvalkirstain/PickScore_v1")]["status"] == "partial"
    assert rows[("hps", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K")]["status"] == "present"
    assert rows[("hps", "xswu/HPSv2")]["status"] == "present"
    assert rows[("imagereward", "THUDM/ImageReward")]["command"] == "hf download THUDM/ImageReward ImageReward.pt"
    assert rows[("sd21", "stabilityai/stable-diffusion-2-1")]["found_at"] == str(models_dir / "sd21")
    assert rows[("hidream-dev", "meta-llama/Llama-3.1-8B-Instruct")]["gated"] is True
    assert rows[("stable-cascade", "stabilityai/stable-cascade")]["status"] == "missing"
    assert rows[("vqascore", "Qwen/Qwen2.5-VL-7B-Instruct")]["status"] == "missing"

    assert weights_main(["--missing"]) == 0
    text = capsys.readouterr().out
    assert "fetch:   hf download black-forest-labs/FLUX.1-dev" in text and "gated" in text
    assert "openai/clip-vit-large-patch14" not in text.split("Scorers")[1].split("\n  aesthetic")[0]
    assert str(cache / "models--xswu--HPSv2") not in text and str(cache / "models--THUDM--ImageReward") in text


# ---- on a CUDA machine ----------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("metric", NEW)
def test_new_metrics_give_the_cpu_scores_on_the_gpu_in_float32_and_close_in_bfloat16(metric):
    images, prompts = _images(), PROMPTS
    cpu = make_scorer(metric, weights="tiny").load("cpu").score(images, prompts)
    gpu = make_scorer(metric, weights="tiny").load("cuda").score(images, prompts)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-4)
    half = make_scorer(metric, weights="tiny").load("cuda", torch.bfloat16)
    assert half.revision.endswith("@bfloat16")
    np.testing.assert_allclose(half.score(images, prompts), cpu, rtol=0.05, atol=0.05)
