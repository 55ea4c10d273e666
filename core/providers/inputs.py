"""The source images (and mask) of an edit as a provider sends them: read, checked against that provider's limits,
encoded in its wire format.

Every provider states its limits as `Limits` (formats, bytes per image, smallest side, aspect ratio, pixels); a
request outside them is a RequestError naming the field (``inputs[0]``, ``mask``), the value and what the model
takes, before anything is sent. The bytes sent are the file's bytes, never re-encoded, and they must still hash to
the sha256 the job key was made from (a file changed after planning is refused: the row would lie about its source).
"""
from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from core.errors import RequestError

if TYPE_CHECKING:
    from core.jobs import GenerationRequest, InputImage
    from core.spec import ModelSpec

EDIT = "edit"
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif", "bmp": "image/bmp",
        "tiff": "image/tiff"}
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one provider takes as an input image."""

    formats: tuple[str, ...]  # lower-case PIL format names: png, jpeg, webp ...
    max_bytes: int
    min_side: int = 1
    max_ratio: float | None = None  # long side / short side
    max_pixels: int | None = None
    alpha: bool = False  # must carry an alpha channel (OpenAI's mask)

    def describe(self) -> str:
        parts = [f"{'/'.join(self.formats)} up to {self.max_bytes / MB:g} MB"]
        if self.min_side > 1:
            parts.append(f"at least {self.min_side} px per side")
        if self.max_ratio:
            parts.append(f"aspect ratio within 1:{self.max_ratio:g} to {self.max_ratio:g}:1")
        if self.max_pixels:
            parts.append(f"at most {self.max_pixels} pixels")
        if self.alpha:
            parts.append("with an alpha channel")
        return ", ".join(parts)


@dataclass(frozen=True)
class Source:
    """One input image, read and checked: its bytes exactly as on disk."""

    field: str  # "inputs[0]", "mask"
    path: str
    data: bytes
    format: str  # png, jpeg, webp ...
    width: int
    height: int
    has_alpha: bool
    sha256: str

    @property
    def mime(self) -> str:
        return MIME.get(self.format, f"image/{self.format}")

    @property
    def filename(self) -> str:
        return f"{self.field.replace('[', '').replace(']', '')}.{'jpg' if self.format == 'jpeg' else self.format}"

    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{self.b64()}"

    def record(self) -> dict[str, Any]:
        """What a row's sent parameters keep of it: never the bytes, never the path (the row has it)."""
        return {"sha256": self.sha256, "format": self.format, "size": f"{self.width}x{self.height}",
                "bytes": len(self.data)}


def is_edit(req: "GenerationRequest") -> bool:
    return req.task == EDIT


def read_source(image: "InputImage", *, field: str, limits: Limits, model: str) -> Source:
    """Read one input image and check it against `limits` (RequestError naming `field` otherwise)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open(image.path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise RequestError(field, image.path, f"a readable image file ({exc.strerror or exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != image.sha256:
        raise RequestError(field, image.path, f"the file hashing to {image.sha256[:16]} that the job was planned "
                                              f"with; it now hashes to {digest[:16]} (plan the job again)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            fmt, (w, h), bands = (img.format or "").lower(), img.size, img.getbands()
            alpha = "A" in bands or (img.mode == "P" and "transparency" in img.info)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise RequestError(field, image.path, f"a readable image for {model}: {limits.describe()}") from None
    if fmt not in limits.formats:
        raise RequestError(field, image.path, f"{model} takes {'/'.join(limits.formats)} images, not {fmt or 'this'}")
    if len(data) > limits.max_bytes:
        raise RequestError(field, image.path, f"{model} takes images up to {limits.max_bytes / MB:g} MB, not "
                                              f"{len(data) / MB:.1f} MB")
    if min(w, h) < limits.min_side:
        raise RequestError(field, image.path, f"{model} takes images of at least {limits.min_side} px per side, "
                                              f"not {w}x{h}")
    if limits.max_ratio and max(w, h) / min(w, h) > limits.max_ratio + 1e-9:
        raise RequestError(field, image.path, f"{model} takes aspect ratios from 1:{limits.max_ratio:g} to "
                                              f"{limits.max_ratio:g}:1, not {w}x{h}")
    if limits.max_pixels and w * h > limits.max_pixels:
        raise RequestError(field, image.path, f"{model} takes at most {limits.max_pixels} pixels, not {w}x{h}")
    if limits.alpha and not alpha:
        raise RequestError(field, image.path, f"a PNG with an alpha channel for {model} (transparent pixels mark "
                                              "where to edit)")
    return Source(field=field, path=image.path, data=data, format=fmt, width=w, height=h, has_alpha=alpha,
                  sha256=digest)


def sources(spec: "ModelSpec", req: "GenerationRequest", limits: Limits, *, max_total_bytes: int | None = None,
            total_what: str = "the request's images") -> list[Source]:
    """Every input image of an edit request, read and checked, in order (empty for text-to-image)."""
    if not is_edit(req):
        return []
    if not req.inputs:
        raise RequestError("inputs", 0, f"an edit needs a source image ({spec.key} takes 1 to "
                                        f"{spec.max_input_images})")
    if len(req.inputs) > spec.max_input_images:
        raise RequestError("inputs", len(req.inputs), f"{spec.key} takes 1 to {spec.max_input_images} input images")
    out = [read_source(image, field=f"inputs[{i}]", limits=limits, model=spec.key)
           for i, image in enumerate(req.inputs)]
    total = sum(len(s.data) for s in out)
    if max_total_bytes and total > max_total_bytes:
        raise RequestError("inputs", f"<{total / MB:.1f} MB>", f"{spec.key} takes at most "
                                                                f"{max_total_bytes / MB:g} MB of {total_what}")
    return out


def mask_source(spec: "ModelSpec", req: "GenerationRequest", limits: Limits, first: Source | None) -> Source | None:
    """The edit mask, read and checked; it must match the first input image's size."""
    if req.mask is None:
        return None
    if not spec.takes_mask or not is_edit(req):
        raise RequestError("mask", req.mask.path, f"{spec.key} takes no mask" if not spec.takes_mask
                           else "a mask only with task edit")
    mask = read_source(req.mask, field="mask", limits=limits, model=spec.key)
    if first is not None and (mask.width, mask.height) != (first.width, first.height):
        raise RequestError("mask", req.mask.path, f"a mask of the first input image's size, {first.width}x"
                                                  f"{first.height}, not {mask.width}x{mask.height}")
    return mask


def refuse_edit_options(spec: "ModelSpec", req: "GenerationRequest", names: Iterable[str]) -> None:
    """Options that only mean something with a source image are refused for text-to-image, naming the field."""
    if is_edit(req):
        return
    for name in names:
        if name in req.extra:
            raise RequestError(f"extra.{name}", req.extra[name], f"only for an edit (task edit) on {spec.key}")


def recorded(items: Iterable[Source]) -> list[dict[str, Any]]:
    return [s.record() for s in items]
