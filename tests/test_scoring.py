"""Quality scorers against their authors' formulas and torchmetrics, on tiny twins built in code (offline, CPU)."""
from __future__ import annotations

import math

import huggingface_hub.constants
import numpy as np
import pytest
import torch
from PIL import Image
from sqlmodel import select

from core.scoring.aesthetic_mlp import WEIGHTS_FILE
from core.scoring.backfill import ScorerSet, score_missing
from core.cli.score import main as score_main
from core.scoring.compare import CompareError, compare
from core.scoring.scorers import Scorer, UnknownMetricError, make_scorer, parse_metrics
from core.scoring.sources import ScorerWeightsError
from core.scoring.tiny import tiny_aesthetic_mlp, tiny_clip
from core.settings import get_settings
from core.store import (Generation, Run, Score, add_generation, add_run, add_scores, delete_run,
                        generations_missing_score, scores_by_generation, session_scope)
from tests.backends import both_backends

PROMPTS = ["a red cat", "two dogs on the left of a house in the city at night", "photo of a blue sky",
           "a robot riding a horse"]


def _images(n: int = 4, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    sizes = [(48, 40), (32, 32), (64, 40), (40, 56)]
    return [Image.fromarray(rng.integers(0, 256, (*sizes[i % 4], 3), dtype=np.uint8)) for i in range(n)]


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    path = tmp_path / "models"
    path.mkdir()
    monkeypatch.setenv("IGCS_MODELS_DIR", str(path))
    get_settings.cache_clear()
    return path


# ---- the formulas ------------------------------------------------------------------------------------------
class _Unwrapped(torch.nn.Module):
    """torchmetrics 1.9.0 expects get_*_features to return tensors; transformers 5 returns outputs with the
    projected embedding in `pooler_output` (torchmetrics issue #3407, fixed after 1.9.0 by PR #3408)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config

    def get_image_features(self, *args, **kwargs):
        out = self.model.get_image_features(*args, **kwargs)
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    def get_text_features(self, *args, **kwargs):
        out = self.model.get_text_features(*args, **kwargs)
        return out if isinstance(out, torch.Tensor) else out.pooler_output


def test_clip_score_equals_torchmetrics_on_the_same_tiny_clip_saved_to_disk(models_dir):
    from torchmetrics.functional.multimodal import clip_score
    from transformers import CLIPModel, CLIPProcessor

    model, processor = tiny_clip(seed=7)
    model.save_pretrained(models_dir / "clip")
    processor.save_pretrained(models_dir / "clip")
    scorer = make_scorer("clip").load("cpu")  # pretrained mode: reads <IGCS_MODELS_DIR>/clip
    assert scorer.scorer_id == str(models_dir / "clip") and scorer.revision.startswith("local-")
    images = _images()
    ours = scorer.score(images, PROMPTS)

    reference_model = _Unwrapped(CLIPModel.from_pretrained(models_dir / "clip").eval())
    reference_processor = CLIPProcessor.from_pretrained(models_dir / "clip")
    for image, prompt, value in zip(images, PROMPTS, ours):
        pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1)  # uint8 (3, H, W), torchmetrics' input
        expected = float(clip_score(pixels, prompt, lambda: (reference_model, reference_processor)).detach())
        assert value == pytest.approx(expected, abs=1e-4)
    assert len(set(round(v, 3) for v in ours)) == len(ours)  # the images and prompts give different scores


def _hand_embeddings(model, processor, image, prompt):
    """CLIP image and text embeddings computed from the towers by hand: class token through the post layer norm
    and the visual projection; the end-of-text token's final hidden state through the text projection."""
    pixels = processor(images=[image], return_tensors="pt")["pixel_values"]
    ids = processor.tokenizer([prompt], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        cls = model.vision_model(pixel_values=pixels).last_hidden_state[:, 0]
        image_emb = model.visual_projection(model.vision_model.post_layernorm(cls))[0]
        hidden = model.text_model(input_ids=ids).last_hidden_state[0]
        eos = (ids[0] == processor.tokenizer.eos_token_id).nonzero()[0, 0]
        text_emb = model.text_projection(hidden[eos])
    return image_emb.double().numpy(), text_emb.double().numpy()


def test_pick_score_is_its_model_cards_formula_on_the_tiny_twin():
    scorer = make_scorer("pick", weights="tiny").load("cpu")
    images = _images()
    ours = scorer.score(images, PROMPTS)
    scale = math.exp(float(scorer.model.logit_scale.detach()))
    assert scale == pytest.approx(100.0, rel=1e-3)  # PickScore_v1's learned scale, kept by the twin
    for image, prompt, value in zip(images, PROMPTS, ours):
        i, t = _hand_embeddings(scorer.model, scorer.processor, image, prompt)
        expected = scale * float(i @ t / (np.linalg.norm(i) * np.linalg.norm(t)))
        assert value == pytest.approx(expected, abs=1e-4)


def test_clip_score_clamps_negative_cosines_to_zero():
    scorer = make_scorer("clip", weights="tiny").load("cpu")
    pairs = [(image, prompt) for image in _images() for prompt in PROMPTS + ["the", "sea", "a green tree"]]
    values = scorer.score([image for image, _ in pairs], [prompt for _, prompt in pairs])
    cosines = []
    for (image, prompt), value in zip(pairs, values):
        i, t = _hand_embeddings(scorer.model, scorer.processor, image, prompt)
        cosines.append(float(i @ t / (np.linalg.norm(i) * np.linalg.norm(t))))
        assert value == pytest.approx(100 * max(cosines[-1], 0.0), abs=1e-4)
    assert min(cosines) < 0 < max(cosines)  # both sides of the clamp were exercised


def test_aesthetic_is_the_authors_mlp_over_the_normalised_clip_embedding():
    scorer = make_scorer("aesthetic", weights="tiny").load("cpu")
    images = _images()
    ours = scorer.score(images, PROMPTS)
    state = {k: v.double().numpy() for k, v in scorer.mlp.state_dict().items()}
    for image, value in zip(images, ours):
        pixels = scorer.processor(images=[image], return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            cls = scorer.vision.vision_model(pixel_values=pixels).last_hidden_state[:, 0]
            emb = scorer.vision.visual_projection(scorer.vision.vision_model.post_layernorm(cls))[0].double().numpy()
        x = emb / np.linalg.norm(emb)  # the authors' `normalized()`
        for layer in (0, 2, 4, 6, 7):  # Linear layers; Dropout is identity in eval
            x = state[f"layers.{layer}.weight"] @ x + state[f"layers.{layer}.bias"]
        assert value == pytest.approx(float(x[0]), abs=1e-5)
    assert max(ours) - min(ours) > 1e-3


@pytest.mark.parametrize("metric", ["clip", "pick", "aesthetic"])
def test_scores_are_the_same_one_at_a_time_and_in_a_batch(metric):
    scorer = make_scorer(metric, weights="tiny").load("cpu")
    images = _images()
    batched = scorer.score(images, PROMPTS)
    in_twos = scorer.score(images, PROMPTS, batch_size=2)
    single = [scorer.score([im], [p])[0] for im, p in zip(images, PROMPTS)]
    # Equal up to float32 summation order (other matmul shapes, other padding): cosines differ by ~1e-7, which
    # CLIPScore and PickScore multiply by 100. 1e-4 is 1e-6 of their 0-100 scale.
    assert batched == pytest.approx(single, rel=0, abs=1e-4)
    assert in_twos == pytest.approx(single, rel=0, abs=1e-4)


# ---- weights: local folders, revisions, offline errors -----------------------------------------------------
def test_pick_and_aesthetic_load_from_local_folders_with_a_folder_revision(models_dir):
    pick_model, pick_processor = tiny_clip(seed=3, logit_scale_init=4.6052)
    pick_model.save_pretrained(models_dir / "pick")
    pick_processor.save_pretrained(models_dir / "pick")
    clip_model, clip_processor = tiny_clip(seed=4)
    clip_model.save_pretrained(models_dir / "aesthetic")
    clip_processor.save_pretrained(models_dir / "aesthetic")
    mlp = tiny_aesthetic_mlp(seed=5)
    torch.save(mlp.state_dict(), models_dir / "aesthetic" / WEIGHTS_FILE)

    images = _images()
    pick = make_scorer("pick").load("cpu")
    reference = make_scorer("pick", weights="tiny").attach(scorer_id="x", revision="x", weights="tiny",
                                                          model=pick_model.eval(), processor=pick_processor)
    assert pick.score(images, PROMPTS) == pytest.approx(reference.score(images, PROMPTS), abs=1e-5)
    aesthetic = make_scorer("aesthetic").load("cpu")
    assert aesthetic.scorer_id == str(models_dir / "aesthetic")
    assert aesthetic.revision.startswith("local-") and "+clip-local-" in aesthetic.revision
    torch.testing.assert_close(aesthetic.mlp.state_dict()["layers.0.weight"], mlp.state_dict()["layers.0.weight"])
    torch.testing.assert_close(aesthetic.vision.visual_projection.weight, clip_model.visual_projection.weight)

    before = make_scorer("pick").load("cpu").revision
    (models_dir / "pick" / "config.json").write_text((models_dir / "pick" / "config.json").read_text() + "\n")
    assert make_scorer("pick").load("cpu").revision != before  # another file: another revision


def test_missing_weights_fail_offline_naming_the_folder_and_the_hub_repo(models_dir, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(models_dir / "empty-cache"))
    for metric, repo in (("clip", "openai/clip-vit-large-patch14"), ("pick", "yuvalkirstain/PickScore_v1"),
                         ("aesthetic", "camenduru/improved-aesthetic-predictor")):
        with pytest.raises(ScorerWeightsError) as err:
            make_scorer(metric).load("cpu")
        assert str(models_dir / metric) in str(err.value) and repo in str(err.value)


def test_revision_names_a_dtype_other_than_float32():
    scorer = make_scorer("clip", weights="tiny").load("cpu")
    assert "@" not in scorer.revision
    scorer.dtype = torch.bfloat16
    assert scorer.revision.endswith("@bfloat16")


def test_unknown_metrics_and_bad_arguments_fail_before_loading():
    with pytest.raises(UnknownMetricError, match="Did you mean 'pick'"):
        parse_metrics("clip,pik")
    with pytest.raises(ValueError, match="weights"):
        make_scorer("clip", weights="random")
    scorer = make_scorer("clip", weights="tiny")
    with pytest.raises(RuntimeError, match="load"):
        scorer.score(_images(1), ["a cat"])
    with pytest.raises(ValueError, match="prompts"):
        scorer.load("cpu").score(_images(2), ["a cat"])
    with pytest.raises(ValueError, match="dtype"):
        ScorerSet("clip", device="cpu", dtype="float8")


# ---- store and backfill ------------------------------------------------------------------------------------
def _store_with_images(db, tmp_path, n_ok: int = 3) -> tuple[int, list[int]]:
    with session_scope(db) as s:
        run = add_run(session=s, run=Run(kind="bench", weights="tiny"))
        ids = []
        for i, image in enumerate(_images(n_ok)):
            path = tmp_path / f"img{i}.png"
            image.save(path)
            g = add_generation(session=s, generation=Generation(run_id=run.id, job_key=f"k{i}", model_key="sd21",
                                                                weights="tiny", prompt=PROMPTS[i], seed=0,
                                                                image_path=str(path)))
            ids.append(g.id)
        add_generation(session=s, generation=Generation(run_id=run.id, job_key="kf", model_key="sd21",
                                                        status="failed", error="boom", prompt="x"))
        gone = add_generation(session=s, generation=Generation(run_id=run.id, job_key="kg", model_key="sd21",
                                                               prompt="a cat", image_path=str(tmp_path / "gone.png")))
    return run.id, ids + [gone.id]


@both_backends
def test_backfill_scores_ok_rows_once_and_a_rerun_adds_none(db, tmp_path, monkeypatch):
    run_id, ids = _store_with_images(db, tmp_path)
    loads = []
    original = Scorer.load
    monkeypatch.setattr(Scorer, "load", lambda self, *a, **k: loads.append(self.metric) or original(self, *a, **k))

    counts = score_missing(store_engine=db, metrics="clip,aesthetic", batch_size=2, device="cpu", weights="tiny")
    assert {m: (c.scored, c.missing_file) for m, c in counts.items()} == {"clip": (3, 1), "aesthetic": (3, 1)}
    assert sorted(loads) == ["aesthetic", "clip"]  # one load per scorer for the whole backfill
    with session_scope(db, read_only=True) as s:
        rows = list(s.exec(select(Score)))
        assert len(rows) == 6 and all(r.weights == "tiny" and r.seconds > 0 and r.device == "cpu" for r in rows)
        by_gen = scores_by_generation(session=s, generation_ids=ids)
        assert set(by_gen) == set(ids[:3]) and set(by_gen[ids[0]]) == {"clip", "aesthetic"}

    loads.clear()
    again = score_missing(store_engine=db, metrics="clip,aesthetic", run_id=run_id, device="cpu", weights="tiny")
    assert all(c.scored == 0 for c in again.values())
    with session_scope(db, read_only=True) as s:
        assert len(list(s.exec(select(Score)))) == 6
        # pretrained scorers still see every row as lacking their score: tiny scores do not block real ones
        assert len(generations_missing_score(session=s, metric="clip", scorer_weights="pretrained")) == 4


def test_inline_scoring_scores_each_models_rows_with_scorers_loaded_once(db, tmp_path, monkeypatch):
    _, ids = _store_with_images(db, tmp_path)
    loads = []
    original = Scorer.load
    monkeypatch.setattr(Scorer, "load", lambda self, *a, **k: loads.append(self.metric) or original(self, *a, **k))
    with ScorerSet("pick", device="cpu", weights="tiny") as scorers:
        first = scorers.score(store_engine=db, generation_ids=ids[:2])  # after the first model's jobs
        scorers.offload()  # the next generator has the device
        second = scorers.score(store_engine=db, generation_ids=ids[2:])
    assert (first["pick"].scored, second["pick"].scored, second["pick"].missing_file) == (2, 1, 1)
    assert loads == ["pick"]


@both_backends
def test_a_score_is_stored_once_per_revision_and_goes_with_its_generation(db, tmp_path):
    run_id, ids = _store_with_images(db, tmp_path, n_ok=1)
    score = dict(generation_id=ids[0], metric="clip", value=20.0, scorer_id="tiny", weights="tiny")
    with session_scope(db) as s:
        assert add_scores(session=s, scores=[Score(scorer_revision="r1", **score)]) == 1
        assert add_scores(session=s, scores=[Score(scorer_revision="r1", **{**score, "value": 30.0})]) == 0
        assert add_scores(session=s, scores=[Score(scorer_revision="r2", **{**score, "weights": "pretrained",
                                                                             "value": 25.0})]) == 1
        assert scores_by_generation(session=s, generation_ids=ids)[ids[0]]["clip"]["value"] == 25.0
        delete_run(session=s, run_id=run_id)
        assert list(s.exec(select(Score))) == []


@both_backends
def test_score_cli_fills_a_run_then_adds_none(db_url, db, tmp_path, capsys):
    run_id, _ = _store_with_images(db, tmp_path, n_ok=2)
    argv = ["--run", str(run_id), "--metrics", "clip", "--scorer-weights", "tiny", "--device", "cpu", "--db", db_url]
    assert score_main(argv) == 0
    first = capsys.readouterr().out
    assert score_main(argv) == 0
    second = capsys.readouterr().out
    assert [line.split()[:2] for line in first.splitlines() if line.startswith("clip")] == [["clip", "2"]]
    assert [line.split()[:2] for line in second.splitlines() if line.startswith("clip")] == [["clip", "0"]]
    assert score_main(["--run", "999", "--scorer-weights", "tiny", "--db", db_url]) == 2
    with pytest.raises(SystemExit):
        score_main(["--all", "--metrics", "clipp", "--db", db_url])
    assert "Did you mean 'clip'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        score_main(["--all", "--run", "1", "--db", db_url])


# ---- image against image -----------------------------------------------------------------------------------
def _row(tmp_path, name: str, pixels: np.ndarray, **fields) -> dict:
    path = tmp_path / f"{name}.png"
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    row = dict(id=hash(name) % 1000, status="ok", prompt="a cat", seed=1, width=pixels.shape[1],
               height=pixels.shape[0], image_path=str(path))
    return {**row, **fields}


def test_compare_identical_images(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 48, 3))
    scorer = make_scorer("clip", weights="tiny").load("cpu")
    result = compare(_row(tmp_path, "a", pixels), _row(tmp_path, "b", pixels), clip=scorer)
    assert math.isinf(result.psnr_db) and result.ssim == pytest.approx(1.0, abs=1e-9)
    assert result.clip_cosine == pytest.approx(1.0, abs=1e-5)


def test_compare_known_perturbations_match_hand_computations(tmp_path):
    noise = np.random.default_rng(1).integers(20, 200, (40, 48, 3))
    d = 9
    shifted = compare(_row(tmp_path, "a", noise), _row(tmp_path, "b", noise + d))
    assert shifted.psnr_db == pytest.approx(10 * math.log10(255 ** 2 / d ** 2), abs=1e-5)  # MSE = d^2

    c = 100.0
    flat = compare(_row(tmp_path, "c", np.full((32, 32, 3), c)), _row(tmp_path, "e", np.full((32, 32, 3), c + d)))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    # Flat images: no variance or covariance, so SSIM is the luminance term alone in every window.
    assert flat.ssim == pytest.approx((2 * c * (c + d) + c1) / (c ** 2 + (c + d) ** 2 + c1) * (c2 / c2), abs=1e-9)
    assert flat.clip_cosine is None


def test_compare_refuses_rows_of_different_jobs(tmp_path):
    pixels = np.zeros((32, 32, 3))
    a = _row(tmp_path, "a", pixels)
    with pytest.raises(CompareError, match="seed: 1"):
        compare(a, _row(tmp_path, "b", pixels, seed=2))
    with pytest.raises(CompareError, match="prompt"):
        compare(a, _row(tmp_path, "b", pixels, prompt="a dog"))
    with pytest.raises(CompareError, match="width"):
        compare(a, _row(tmp_path, "b", np.zeros((32, 40, 3))))
    with pytest.raises(CompareError, match="status"):
        compare(a, {**a, "status": "failed"})
    with pytest.raises(CompareError, match="aesthetic"):
        compare(a, a, clip=make_scorer("aesthetic", weights="tiny").load("cpu"))
