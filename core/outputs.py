"""Image files, PNG metadata and one `generation_config.json` per run."""
from __future__ import annotations

import json
import os
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from core.jobs import InputImage

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


def image_filename(*, model_key: str, seed: int | None, index: int, job_key: str, recipe: str = "eager",
                   repeat: int = 0) -> str:
    """One file per image of a run: jobs that differ only in recipe or repeat share the key's first characters."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_key)
    tail = "" if recipe == "eager" else "_" + "".join(c if c.isalnum() else "-" for c in recipe)
    tail += f"_r{repeat}" if repeat else ""
    return f"{safe}_s{seed}_{index}_{job_key[:8]}{tail}.png"


def keep_input(image: InputImage, run_dir: Path) -> dict[str, str]:
    """Copy an edit's source image into the run folder (`inputs/<sha256[:16]><ext>`, once per run): the row points at
    the copy, so browsing and reproducing it need nothing outside the run folder."""
    source = Path(image.path)
    target = run_dir / "inputs" / f"{image.sha256[:16]}{source.suffix.lower() or '.png'}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    return {"path": str(target), "sha256": image.sha256, "source": str(source)}


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


# ---- staying inside the output folder ------------------------------------------------------------
class OutsideOutputError(ValueError):
    """A stored path points outside the output folder (a shared store can hold anything)."""

    def __init__(self, path: str | Path, root: str | Path):
        self.path, self.root = str(path), str(root)
        super().__init__(f"refused: {path} is outside the output folder {root}")


def inside_output(path: str | Path, root: str | Path) -> Path:
    """`path` resolved (symlinks followed; relative paths are taken from the working folder, as they were
    written), when it lies inside `root`; else `OutsideOutputError`."""
    base = Path(root).expanduser().resolve()
    target = Path(path).expanduser().resolve()
    if target != base and base not in target.parents:
        raise OutsideOutputError(path, base)
    return target


def readable_file(path: str | Path | None, root: str | Path) -> Path | None:
    """The file to show for a stored image path: inside `root` and present, else None."""
    if not path:
        return None
    try:
        target = inside_output(path, root)
    except OutsideOutputError:
        return None
    return target if target.is_file() else None


def delete_files(paths: list[str | Path], root: str | Path) -> tuple[int, list[str]]:
    """Unlink files that lie inside `root`. Returns (removed, problems); a path outside is refused and named
    in the problems, never touched; one already gone is not a problem."""
    removed, problems = 0, []
    for path in paths:
        try:
            inside_output(path, root).unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OutsideOutputError as exc:
            problems.append(str(exc))
        except OSError as exc:
            problems.append(f"{path}: {exc}")
    return removed, problems


def batch_files(root: str | Path, name: str | None, params: dict[str, Any] | None = None) -> list[Path]:
    """The files a dashboard batch leaves under `<root>/batches/`: its log (`params["log"]`, else
    `<name>.log`) and its pasted-prompts file (the `--prompts` of `params["argv"]` when it lies in batches/,
    else `<name>.txt`). Only paths inside `<root>/batches/` are returned."""
    folder = Path(root) / "batches"
    found: list[Path] = []
    params = params or {}
    if params.get("log"):
        found.append(Path(params["log"]))
    argv = params.get("argv") or []
    for flag, value in zip(argv, argv[1:]):
        if flag == "--prompts":
            found.append(Path(value))
    if name:
        safe = Path(name).name  # a run name never walks out of the batches folder
        found += [folder / f"{safe}.log", folder / f"{safe}.txt"]
    base = folder.expanduser().resolve()
    return [p for p in dict.fromkeys(found) if p.expanduser().resolve().parent == base]


def remove_run_files(*, root: str | Path, image_paths: list[str], run_dir: str | None, run_name: str | None,
                     params: dict[str, Any] | None = None) -> tuple[int, list[str]]:
    """Everything a deleted run left on disk, inside `root` only: images, its run folder's
    generation_config.json (and the folder when empty), its batch log and prompts file.
    Returns (image files removed, problems)."""
    removed, problems = delete_files(image_paths, root)
    extra: list[Path] = [p for p in batch_files(root, run_name, params) if p.exists()]
    if run_dir:
        try:
            folder = inside_output(run_dir, root)
        except OutsideOutputError as exc:
            problems.append(str(exc))
            folder = None
        if folder is not None and folder.is_dir():
            extra += [folder / n for n in ("generation_config.json", "generation_config.json.tmp")]
            _, more = delete_files(extra, root)
            problems += more
            if folder != Path(root).expanduser().resolve():
                try:
                    folder.rmdir()  # only when nothing else is left in it
                except OSError:
                    pass
            return removed, problems
    _, more = delete_files(extra, root)
    return removed, problems + more
