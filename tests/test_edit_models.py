"""The open editing models: tiny edit sweeps through the CLI, refusals before loading, sizes from the source,
FLOPs that count the source, and the dashboard-free pieces (edit items, reproduce)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from PIL import Image, ImageDraw
from sqlmodel import select

from core.cli.bench import main
from core.edits import EditItemsError, load_edit_items
from core.errors import CaseStudyError, RequestError
from core.families import get_family
from core.jobs import EDIT, GenerationRequest, InputImage
from core.registry import get_spec, resolve_models
from core.store import Generation, make_engine, session_scope
from core.sweep import Sweep, prepare, reproduce

EDITORS = ("instruct-pix2pix", "flux-kontext-dev", "qwen-image-edit", "flux2-klein-4b")


def _scene(path, colour) -> str:
    image = Image.new("RGB", (96, 96), (230, 230, 230))
    ImageDraw.Draw(image).ellipse((20, 20, 70, 70), fill=colour)
    image.save(path)
    return str(path)


@pytest.fixture
def edits(tmp_path):
    """A JSONL of two edits, each a different source (sizes above the 64 pixels FLUX.2 [klein] needs)."""
    _scene(tmp_path / "red.png", (200, 40, 40))
    _scene(tmp_path / "blue.png", (40, 40, 200))
    path = tmp_path / "edits.jsonl"
    path.write_text(json.dumps({"image": "red.png", "instruction": "make the circle blue", "category": "recolour"})
                    + "\n" + json.dumps({"image": "blue.png", "instruction": "make the circle blue"}) + "\n")
    return path


def _rows(db_path):
    with session_scope(make_engine(f"sqlite:///{db_path}")) as s:
        return s.exec(select(Generation).order_by(Generation.id)).all()


def test_tiny_edit_sweep_over_the_open_editors_then_rerun_adds_none(edits, tmp_path, capsys):
    db, out = tmp_path / "r.db", tmp_path / "out"
    argv = ["--models", ",".join(EDITORS), "--weights", "tiny", "--task", "edit", "--inputs", str(edits),
            "--seeds", "3", "--db", str(db), "--out", str(out), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr()
    rows = _rows(db)
    assert len(rows) == 2 * len(EDITORS)
    assert {r.model_key for r in rows} == set(EDITORS)
    assert all(r.status == "ok" and r.task == EDIT for r in rows), [(r.model_key, r.error) for r in rows]
    red, blue = InputImage.from_path(tmp_path / "red.png"), InputImage.from_path(tmp_path / "blue.png")
    for row in rows:
        (source,) = row.input_images
        assert source["sha256"] in (red.sha256, blue.sha256)
        # the source is kept beside the output, named by its hash; the row points at the copy
        assert source["path"].startswith(str(out)) and Image.open(source["path"]).size == (96, 96)
        # the job key is the request's, its source by hash: the same instruction on another source is another job
        request = GenerationRequest(model=row.model_key, prompt=row.prompt, seed=3, steps=row.steps,
                                    guidance=row.guidance, width=row.width, height=row.height, extra=row.extra,
                                    task=EDIT, inputs=(red if source["sha256"] == red.sha256 else blue,))
        assert row.job_key == request.job_key("tiny")
        assert row.profile["flops"]["flops_by_stage"]["image_encode"] > 0, row.model_key
        assert row.profile["image_encode_s"] > 0
    per_model = {}
    for row in rows:
        per_model.setdefault(row.model_key, set()).add(row.job_key)
    assert all(len(keys) == 2 for keys in per_model.values())  # two sources, two keys (same instruction)

    assert main(argv) == 0
    assert "0 generated, 0 failed, 8 already stored" in capsys.readouterr().out
    assert len(_rows(db)) == len(rows)


def test_output_size_follows_the_source_per_model():
    wide = (1600, 900)
    assert get_family("flux_kontext").edit_size(get_spec("flux-kontext-dev"), wide) == (1392, 752)  # preferred res
    assert get_family("qwen_image_edit").edit_size(get_spec("qwen-image-edit"), wide) == (1376, 768)  # 1024² area /32
    assert get_family("instruct_pix2pix").edit_size(get_spec("instruct-pix2pix"), wide) == (512, 320)  # edit_cli.py: long side 512
    assert get_family("flux2_klein").edit_size(get_spec("flux2-klein-4b"), wide) == (1360, 768)  # capped at 1024²
    assert get_family("flux2_klein").edit_size(get_spec("flux2-klein-4b"), (640, 480)) == (640, 480)  # kept


def test_an_edit_without_a_size_takes_the_size_of_its_source(tiny_engine, tmp_path):
    source = InputImage.from_path(_scene(tmp_path / "s.png", (10, 200, 10)))
    req = tiny_engine.prepare(GenerationRequest(model="flux-kontext-dev", prompt="add a hat", seed=1, task=EDIT,
                                                inputs=(source,)))
    assert (req.width, req.height) == (32, 32)  # the tiny twin's area at the source's (square) aspect
    wide = Image.new("RGB", (192, 96), "white")
    wide.save(tmp_path / "wide.png")
    req = tiny_engine.prepare(GenerationRequest(model="flux-kontext-dev", prompt="add a hat", seed=1, task=EDIT,
                                                inputs=(InputImage.from_path(tmp_path / "wide.png"),)))
    assert req.width > req.height
    outcome = tiny_engine.generate(req)
    assert outcome.ok, outcome.error
    assert outcome.images[0].size == (req.width, req.height)


# ---- refused before anything loads ------------------------------------------------------------------
def test_an_edit_for_a_text_only_model_is_refused_naming_the_task(tiny_engine, tmp_path):
    source = InputImage.from_path(_scene(tmp_path / "s.png", (200, 40, 40)))
    with pytest.raises(RequestError) as exc:
        tiny_engine.prepare(GenerationRequest(model="sd21", prompt="make it blue", seed=0, task=EDIT, inputs=(source,)))
    assert exc.value.field == "task" and "sd21 takes text-to-image" in str(exc.value)
    assert tiny_engine.resident == {}


def test_two_images_for_a_one_image_model_are_refused_naming_the_inputs(tiny_engine, tmp_path):
    a = InputImage.from_path(_scene(tmp_path / "a.png", (200, 40, 40)))
    b = InputImage.from_path(_scene(tmp_path / "b.png", (40, 200, 40)))
    for key in ("flux-kontext-dev", "instruct-pix2pix"):
        with pytest.raises(RequestError) as exc:
            tiny_engine.prepare(GenerationRequest(model=key, prompt="swap them", seed=0, task=EDIT, inputs=(a, b)))
        assert exc.value.field == "inputs" and "one input image" in str(exc.value)
    too_many = tuple(InputImage.from_path(_scene(tmp_path / f"{i}.png", (i * 40, 0, 0))) for i in range(4))
    with pytest.raises(RequestError) as exc:
        tiny_engine.prepare(GenerationRequest(model="qwen-image-edit", prompt="combine", seed=0, task=EDIT,
                                              inputs=too_many))
    assert exc.value.field == "inputs" and "1 to 3 input images" in str(exc.value)
    assert tiny_engine.resident == {}


def test_cli_refuses_an_edit_sweep_for_a_text_only_model(edits, tmp_path, capsys):
    rc = main(["--models", "sd21", "--weights", "tiny", "--task", "edit", "--inputs", str(edits),
               "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "task" in err and "sd21 takes text-to-image" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_edit_flags_are_checked(edits, tmp_path):
    with pytest.raises(RequestError) as exc:
        prepare(Sweep(models="flux-kontext-dev", weights="tiny", task=EDIT, db=str(tmp_path / "r.db")))
    assert exc.value.field == "inputs"
    with pytest.raises(RequestError) as exc:
        prepare(Sweep(models="flux-kontext-dev", weights="tiny", task=EDIT, inputs_file=str(edits),
                      prompts=("also this",), db=str(tmp_path / "r.db")))
    assert exc.value.field == "prompt"
    with pytest.raises(CaseStudyError, match="is no edit suite, file or folder"):
        prepare(Sweep(models="flux-kontext-dev", weights="tiny", task=EDIT, inputs_file="no-such-suite",
                      db=str(tmp_path / "r.db")))


def test_groups_pick_the_models_that_take_the_task():
    editors = {s.key for s in resolve_models("open", task=EDIT)}
    assert editors == set(EDITORS)
    generators = {s.key for s in resolve_models("open", task="text-to-image")}
    assert "flux2-klein-4b" in generators and "flux-kontext-dev" not in generators
    assert [s.key for s in resolve_models("sd21", task=EDIT)] == ["sd21"]  # named: kept, for its check to refuse


# ---- edit items and reproduction --------------------------------------------------------------------
def test_edit_items_from_jsonl_folder_and_single_image(edits, tmp_path):
    items = load_edit_items(edits)
    assert [i.instruction for i in items] == ["make the circle blue"] * 2 and items[0].category == "recolour"
    folder = tmp_path / "folder"
    folder.mkdir()
    _scene(folder / "x.png", (1, 2, 3))
    (folder / "instructions.txt").write_text("x.png\tturn it into a watercolor\n")
    (item,) = load_edit_items(folder)
    assert item.image == str((folder / "x.png").resolve()) and item.instruction == "turn it into a watercolor"
    (tmp_path / "bad.jsonl").write_text('{"image": "missing.png", "instruction": "x"}\n')
    with pytest.raises(EditItemsError, match=r"bad.jsonl:1: 'image' 'missing.png': no file"):
        load_edit_items(tmp_path / "bad.jsonl")
    prepared = prepare(Sweep(models="instruct-pix2pix", weights="tiny", task=EDIT,
                             inputs_file=str(tmp_path / "red.png"), prompts=("make it green", "make it round"),
                             db=str(tmp_path / "r.db")))
    assert [j.request.prompt for j in prepared.jobs] == ["make it green", "make it round"]
    assert all(j.request.inputs[0].sha256 == InputImage.from_path(tmp_path / "red.png").sha256 for j in prepared.jobs)


def test_a_stored_edit_reproduces_with_its_kept_source(edits, tmp_path):
    db = tmp_path / "r.db"
    assert main(["--models", "instruct-pix2pix", "--weights", "tiny", "--inputs", str(edits), "--seeds", "5",
                 "--db", str(db), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    row = _rows(db)[0].model_dump()
    sweep = reproduce(row)
    assert sweep.task == EDIT and sweep.inputs_file == row["input_images"][0]["path"]
    assert "--task edit" in " ".join(sweep.argv()) and "--inputs" in sweep.argv()
    prepared = prepare(replace(sweep, db=str(db)))
    (job,) = prepared.jobs
    assert job.key == row["job_key"] and prepared.pending == 0  # the same job: already stored


# ---- FLOPs of the actual calls, the source included ----------------------------------------------------
@pytest.mark.parametrize("key", EDITORS)
def test_edit_flops_agree_with_flop_counter_mode(tiny_engine, tmp_path, key):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from core.generation import make_generator, open_inputs

    source = InputImage.from_path(_scene(tmp_path / "s.png", (200, 40, 40)))
    request = tiny_engine.prepare(GenerationRequest(model=key, prompt="make the circle blue", seed=2, task=EDIT,
                                                    inputs=(source,)))
    outcome = tiny_engine.generate(request)
    assert outcome.ok, outcome.error
    assert not outcome.profile["flops"].get("errors")
    assert outcome.flops["image_encode"] > 0
    model = tiny_engine.load(key)
    spec = tiny_engine.spec_for(key)
    images = model.family.edit_images(spec, request, open_inputs(request))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model.family.run(model.pipe, spec, request, make_generator(request.seed, 1), images=images)
    reference = int(counter.get_total_flops())
    assert outcome.flops_total == pytest.approx(reference, rel=0.01)


def test_qwen_edit_processor_loads_without_torchvision(tmp_path):
    """The published layout (processor/: tokenizer + image processor) read into an image-only processor: what
    `load_pretrained` hands the pipeline where transformers' own loader would need torchvision."""
    from core.families.tokenizers import qwen2_vl_processor, qwen2_vl_processor_from_pretrained

    built = qwen2_vl_processor()
    (tmp_path / "processor").mkdir()
    built.tokenizer.save_pretrained(tmp_path / "processor")
    built.image_processor.save_pretrained(tmp_path / "processor")
    processor = qwen2_vl_processor_from_pretrained(str(tmp_path))
    out = processor(text=["Picture 1: <|vision_start|><|image_pad|><|vision_end|>make it red"],
                    images=[Image.new("RGB", (56, 56))], padding=True, return_tensors="pt")
    assert out["image_grid_thw"].tolist() == [[1, 4, 4]]  # 14-pixel patches of a 56x56 image
    pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((out["input_ids"] == pad).sum()) == 4  # 16 patches merged 2x2
