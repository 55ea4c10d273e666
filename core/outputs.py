"""Image files, PNG metadata and one `generation_config.json` per run."""
from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

PNG_KEY = "generation"  # PNG text chunk holding the generation parameters as JSON


def make_run_dir(base: str | Path) -> Path:
    """`<base>/<UTC timestamp>-<random>`: two runs started in the same second never collide."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    while True:
        path = Path(base) / f"{stamp}-{secrets.token_hex(3)}"
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:  # pragma: no cover - 1 in 16M
            continue


def image_filename(*, model_key: str, seed: int | None, index: int, job_key: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_key)
    return f"{safe}_s{seed}_{index}_{job_key[:8]}.png"


def save_image(image: Image.Image, path: Path, params: dict[str, Any]) -> Path:
    """Write a PNG with `params` as JSON in a text chunk; written to a temp name then renamed."""
    info = PngImagePlugin.PngInfo()
    info.add_text(PNG_KEY, json.dumps(params, default=str, sort_keys=True))
    info.add_text("Software", "image-generation-case-study")
    tmp = path.with_suffix(".png.tmp")
    image.save(tmp, format="PNG", pnginfo=info)
    os.replace(tmp, path)
    return path


def read_png_params(path: str | Path) -> dict[str, Any]:
    with Image.open(path) as im:
        return json.loads(im.text[PNG_KEY])


def write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, default=str, indent=2, sort_keys=True))
    os.replace(tmp, path)


def write_generation_config(run_dir: Path, *, run: dict[str, Any], generations: list[dict[str, Any]]) -> Path:
    """`generation_config.json`: the run's facts and one entry per generation (same facts as the rows)."""
    path = run_dir / "generation_config.json"
    write_json_atomic(path, {"run": run, "generations": generations})
    return path
