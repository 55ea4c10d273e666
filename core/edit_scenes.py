"""Synthetic edit scenes: flat shapes of known shape, colour and place on a two-tone background, plus a sign with
text, drawn with PIL; and the edits a suite asks of them, each done exactly (the ground truth the checks use).

A scene is plain data (what `data/edits/<suite>.jsonl` stores beside each item, so the item carries its own ground
truth):

    {"size": [512, 512], "sky": "light blue", "ground": "sand", "horizon": 341,
     "objects": [{"id": "o1", "shape": "circle", "colour": "red", "box": [x0, y0, x1, y1]}, ...],
     "sign": {"box": [x0, y0, x1, y1], "text": "SALE"}}

An edit is one of:

    {"op": "recolour", "object": "o1", "colour": "blue"}
    {"op": "remove", "object": "o2"}
    {"op": "add", "shape": "square", "colour": "yellow", "box": [...]}
    {"op": "move", "object": "o3", "box": [...]}            (the object's new box, same size)
    {"op": "text", "text": "OPEN"}
    {"op": "style", "style": "grayscale" | "sepia" | "night" | "sketch" | "invert"}

`render(scene)` draws a scene (no anti-aliasing, so every pixel is one of the scene's colours or the font's grey
edge); `apply_edit(scene, edit)` gives the edited scene (style edits leave the scene as is); `target_image(scene,
edit)` is the exact edited image. Boxes are [x0, y0, x1, y1], x1 and y1 exclusive, in source pixels.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

Box = tuple[int, int, int, int]

# Object colours: far apart in RGB, so the nearest named colour of a pixel says which one it shows.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 220), "yellow": (240, 210, 30),
    "orange": (245, 135, 20), "purple": (140, 60, 190),
}
SKIES: dict[str, tuple[int, int, int]] = {"light blue": (190, 220, 245), "pale grey": (215, 215, 220),
                                          "pale pink": (245, 215, 220)}
GROUNDS: dict[str, tuple[int, int, int]] = {"sand": (230, 215, 175), "grass": (170, 210, 150),
                                            "light brown": (200, 175, 145)}
SIGN_FILL = (250, 250, 250)
SIGN_EDGE = (90, 90, 90)
INK = (20, 20, 20)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
# Fraction of its bounding box a shape fills (the check tells shapes apart by it).
FILL_RATIO: dict[str, float] = {"circle": float(np.pi / 4), "square": 1.0, "triangle": 0.5}
FONT_SIZE = 40
EDIT_OPS: tuple[str, ...] = ("recolour", "remove", "add", "move", "text", "style")


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font (Aileron) at FONT_SIZE: the same glyphs on every machine with the same Pillow."""
    return ImageFont.load_default(size=FONT_SIZE)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: Box, fill: Any) -> None:
    x0, y0, x1, y1 = box
    if shape == "circle":
        draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif shape == "square":
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif shape == "triangle":
        draw.polygon([((x0 + x1 - 1) / 2, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)], fill=fill)
    else:
        raise ValueError(f"shape: {shape!r} is not allowed; choose one of {', '.join(SHAPES)}")


def shape_mask(size: tuple[int, int], shape: str, box: Box) -> np.ndarray:
    """(H, W) bool: the pixels the shape covers when drawn at `box`."""
    mask = Image.new("L", size, 0)
    _draw_shape(ImageDraw.Draw(mask), shape, box, 255)
    return np.asarray(mask) > 0


def background(scene: dict[str, Any]) -> Image.Image:
    """The scene's sky and ground alone (what a removed object leaves)."""
    w, h = scene["size"]
    image = Image.new("RGB", (w, h), SKIES[scene["sky"]])
    ImageDraw.Draw(image).rectangle((0, scene["horizon"], w - 1, h - 1), fill=GROUNDS[scene["ground"]])
    return image


def _draw_sign(image: Image.Image, sign: dict[str, Any]) -> None:
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = sign["box"]
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=SIGN_FILL, outline=SIGN_EDGE, width=3)
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), sign["text"], fill=INK, font=_font(), anchor="mm")


def render(scene: dict[str, Any]) -> Image.Image:
    """The scene as an RGB image: background, then the sign, then the objects in order."""
    image = background(scene)
    if scene.get("sign"):
        _draw_sign(image, scene["sign"])
    draw = ImageDraw.Draw(image)
    for obj in scene["objects"]:
        _draw_shape(draw, obj["shape"], tuple(obj["box"]), COLOURS[obj["colour"]])
    return image


def text_ink(size: tuple[int, int], sign: dict[str, Any], text: str | None = None) -> np.ndarray:
    """(H, W) bool: the pixels the sign's text (or `text` on that sign) inks."""
    mask = Image.new("L", size, 0)
    x0, y0, x1, y1 = sign["box"]
    ImageDraw.Draw(mask).text(((x0 + x1) / 2, (y0 + y1) / 2), sign["text"] if text is None else text, fill=255,
                              font=_font(), anchor="mm")
    return np.asarray(mask) > 127


def find_object(scene: dict[str, Any], object_id: str) -> dict[str, Any]:
    for obj in scene["objects"]:
        if obj["id"] == object_id:
            return obj
    known = ", ".join(o["id"] for o in scene["objects"])
    raise ValueError(f"edit.object: {object_id!r} is not in the scene; its objects are {known}")


def apply_edit(scene: dict[str, Any], edit: dict[str, Any]) -> dict[str, Any]:
    """The scene after `edit` (a new dict; style edits change pixels, not the scene)."""
    out = copy.deepcopy(scene)
    op = edit.get("op")
    if op == "recolour":
        find_object(out, edit["object"])["colour"] = edit["colour"]
    elif op == "remove":
        out["objects"] = [o for o in out["objects"] if o["id"] != find_object(out, edit["object"])["id"]]
    elif op == "add":
        out["objects"].append({"id": f"o{len(scene['objects']) + 1}", "shape": edit["shape"],
                               "colour": edit["colour"], "box": list(edit["box"])})
    elif op == "move":
        find_object(out, edit["object"])["box"] = list(edit["box"])
    elif op == "text":
        out["sign"]["text"] = edit["text"]
    elif op != "style":
        raise ValueError(f"edit.op: {op!r} is not allowed; choose one of {', '.join(EDIT_OPS)}")
    return out


# ---- styles: whole-image edits, each an exact function of the source ------------------------------------------
def _sepia(image: Image.Image) -> Image.Image:
    grey = np.asarray(ImageOps.grayscale(image), dtype=np.float32)[..., None]
    tone = np.array([1.07, 0.74, 0.43], dtype=np.float32)  # the usual sepia tint of a grey level
    return Image.fromarray(np.clip(grey * tone, 0, 255).astype(np.uint8))


def _night(image: Image.Image) -> Image.Image:
    rgb = np.asarray(image, dtype=np.float32)
    tint = np.array([0.35, 0.40, 0.65], dtype=np.float32)  # darker, bluer
    return Image.fromarray(np.clip(rgb * tint, 0, 255).astype(np.uint8))


def _sketch(image: Image.Image) -> Image.Image:
    return ImageOps.grayscale(image).filter(ImageFilter.CONTOUR).convert("RGB")


STYLES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "grayscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "sepia": _sepia,
    "night": _night,
    "sketch": _sketch,
    "invert": lambda im: ImageOps.invert(im.convert("RGB")),
}
STYLE_WORDS: dict[str, tuple[str, str]] = {  # instruction, caption suffix
    "grayscale": ("Make the picture black and white.", "in black and white"),
    "sepia": ("Make it look like an old sepia photograph.", "as an old sepia photograph"),
    "night": ("Make it look like the scene at night.", "at night"),
    "sketch": ("Turn the picture into a pencil sketch.", "as a pencil sketch"),
    "invert": ("Invert the colours of the picture.", "with inverted colours"),
}


def stylise(image: Image.Image, style: str) -> Image.Image:
    if style not in STYLES:
        raise ValueError(f"edit.style: {style!r} is not allowed; choose one of {', '.join(STYLES)}")
    return STYLES[style](image.convert("RGB"))


def target_image(scene: dict[str, Any], edit: dict[str, Any]) -> Image.Image:
    """The exact result of `edit` on the rendered scene."""
    if edit.get("op") == "style":
        return stylise(render(scene), edit["style"])
    return render(apply_edit(scene, edit))


PLACES: tuple[str, ...] = ("top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom",
                          "bottom right")  # the cells of a 3 x 3 grid, row by row
AT_PLACE: dict[str, str] = {"top": "at the top", "bottom": "at the bottom", "left": "on the left",
                            "right": "on the right", "centre": "in the centre"}  # else "in the <place> corner"
TO_PLACE: dict[str, str] = {"top": "to the top", "bottom": "to the bottom", "left": "to the left side",
                            "right": "to the right side", "centre": "to the centre"}  # else "to the <place> corner"


def cell_of(size: tuple[int, int], box: Box | list[int]) -> int:
    """The 3 x 3 grid cell (0 top left .. 8 bottom right) holding the box's centre."""
    w, h = size
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return min(int(3 * cy / h), 2) * 3 + min(int(3 * cx / w), 2)


def at_place(cell: int) -> str:
    name = PLACES[cell]
    return AT_PLACE.get(name, f"in the {name} corner")


def to_place(cell: int) -> str:
    name = PLACES[cell]
    return TO_PLACE.get(name, f"to the {name} corner")


def article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def caption(scene: dict[str, Any], style: str | None = None) -> str:
    """'a red circle in the top left corner, a blue square at the bottom and an orange triangle on the right on a
    light blue sky over sand, beside a sign that says "SALE"' (+ the style's words)."""
    size = tuple(scene["size"])
    things = [f"{article(o['colour'])} {o['shape']} {at_place(cell_of(size, o['box']))}" for o in scene["objects"]]
    listed = things[0] if len(things) == 1 else ", ".join(things[:-1]) + " and " + things[-1] if things else ""
    text = (listed + " " if listed else "") + f"on a {scene['sky']} sky over {scene['ground']}"
    if scene.get("sign"):
        text += f", beside a sign that says \"{scene['sign']['text']}\""
    return text + (f", {STYLE_WORDS[style][1]}" if style else "")
