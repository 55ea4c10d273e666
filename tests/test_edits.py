"""The edit suite: loading items (suite, JSONL, folder), the generator's determinism, and the pixel checks
(pass on an oracle editor, fail on an identity editor and on wrong edits)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from core.edit_scenes import COLOURS, render, stylise, target_image
from core.edits import CATEGORIES, EDITS_DIR, EditIndex, EditItemsError, load_edit_items, suites
from core.jobs import InputImage
from core.scoring.edit_checks import EditCheckError, check_edit

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def suite():
    return load_edit_items("synthetic")


def _source(item) -> Image.Image:
    with Image.open(item.image) as im:
        return im.convert("RGB")


def oracle(item) -> Image.Image:
    """A test double that does each edit exactly, from the scene description the generator stored."""
    return target_image(item.scene, item.edit)


# ---- the shipped suite -----------------------------------------------------------------------------------
def test_the_shipped_suite_has_every_category_with_ground_truth_and_stays_small(suite):
    assert "synthetic" in suites()
    assert len(suite) == 36
    assert {i.category for i in suite} == set(CATEGORIES)
    assert all(i.has_ground_truth and i.source_caption and i.target_caption for i in suite)
    assert all(i.region is not None for i in suite if i.category != "style")
    assert all(i.region is None and i.regions == () for i in suite if i.category == "style")
    moves = [i for i in suite if i.category == "move"]
    assert all(len(i.regions) == 2 for i in moves)  # old place and new place
    size = sum(p.stat().st_size for p in EDITS_DIR.rglob("*") if p.is_file())
    assert size < 300_000
    # the shipped image is the render of the stored scene
    first = suite[0]
    assert np.array_equal(np.asarray(_source(first)), np.asarray(render(first.scene)))


def test_the_generator_writes_the_same_bytes_each_run_and_the_shipped_jsonl(tmp_path):
    outs = []
    for name in ("a", "b"):
        subprocess.run([sys.executable, str(REPO / "scripts" / "make_edit_suite.py"), "--out", str(tmp_path / name)],
                       check=True, capture_output=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
        outs.append({p.relative_to(tmp_path / name): p.read_bytes() for p in (tmp_path / name).rglob("*")
                     if p.is_file()})
    assert outs[0] == outs[1] and len(outs[0]) == 7
    assert outs[0][Path("synthetic.jsonl")] == (EDITS_DIR / "synthetic.jsonl").read_bytes()


# ---- the checks --------------------------------------------------------------------------------------------
def test_every_check_passes_on_the_oracle_editor_and_fails_on_the_identity_editor(suite):
    for item in suite:
        source = _source(item)
        done = check_edit(item, oracle(item), source)
        assert done.passed, str(done)
        same = check_edit(item, source, source)
        assert not same.passed, str(same)
        # identity keeps everything: only the parts about the asked change fail
        assert "preserved_l1" not in same.failed_parts


def test_the_checks_take_an_editors_blur_compression_and_size(suite):
    """A real editor's output is not pixel-exact: the oracle's image blurred, JPEG-compressed and upscaled to 1024 px
    still passes, one item of each category."""
    for category in CATEGORIES:
        item = next(i for i in suite if i.category == category)
        buffer = io.BytesIO()
        oracle(item).filter(ImageFilter.GaussianBlur(1.0)).save(buffer, "JPEG", quality=80)
        lossy = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").resize((1024, 1024), Image.BICUBIC)
        result = check_edit(item, lossy)
        assert result.passed, str(result)


def test_wrong_edits_fail_the_part_that_says_why(suite):
    recolour = next(i for i in suite if i.category == "recolour")
    wrong = dict(recolour.edit, colour=next(c for c in COLOURS if c != recolour.edit["colour"]
                                            and c != recolour.scene["objects"][0]["colour"]))
    result = check_edit(recolour, target_image(recolour.scene, wrong))
    assert result.failed_parts == ["target_colour"]

    # the asked edit, but everything else darkened: preservation fails
    spilled = Image.fromarray((np.asarray(oracle(recolour), dtype=np.float32) * 0.8).astype(np.uint8))
    assert "preserved_l1" in check_edit(recolour, spilled).failed_parts

    add = next(i for i in suite if i.category == "add")
    other_shape = next(s for s in ("circle", "square", "triangle") if s != add.edit["shape"])
    result = check_edit(add, target_image(add.scene, dict(add.edit, shape=other_shape)))
    assert "shape" in result.failed_parts

    move = next(i for i in suite if i.category == "move")  # copied, not moved: the old place still holds it
    copy = dict(move.scene, objects=move.scene["objects"] + [dict(move.scene["objects"][2], id="o9",
                                                                   box=move.edit["box"])])
    assert check_edit(move, render(copy)).failed_parts == ["old_place_left"]

    style = next(i for i in suite if i.category == "style" and i.edit["style"] != "invert")
    noise = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    assert "structure" in check_edit(style, Image.fromarray(noise)).failed_parts
    other = "invert" if style.edit["style"] != "invert" else "grayscale"
    assert "toward_style" in check_edit(style, stylise(_source(style), other)).failed_parts


def test_items_without_ground_truth_cannot_be_checked(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "e.jsonl").write_text(json.dumps({"image": "a.png", "instruction": "make it red"}) + "\n")
    item = load_edit_items(tmp_path / "e.jsonl")[0]
    with pytest.raises(EditCheckError, match="no ground truth"):
        check_edit(item, Image.new("RGB", (8, 8)))


# ---- loading a user's pairs ----------------------------------------------------------------------------
def test_a_users_jsonl_and_folder_load_with_paths_relative_to_their_folder(tmp_path):
    (tmp_path / "imgs").mkdir()
    for name in ("cat.png", "dog.jpg"):
        Image.new("RGB", (16, 16), "white").save(tmp_path / "imgs" / name)
    (tmp_path / "imgs" / "instructions.txt").write_text("# my edits\ncat.png: make the cat blue\n"
                                                         "dog.jpg: remove the dog\n")
    items = load_edit_items(str(tmp_path / "imgs"))
    assert [(Path(i.image).name, i.instruction) for i in items] == [("cat.png", "make the cat blue"),
                                                                     ("dog.jpg", "remove the dog")]
    assert items[0].region is None and items[0].regions == () and not items[0].has_ground_truth

    (tmp_path / "pairs.jsonl").write_text(
        json.dumps({"image": "imgs/cat.png", "instruction": "add a hat", "region": [1, 2, 9, 10],
                    "source_caption": "a cat", "target_caption": "a cat in a hat"}) + "\n"
        + json.dumps({"id": "two", "image": str(tmp_path / "imgs" / "dog.jpg"), "instruction": "x",
                      "regions": [[0, 0, 4, 4], [8, 8, 12, 12]]}) + "\n")
    one, two = load_edit_items(tmp_path / "pairs.jsonl")
    assert one.region == (1, 2, 9, 10) and one.regions == ((1, 2, 9, 10),) and one.target_caption == "a cat in a hat"
    assert two.id == "two" and two.region == (0, 0, 12, 12) and len(two.regions) == 2

    (tmp_path / "imgs2").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "imgs2" / "a.png")
    (tmp_path / "imgs2" / "instructions.jsonl").write_text(json.dumps({"image": "a.png", "instruction": "y"}))
    assert load_edit_items(tmp_path / "imgs2")[0].instruction == "y"


@pytest.mark.parametrize("line, message", [
    ({"instruction": "x"}, "'image' must be"),
    ({"image": "missing.png", "instruction": "x"}, "no file"),
    ({"image": "a.png", "instruction": " "}, "'instruction' must be non-empty"),
    ({"image": "a.png", "instruction": "x", "category": "blur"}, "'category' 'blur' is not allowed; choose one of "
                                                                 "recolour, remove"),
    ({"image": "a.png", "instruction": "x", "region": [5, 5, 2, 9]}, "is not a box"),
    ({"image": "a.png", "instruction": "x", "region": [0, 0, 1]}, "'region' must be"),
    ({"image": "a.png", "instruction": "x", "prompt": "y"}, "unknown keys \\['prompt'\\]; allowed: id, image"),
])
def test_bad_lines_fail_naming_the_file_line_and_field(tmp_path, line, message):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    path = tmp_path / "e.jsonl"
    path.write_text("# comment\n" + json.dumps(line) + "\n")
    with pytest.raises(EditItemsError, match=f"e.jsonl:2: .*{message}"):
        load_edit_items(path)


def test_unknown_sources_and_bare_folders_say_what_is_expected(tmp_path):
    with pytest.raises(EditItemsError, match="no edit suite, file or folder; shipped suites \\(data/edits\\): "
                                             "synthetic"):
        load_edit_items("synthetc")
    with pytest.raises(EditItemsError, match="has no instructions.jsonl or instructions.txt"):
        load_edit_items(tmp_path)
    (tmp_path / "instructions.txt").write_text("just words\n")
    with pytest.raises(EditItemsError, match="instructions.txt:1: expected 'file.png: instruction'"):
        load_edit_items(tmp_path)


def test_the_index_finds_a_stored_edits_item_by_source_hash_and_instruction(suite):
    index = EditIndex.shipped()
    item = suite[7]
    source = InputImage.from_path(item.image)
    assert item.input_image() == source
    assert index.find(source.sha256, item.instruction) == item
    assert index.find(source.sha256, "something else") is None
    assert index.find(None, item.instruction) is None
