"""Write the synthetic edit suite: data/edits/synthetic.jsonl and its source images in data/edits/synthetic/.

    PYTHONPATH=. python scripts/make_edit_suite.py            # rewrites the shipped suite
    PYTHONPATH=. python scripts/make_edit_suite.py --out /tmp/suite

Six scenes (three flat shapes of known shape, colour and place, a sign with a word, on a sky-and-ground
background; 512x512 PNG), each with one edit of every category: recolour, remove, add, move, change the text,
change the style: 36 items. Every item stores its scene and its edit (core.edit_scenes), so the checks
(core.scoring.edit_checks) know exactly what the edited image should hold, with no model. Deterministic: the layout
comes from a seeded `random.Random` per scene, and the same Pillow writes the same bytes.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from core.edit_scenes import (COLOURS, GROUNDS, SHAPES, SKIES, STYLE_WORDS, STYLES, apply_edit, article, at_place,
                              caption, render, to_place)
from core.edits import EDITS_DIR

SUITE = "synthetic"
SIZE = 512
SCENES = 6
SEED = 18  # the number; any fixed seed would do
PAD = 10  # pixels around an object or sign that its edit may touch (anti-aliasing, shadows)
WORDS = ("SALE", "OPEN", "SHOP", "CAFE", "STOP", "EXIT", "BOOK", "FISH")


def cell_box(cell: int) -> tuple[int, int, int, int]:
    row, col = divmod(cell, 3)
    return (col * SIZE // 3, row * SIZE // 3, (col + 1) * SIZE // 3, (row + 1) * SIZE // 3)


def centred(cell: int, w: int, h: int, rng: random.Random | None = None, jitter: int = 0) -> list[int]:
    x0, y0, x1, y1 = cell_box(cell)
    dx = rng.randint(-jitter, jitter) if rng else 0
    dy = rng.randint(-jitter, jitter) if rng else 0
    left, top = (x0 + x1 - w) // 2 + dx, (y0 + y1 - h) // 2 + dy
    return [left, top, left + w, top + h]


def padded(box: list[int], pad: int = PAD) -> list[int]:
    return [max(box[0] - pad, 0), max(box[1] - pad, 0), min(box[2] + pad, SIZE), min(box[3] + pad, SIZE)]


def make_scene(index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scene and what its edits need (free cells, spare colours, a new word)."""
    rng = random.Random(SEED * 1000 + index)
    cells = rng.sample(range(9), 9)
    sign_cell, object_cells, free = cells[0], cells[1:4], cells[4:]
    colours = rng.sample(sorted(COLOURS), 5)
    shapes = rng.sample(SHAPES, 3)
    objects = []
    for i, (cell, shape, colour) in enumerate(zip(object_cells, shapes, colours[:3]), start=1):
        side = rng.randint(84, 112)
        objects.append({"id": f"o{i}", "shape": shape, "colour": colour, "box": centred(cell, side, side, rng, 14)})
    word, new_word = rng.sample(WORDS, 2)
    skies, grounds = sorted(SKIES), sorted(GROUNDS)
    scene = {"size": [SIZE, SIZE], "sky": skies[index % len(skies)], "ground": grounds[(index // 2) % len(grounds)],
             "horizon": 2 * SIZE // 3, "objects": objects,
             "sign": {"box": centred(sign_cell, 150, 64, rng, 8), "text": word}}
    spare = {"recolour": colours[3], "add": colours[4], "add_shape": rng.choice(SHAPES), "add_cell": free[0],
             "move_cell": free[1], "word": new_word, "style": sorted(STYLES)[index % len(STYLES)]}
    return scene, spare


def items_of(index: int, scene: dict[str, Any], spare: dict[str, Any], image: str) -> list[dict[str, Any]]:
    o1, o2, o3 = scene["objects"]

    def name(obj: dict[str, Any]) -> str:
        return f"{obj['colour']} {obj['shape']}"

    add_box = centred(spare["add_cell"], 100, 100)
    side = o3["box"][2] - o3["box"][0]
    move_box = centred(spare["move_cell"], side, side)
    sign = scene["sign"]
    edits = [
        ("recolour", f"Make the {name(o1)} {spare['recolour']}.", {"op": "recolour", "object": "o1",
                                                                    "colour": spare["recolour"]},
         [padded(o1["box"])]),
        ("remove", f"Remove the {name(o2)}.", {"op": "remove", "object": "o2"}, [padded(o2["box"])]),
        ("add", f"Add {article(spare['add'])} {spare['add_shape']} {at_place(spare['add_cell'])}.",
         {"op": "add", "shape": spare["add_shape"], "colour": spare["add"], "box": add_box},
         [list(cell_box(spare["add_cell"]))]),
        ("move", f"Move the {name(o3)} {to_place(spare['move_cell'])}.",
         {"op": "move", "object": "o3", "box": move_box}, [padded(o3["box"]), list(cell_box(spare["move_cell"]))]),
        ("text", f"Change the text on the sign from \"{sign['text']}\" to \"{spare['word']}\".",
         {"op": "text", "text": spare["word"]}, [padded(sign["box"])]),
        ("style", STYLE_WORDS[spare["style"]][0], {"op": "style", "style": spare["style"]}, None),
    ]
    out = []
    for category, instruction, edit, regions in edits:
        style = edit["style"] if category == "style" else None
        region = None if regions is None else [min(b[0] for b in regions), min(b[1] for b in regions),
                                               max(b[2] for b in regions), max(b[3] for b in regions)]
        item = {"id": f"s{index:02d}-{category}", "image": image, "instruction": instruction, "category": category,
                "region": region}
        if regions is not None and len(regions) > 1:
            item["regions"] = regions
        item.update({"source_caption": caption(scene), "target_caption": caption(apply_edit(scene, edit), style),
                     "scene": scene, "edit": edit})
        out.append(item)
    return out


def write_suite(out_dir: Path) -> Path:
    """Write <out_dir>/synthetic.jsonl and <out_dir>/synthetic/sceneNN.png; returns the JSONL's path."""
    (out_dir / SUITE).mkdir(parents=True, exist_ok=True)
    lines = []
    for index in range(SCENES):
        scene, spare = make_scene(index)
        image = f"{SUITE}/scene{index:02d}.png"
        render(scene).save(out_dir / image, format="PNG", optimize=True)
        lines.extend(json.dumps(item) for item in items_of(index, scene, spare, image))
    path = out_dir / f"{SUITE}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=EDITS_DIR, help="folder to write into (default: data/edits)")
    args = p.parse_args(argv)
    path = write_suite(args.out)
    size = sum(f.stat().st_size for f in (args.out / SUITE).glob("*.png")) + path.stat().st_size
    print(f"{path}: {SCENES * 6} items, {SCENES} images, {size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
