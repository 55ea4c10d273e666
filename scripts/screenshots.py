"""Screenshots of every page (Generate, Benchmark, History, Charts) at 1024 px and 1440 px, against a demo store.

    .venv/bin/python scripts/screenshots.py --out shots/

The demo store: a tiny-weights batch (real images) of four models, plus synthetic rows
(scripts/seed_history.py) with GPU timings, a failure with Hugging Face's offline error text, and API prices.
Needs Debian's chromium and playwright (scripts/install.sh --test).
"""
from __future__ import annotations

import argparse
import os
import re
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
server = runpy.run_path(str(ROOT / "scripts" / "dashboard_server.py"))  # scripts/ is no package: serve, settle, snap
HF_ERROR = ("OSError: Cannot find the requested files in the disk cache and outgoing traffic has been disabled. "
            "To enable hub look-ups and downloads online, pass local_files_only=False, see the stacktrace above")


def demo_store(folder: Path, env: dict[str, str]) -> None:
    from sqlmodel import select

    from core.store import Generation, make_engine, session_scope
    seed = runpy.run_path(str(ROOT / "scripts" / "seed_history.py"))["seed"]  # scripts/ is no package

    prompts = folder / "prompts.txt"
    prompts.write_text("a red apple on a wooden table\na lighthouse at dusk\na teapot with blue flowers\n")
    subprocess.run([sys.executable, "-m", "core.bench", "--models", "sd21,pixart-alpha,sana-600m,flux-dev",
                    "--weights", "tiny", "--prompts", str(prompts), "--seeds", "0", "1", "--no-progress",
                    "--name", "tiny-demo"], cwd=ROOT, env=env, check=True)
    seed(env["IGCS_DATABASE_URL"], 3000)
    engine = make_engine(env["IGCS_DATABASE_URL"])
    with session_scope(engine) as s:
        row = s.exec(select(Generation).where(Generation.status == "failed")).first()
        row.error = HF_ERROR
        s.add(row)
        s.commit()
    engine.dispose()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="shots")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="igcs-shots-"))
    env = {**os.environ, "IGCS_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}", "IGCS_OUTPUT_DIR": str(folder / "out"),
           "IGCS_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    demo_store(folder, env)
    os.environ["SHOTS_DB"] = env["IGCS_DATABASE_URL"]
    serve = server["serve"]
    with serve(env, folder / "streamlit.log") as url:
        shoot(url, out)
    print(f"screenshots in {out}")
    return 0


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for width in (1024, 1440):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_default_timeout(120_000)

            def settle() -> None:
                server["settle"](page)

            def snap(name: str) -> None:
                server["snap"](page, out / name, width)

            page.goto(url)
            page.get_by_text("Model catalog").first.wait_for()
            picker = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Open models").locator("input")
            for key in ("sd21", "pixart-alpha", "flux-dev"):
                picker.click()
                picker.fill(key)
                page.get_by_role("option").filter(has_text=f"{key} ·").first.click()
            page.keyboard.press("Escape")
            page.get_by_label("Prompt", exact=True).fill("a red apple on a wooden table")
            page.get_by_role("button", name="Generate", exact=True).click()
            page.locator('[data-testid="stMain"] [data-testid="stImage"]').nth(2).wait_for()
            snap("generate")
            page.goto(f"{url}/benchmark")
            page.get_by_text("Recent batches").wait_for()
            snap("benchmark")
            page.goto(f"{url}/history")
            page.get_by_text("generation(s) match").wait_for()
            snap("history-generations")
            page.get_by_text("Runs", exact=True).click()
            snap("history-runs")
            page.get_by_text("Grid", exact=True).click()
            page.get_by_text("filled cell(s)").wait_for()
            snap("history-grid")
            page.locator('[data-testid="stMain"] button').filter(has_text=re.compile(r"\d m?s")).first.click()
            page.get_by_role("dialog").wait_for()
            settle()
            page.screenshot(path=str(out / f"history-grid-dialog-{width}.png"))
            page.goto(f"{url}/history?gen={failed_id(url)}")
            page.get_by_text("generation(s) match").wait_for()
            snap("history-error-detail")
            page.goto(f"{url}/charts")
            page.get_by_role("tab", name="Atlas").wait_for()
            snap("charts")
            page.close()
        browser.close()


def failed_id(url: str) -> int:
    """A failed generation of the demo store (the one with Hugging Face's offline text)."""
    from sqlmodel import select

    from core.store import Generation, make_engine, session_scope

    engine = make_engine(os.environ["SHOTS_DB"])
    with session_scope(engine) as s:
        found = s.exec(select(Generation.id).where(Generation.error.contains("local_files_only"))).first()
    engine.dispose()
    return int(found)


if __name__ == "__main__":
    sys.exit(main())
