"""Edit metrics against their authors' definitions (MagicBrush's L1, torchmetrics' PSNR/SSIM and CLIP score,
InstructPix2Pix's directional similarity) on tiny CLIP twins, and scoring stored edits (inline and afterwards)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from sqlmodel import select
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from core.edit_scenes import target_image
from core.edits import load_edit_items
from core.jobs import InputImage
from core.scoring.backfill import ScorerSet, score_missing
from core.cli.score import main as score_main
from core.scoring.edit_metrics import PSNR_CAP_DB, preservation
from core.scoring.edit_scorers import EditPair, dino_processor
from core.scoring.metrics import EDIT_METRICS, make_scorers, parse_metrics, task_of
from core.scoring.scorers import UnknownMetricError
from core.scoring.tiny import tiny_clip
from core.settings import get_settings
from core.store import Generation, Run, Score, add_generation, add_run, session_scope
from tests.backends import both_backends
from tests.test_scoring import _Unwrapped


def _noise(shape=(48, 64, 3), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _tensor01(a: np.ndarray) -> torch.Tensor:
    """torchvision's ToTensor: (1, 3, H, W) float in [0, 1] (MagicBrush's input to nn.L1Loss)."""
    return torch.from_numpy(a.astype(np.float64) / 255.0).permute(2, 0, 1)[None]


# ---- preservation --------------------------------------------------------------------------------------------
def test_whole_image_preservation_is_magicbrushs_l1_and_torchmetrics_psnr_and_ssim():
    src = _noise()
    out = np.clip(src.astype(int) + _noise(seed=1).astype(int) // 8 - 16, 0, 255).astype(np.uint8)
    ours = preservation(Image.fromarray(out), Image.fromarray(src))
    x, y = _tensor01(out), _tensor01(src)
    assert ours.l1 == pytest.approx(float(torch.nn.L1Loss()(x, y)), abs=1e-6)
    assert ours.psnr_db == pytest.approx(float(peak_signal_noise_ratio(x, y, data_range=1.0)), abs=1e-4)
    assert ours.ssim == pytest.approx(float(structural_similarity_index_measure(x, y, data_range=1.0)), abs=1e-6)
    assert ours.outside_share == 1.0


def test_preservation_leaves_the_edited_region_out_and_resizes_the_output():
    src = _noise((64, 64, 3))
    out = src.copy()
    out[10:30, 20:50] = 255 - out[10:30, 20:50]  # changed only inside the region
    inside = preservation(Image.fromarray(out), Image.fromarray(src), [(20, 10, 50, 30)])
    assert (inside.l1, inside.psnr_db, inside.ssim) == (0.0, PSNR_CAP_DB, pytest.approx(1.0))
    assert inside.outside_share == pytest.approx(1 - 20 * 30 / 64 ** 2)
    whole = preservation(Image.fromarray(out), Image.fromarray(src))
    assert whole.l1 > 0.05 and whole.psnr_db < 20
    # hand computation of L1 outside a region that misses part of the change
    part = preservation(Image.fromarray(out), Image.fromarray(src), [(20, 10, 35, 30)])
    keep = np.ones((64, 64), bool)
    keep[10:30, 20:35] = False
    expected = np.abs(out.astype(np.float64) - src)[keep].mean() / 255
    assert part.l1 == pytest.approx(expected, abs=1e-6)
    # a region covering everything leaves nothing to compare
    assert preservation(Image.fromarray(out), Image.fromarray(src), [(0, 0, 64, 64)]).l1 is None
    # an output of another size is resized (bicubic) to the source's, as MagicBrush does
    big = Image.fromarray(out).resize((128, 96), Image.NEAREST)
    assert preservation(big, Image.fromarray(src)) == preservation(big.resize((64, 64), Image.BICUBIC),
                                                                   Image.fromarray(src))


# ---- CLIP metrics: parity on a tiny CLIP saved to disk -----------------------------------------------------
@pytest.fixture
def saved_clip(tmp_path, monkeypatch):
    models = tmp_path / "models"
    model, processor = tiny_clip(seed=11)
    model.save_pretrained(models / "clip")
    processor.save_pretrained(models / "clip")
    monkeypatch.setenv("IGCS_MODELS_DIR", str(models))
    get_settings.cache_clear()
    return models / "clip"


def test_clip_edit_metrics_follow_their_authors_formulas(saved_clip):
    from torchmetrics.functional.multimodal import clip_score
    from transformers import CLIPModel, CLIPProcessor

    sources = [Image.fromarray(_noise((40, 40, 3), seed=s)) for s in range(3)]
    outputs = [Image.fromarray(_noise((40, 40, 3), seed=10 + s)) for s in range(3)]
    item = load_edit_items("synthetic")[0]  # has both captions
    pairs = [EditPair(o, s, "make the cat red", item=item if i < 2 else None)
             for i, (o, s) in enumerate(zip(outputs, sources))]
    scorers = make_scorers("clip_i,clip_t,clip_dir")  # pretrained mode: reads <IGCS_MODELS_DIR>/clip
    for scorer in scorers.values():
        scorer.load("cpu")
    assert scorers["clip_i"].clip is scorers["clip_dir"].clip  # one model for the three
    ours = {m: s.score_edits(pairs) for m, s in scorers.items()}

    model = CLIPModel.from_pretrained(saved_clip).eval()
    processor = CLIPProcessor.from_pretrained(saved_clip)

    def image_emb(images):
        with torch.no_grad():
            e = model.get_image_features(**processor(images=images, return_tensors="pt"))
        e = e if isinstance(e, torch.Tensor) else e.pooler_output
        return e / e.norm(dim=-1, keepdim=True)

    def text_emb(texts):
        with torch.no_grad():
            e = model.get_text_features(**processor(text=texts, padding=True, return_tensors="pt"))
        e = e if isinstance(e, torch.Tensor) else e.pooler_output
        return e / e.norm(dim=-1, keepdim=True)

    out_e, src_e = image_emb(outputs), image_emb(sources)
    texts = [item.target_caption, item.target_caption, "make the cat red"]  # no item: the instruction
    # InstructPix2Pix's ClipSimilarity: cosine of the differences of normalised embeddings
    direction = torch.nn.functional.cosine_similarity(out_e[:2] - src_e[:2], text_emb([item.target_caption] * 2)
                                                      - text_emb([item.source_caption] * 2))
    assert ours["clip_i"] == pytest.approx((out_e * src_e).sum(-1).tolist(), abs=1e-5)
    assert ours["clip_t"] == pytest.approx((out_e * text_emb(texts)).sum(-1).tolist(), abs=1e-5)
    assert ours["clip_dir"][:2] == pytest.approx(direction.tolist(), abs=1e-5) and ours["clip_dir"][2] is None

    # torchmetrics' clip_score is 100 * max(cos, 0) for image-image and image-text pairs
    reference = lambda: (_Unwrapped(model), processor)  # noqa: E731
    checked = 0
    for i in range(3):
        pixels_out = torch.from_numpy(np.array(outputs[i])).permute(2, 0, 1)
        pixels_src = torch.from_numpy(np.array(sources[i])).permute(2, 0, 1)
        tm_i = float(clip_score(pixels_out, pixels_src, reference).detach())
        tm_t = float(clip_score(pixels_out, texts[i], reference).detach())
        assert tm_i == pytest.approx(100 * max(ours["clip_i"][i], 0), abs=1e-3)
        assert tm_t == pytest.approx(100 * max(ours["clip_t"][i], 0), abs=1e-3)
        checked += (tm_i > 0) + (tm_t > 0)
    assert checked >= 3  # the parity is not only of clamped zeros


def test_edit_metric_names_are_checked_and_edit_scorers_refuse_prompts():
    assert parse_metrics("clip,edit_psnr,clip_dir") == ["clip", "edit_psnr", "clip_dir"]
    assert task_of("clip") == "text-to-image" and {task_of(m) for m in EDIT_METRICS} == {"edit"}
    with pytest.raises(UnknownMetricError, match="Did you mean 'clip_i'"):
        parse_metrics("clip_ii")
    scorer = make_scorers("edit_l1")["edit_l1"].load("cpu")
    with pytest.raises(TypeError, match="score_edits"):
        scorer.score([Image.new("RGB", (4, 4))], ["x"])


# ---- stored edits ------------------------------------------------------------------------------------------
def _store_edits(db, tmp_path) -> tuple[int, dict[str, int]]:
    """Edit rows as the recorder writes them: the oracle's and the identity's result of two suite items, a user
    pair without a suite item, a text-to-image row, and an edit whose source copy is gone."""
    items = {i.id: i for i in load_edit_items("synthetic")}
    recolour, style = items["s00-recolour"], items["s01-style"]
    (tmp_path / "inputs").mkdir()
    ids = {}
    with session_scope(db) as s:
        run = add_run(session=s, run=Run(kind="bench", weights="tiny"))

        def edit(name, item, image, prompt=None, source=None):
            src = source or InputImage.from_path(item.image)
            copy = tmp_path / "inputs" / f"{src.sha256[:16]}.png"
            if not copy.exists():
                shutil.copy(src.path, copy)
            out = tmp_path / f"{name}.png"
            image.save(out)
            row = Generation(run_id=run.id, job_key=name, model_key="flux-kontext", weights="tiny", task="edit",
                             prompt=prompt or item.instruction, seed=0, image_path=str(out),
                             input_images=[{"path": str(copy), "sha256": src.sha256}])
            ids[name] = add_generation(session=s, generation=row).id

        edit("oracle", recolour, target_image(recolour.scene, recolour.edit))
        edit("identity", recolour, Image.open(recolour.image).convert("RGB"))
        edit("style", style, target_image(style.scene, style.edit))
        user = tmp_path / "user_source.png"
        Image.fromarray(_noise((32, 32, 3))).save(user)
        edit("user", recolour, Image.fromarray(_noise((32, 32, 3), seed=3)), prompt="make it pop",
             source=InputImage.from_path(user))
        t2i = tmp_path / "t2i.png"
        Image.fromarray(_noise((32, 32, 3), seed=4)).save(t2i)
        ids["t2i"] = add_generation(session=s, generation=Generation(
            run_id=run.id, job_key="t2i", model_key="sd21", weights="tiny", prompt="a red cat", seed=0,
            image_path=str(t2i))).id
        gone = Generation(run_id=run.id, job_key="gone", model_key="flux-kontext", weights="tiny", task="edit",
                          prompt="x", seed=0, image_path=str(t2i),
                          input_images=[{"path": str(tmp_path / "nope.png"), "sha256": "0" * 64}])
        ids["gone"] = add_generation(session=s, generation=gone).id
    return run.id, ids


def _values(db, metric: str) -> dict[int, float]:
    with session_scope(db, read_only=True) as s:
        return {r.generation_id: r.value for r in s.exec(select(Score).where(Score.metric == metric))}


@both_backends
def test_backfill_scores_edits_against_their_source_with_the_suite_items_region(db, tmp_path):
    run_id, ids = _store_edits(db, tmp_path)
    metrics = "clip,edit_psnr,edit_ssim,edit_l1,clip_i,clip_t,clip_dir,dino,edit_check"
    counts = score_missing(store_engine=db, metrics=metrics, device="cpu", weights="tiny", batch_size=2)
    # text-to-image metrics score the text-to-image row only; edit metrics the edits (the gone source: no file)
    assert (counts["clip"].scored, counts["edit_l1"].scored, counts["edit_l1"].missing_file) == (1, 4, 1)
    assert (counts["clip_dir"].scored, counts["clip_dir"].not_applicable) == (3, 1)  # the user pair: no captions
    assert (counts["edit_check"].scored, counts["edit_check"].not_applicable) == (3, 1)
    check, l1, psnr = _values(db, "edit_check"), _values(db, "edit_l1"), _values(db, "edit_psnr")
    assert check == {ids["oracle"]: 1.0, ids["identity"]: 0.0, ids["style"]: 1.0}
    # preservation outside the recolour's region: the oracle changed nothing there; the style edit (no region)
    # is compared over the whole image
    assert l1[ids["oracle"]] == 0.0 and psnr[ids["oracle"]] == 100.0 and l1[ids["identity"]] == 0.0
    assert l1[ids["style"]] > 0.05
    assert _values(db, "clip_i")[ids["identity"]] == pytest.approx(1.0, abs=1e-5)  # the source itself
    assert _values(db, "dino")[ids["identity"]] == pytest.approx(1.0, abs=1e-5) and counts["dino"].scored == 4
    assert set(_values(db, "clip")) == {ids["t2i"]}
    with session_scope(db, read_only=True) as s:
        rows = list(s.exec(select(Score).where(Score.metric.in_(["edit_l1", "clip_i"]))))
    assert {(r.metric, r.weights) for r in rows} == {("edit_l1", "pretrained"), ("clip_i", "tiny")}

    again = score_missing(store_engine=db, metrics=metrics, run_id=run_id, device="cpu", weights="tiny")
    assert all(c.scored == 0 for c in again.values())


def test_inline_scoring_loads_one_clip_for_every_clip_metric(db, tmp_path, monkeypatch):
    from core.scoring.scorers import ClipScorer

    _, ids = _store_edits(db, tmp_path)
    builds = []
    original = ClipScorer._build_tiny
    monkeypatch.setattr(ClipScorer, "_build_tiny", lambda self: builds.append(1) or original(self))
    with ScorerSet("clip,clip_i,clip_t,clip_dir", device="cpu", weights="tiny") as scorers:
        first = scorers.score(store_engine=db, generation_ids=[ids["oracle"], ids["t2i"]])
        scorers.offload()
        second = scorers.score(store_engine=db, generation_ids=[ids["identity"]])
    assert (first["clip"].scored, first["clip_i"].scored, second["clip_t"].scored) == (1, 1, 1)
    assert builds == [1]


def test_score_cli_takes_a_users_edit_items_for_regions_and_captions(db_url, db, tmp_path, capsys):
    import json

    _, ids = _store_edits(db, tmp_path)
    (tmp_path / "mine.jsonl").write_text(json.dumps({
        "image": "user_source.png", "instruction": "make it pop", "region": [0, 0, 16, 32],
        "source_caption": "noise", "target_caption": "loud noise"}) + "\n")
    argv = ["--all", "--metrics", "edit_l1,clip_dir", "--scorer-weights", "tiny", "--device", "cpu", "--db", db_url,
            "--edit-items", str(tmp_path / "mine.jsonl")]
    assert score_main(argv) == 0
    assert ids["user"] in _values(db, "clip_dir")
    whole = preservation(Image.open(tmp_path / "user_source.png").convert("RGB"),
                         Image.fromarray(_noise((32, 32, 3), seed=3))).l1
    assert _values(db, "edit_l1")[ids["user"]] != pytest.approx(whole)  # only the right half was compared
    assert "n/a" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        score_main(["--all", "--edit-items", "nosuchsuite", "--db", db_url])
    assert "no edit suite, file or folder" in capsys.readouterr().err


def test_dino_is_the_cls_cosine_after_magicbrushs_transform(tmp_path, monkeypatch):
    """MagicBrush: Resize(256, bicubic), CenterCrop(224), ToTensor, Normalize(ImageNet), dino_vits16's CLS token; here
    by hand in PIL and numpy, on a tiny DINO saved to disk (pretrained mode reads <IGCS_MODELS_DIR>/dino)."""
    from core.scoring.tiny import tiny_dino
    from transformers import ViTModel

    tiny_dino(seed=5).save_pretrained(tmp_path / "models" / "dino")
    monkeypatch.setenv("IGCS_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    scorer = make_scorers("dino")["dino"].load("cpu")
    scorer.processor = dino_processor(32)  # the tiny model takes 32 px (the real one: 224)
    sources = [Image.fromarray(_noise((48, 48, 3), seed=s)) for s in range(2)]
    outputs = [Image.fromarray(_noise((48, 48, 3), seed=5 + s)) for s in range(2)]
    ours = scorer.score_edits([EditPair(o, s, "x") for o, s in zip(outputs, sources)])

    model = ViTModel.from_pretrained(tmp_path / "models" / "dino", add_pooling_layer=False).eval()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])

    def cls(image):
        short = round(32 * 256 / 224)
        im = image.resize((short, short), Image.BICUBIC)
        top = (short - 32) // 2
        a = (np.asarray(im.crop((top, top, top + 32, top + 32)), dtype=np.float64) / 255 - mean) / std
        with torch.no_grad():
            e = model(pixel_values=torch.from_numpy(a).permute(2, 0, 1)[None].float()).last_hidden_state[0, 0]
        return e / e.norm()

    expected = [float((cls(o) * cls(s)).sum()) for o, s in zip(outputs, sources)]
    assert ours == pytest.approx(expected, abs=1e-5)
    assert scorer.scorer_id.endswith("dino") and scorer.revision.startswith("local-")
