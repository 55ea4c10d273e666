"""Screenshots of the editing pages (Edit; History filtered to edits, with sources; a generation's details with
"Edit this") at 1024 px and 1440 px, against a demo store of tiny-weight edits.

    .venv/bin/python scripts/screenshots_edit.py --out shots/edit/ [--port 8617]

Needs Debian's chromium and playwright (scripts/install.sh --test).
"""
from __future__ import annotations

import argparse
import json
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
server = runpy.run_path(str(ROOT / "scripts" / "dashboard_server.py"))  # scripts/ is no package: serve, settle, snap
EDITORS = "instruct-pix2pix,flux-kontext-dev,qwen-image-edit,flux2-klein-4b"


def scene(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (256, 256)) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (235, 232, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(size[1] * 0.7), size[0], size[1]), fill=(150, 120, 90))
    draw.ellipse((int(size[0] * 0.3), int(size[1] * 0.3), int(size[0] * 0.7), int(size[1] * 0.7)), fill=colour)
    draw.text((10, 10), "SALE", fill=(20, 20, 20))
    image.save(path)
    return path


def demo_store(folder: Path, env: dict[str, str]) -> Path:
    scene(folder / "red.png", (200, 40, 40))
    scene(folder / "blue.png", (40, 60, 200), (320, 240))
    edits = folder / "edits.jsonl"
    edits.write_text("\n".join(json.dumps(e) for e in (
        {"image": "red.png", "instruction": "make the ball blue", "category": "recolour"},
        {"image": "blue.png", "instruction": "remove the ball", "category": "remove"})) + "\n")
    bench = [sys.executable, "-m", "core.bench", "--weights", "tiny", "--no-progress"]
    subprocess.run([*bench, "--models", EDITORS, "--task", "edit", "--inputs", str(edits), "--name", "tiny-edits"],
                   cwd=ROOT, env=env, check=True)
    subprocess.run([*bench, "--models", "sd21", "--prompt", "a lighthouse at dusk", "--name", "tiny-generate"],
                   cwd=ROOT, env=env, check=True)
    return scene(folder / "upload.png", (40, 160, 60), (288, 224))


def shoot(url: str, out: Path, upload: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                     "--disable-background-networking"])
        for width in (1024, 1440):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_default_timeout(240_000)

            def settle() -> None:
                server["settle"](page)

            def snap(name: str) -> None:
                server["snap"](page, out / name, width)

            page.goto(f"{url}/edit")
            page.get_by_text("Open editing models").first.wait_for()
            page.locator('[data-testid="stButtonGroup"] button').filter(has_text="Upload").click()
            settle()
            page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(upload))
            settle()
            page.get_by_label("Instruction", exact=True).fill("make the ball blue")
            page.locator('[data-testid="stRadio"]').filter(has_text="Weights").get_by_text("tiny", exact=True).click()
            settle()
            picker = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Open editing models").locator("input")
            for key in EDITORS.split(","):
                picker.click()
                picker.fill(key)
                page.get_by_role("option").filter(has_text=f"{key} ·").first.click()
            page.keyboard.press("Escape")
            snap("edit-form")
            page.get_by_role("button", name="Edit", exact=True).click()
            page.get_by_text("edit(s),").wait_for()
            snap("edit-results")
            page.goto(f"{url}/history")
            page.get_by_text("generation(s) match").wait_for()
            page.locator('[data-testid="stSelectbox"]').filter(has_text="Task").click()
            page.get_by_role("option", name="edit", exact=True).click()
            settle()
            page.get_by_text("Show the images of this page").click()
            snap("history-edits")
            page.close()
        browser.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="shots/edit")
    p.add_argument("--port", type=int, default=8617)
    p.add_argument("--store", type=Path, help="reuse the demo store in this folder (from an earlier run)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = args.store or Path(tempfile.mkdtemp(prefix="igcs-edit-shots-"))
    env = {**os.environ, "IGCS_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}", "IGCS_OUTPUT_DIR": str(folder / "out"),
           "IGCS_DEVICE": "cpu", "PYTHONPATH": str(ROOT)}
    upload = folder / "upload.png" if args.store else demo_store(folder, env)
    with server["serve"](env, folder / "streamlit.log", args.port) as url:
        shoot(url, out, upload)
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
