"""Screenshots of History's grid, run annotations and shareable links at 1024 px and 1440 px, against a demo
store of tiny-weight runs (real images, prompt categories, two step counts, tags and notes).

    .venv/bin/python scripts/screenshots_gallery.py --out shots/gallery [--port 8611]

Also saves the grid's PNG sheet as the page downloads it, and prints the History URL after the filters are
set (a link that reopens the same view). Needs Debian's chromium and playwright (scripts/install.sh --test).
"""
from __future__ import annotations

import argparse
import os
import re
import runpy
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def demo_store(folder: Path, env: dict[str, str]) -> None:
    prompts = folder / "prompts.jsonl"
    prompts.write_text('{"prompt": "a red apple on a wooden table", "category": "objects"}\n'
                       '{"prompt": "a lighthouse at dusk", "category": "places"}\n'
                       '{"prompt": "a teapot with blue flowers", "category": "objects"}\n')
    common = [sys.executable, "-m", "core.bench", "--models", "sd21,sdxl,pixart-sigma", "--weights", "tiny",
              "--prompts", str(prompts), "--seeds", "0", "1", "--no-progress"]
    subprocess.run([*common, "--name", "tiny three models", "--tag", "baseline", "--tag", "cpu",
                    "--note", "default steps; the grid's first look"], cwd=ROOT, env=env, check=True)
    subprocess.run([*common, "--steps", "4", "--tag", "cpu"], cwd=ROOT, env=env, check=True)
    seed = runpy.run_path(str(ROOT / "scripts" / "seed_history.py"))["seed"]  # scripts/ is no package
    seed(env["IGCS_DATABASE_URL"], 1000)  # GPU-like rows: the History table with every column filled


def serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
                             "--server.address", "localhost", "--server.headless", "true"], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(200):
        try:
            if urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"the dashboard did not start on port {port}: see {log}")


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for width in (1024, 1440):
            page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
            page.set_default_timeout(120_000)

            def settle() -> None:
                page.wait_for_timeout(1500)
                page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
                page.wait_for_timeout(800)

            def snap(name: str, full: bool = True) -> None:
                settle()
                if full:  # Streamlit scrolls inside its main block: the window grows to fit it (twice: images and
                    for _ in range(2):  # tables draw after it grows, and the page grows with them)
                        height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
                                               "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 900)")
                        page.set_viewport_size({"width": width, "height": min(int(height) + 100, 9000)})
                        settle()
                        page.wait_for_timeout(2500)
                page.screenshot(path=str(out / f"{name}-{width}.png"))
                page.set_viewport_size({"width": width, "height": 900})

            def choose(label: str, option: str) -> None:
                page.get_by_role("combobox", name=label).first.click()
                page.get_by_role("option", name=option, exact=True).first.click()

            page.goto(f"{url}/history")
            page.get_by_text("generation(s) match").wait_for()
            snap("history-generations")
            choose("Run tag", "cpu")
            settle()
            page.get_by_role("textbox", name="Prompt contains").fill("apple")
            page.keyboard.press("Enter")
            settle()
            link = page.url
            print(f"{width} px: the link after filtering: {link}")
            fresh = browser.new_page(viewport={"width": width, "height": 900})
            fresh.goto(link)
            fresh.get_by_text("generation(s) match").wait_for()
            fresh.get_by_role("textbox", name="Prompt contains").wait_for()
            fresh.wait_for_timeout(1500)
            fresh.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
            fresh.wait_for_timeout(4000)
            print(f"{width} px: the reopened link shows prompt "
                  f"{fresh.get_by_role('textbox', name='Prompt contains').input_value()!r}, "
                  f"{fresh.get_by_text('generation(s) match').inner_text()!r}")
            fresh.screenshot(path=str(out / f"history-link-reopened-{width}.png"))
            fresh.close()
            page.goto(f"{url}/history?hist_view=Runs")
            page.get_by_text("run(s)").first.wait_for()
            snap("history-runs")
            form = page.locator('[data-testid="stForm"]')
            form.get_by_role("textbox", name="Notes").fill(f"annotated from the browser at {width} px")
            tags = form.locator('[data-testid="stMultiSelect"] input')
            tags.click()
            tags.fill(f"w{width}-{int(time.time()) % 10000}")  # a new tag each time
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            form.get_by_role("button", name="Save").click()
            page.get_by_text("Saved the name, notes and tags").wait_for()
            snap("history-runs-saved")
            page.goto(f"{url}/history?hist_view=Grid")
            page.get_by_text("filled cell(s)").wait_for()
            snap("history-grid")
            page.locator('[data-testid="stMain"] button').filter(has_text=re.compile(r"\d m?s")).first.click()
            page.get_by_role("dialog").wait_for()
            settle()
            page.screenshot(path=str(out / f"history-grid-dialog-{width}.png"))
            page.get_by_role("dialog").get_by_role("button").filter(has_text="→").first.click()
            settle()
            page.wait_for_timeout(2500)  # the dialog redraws its buttons after its header
            page.screenshot(path=str(out / f"history-grid-dialog-next-{width}.png"))
            page.keyboard.press("Escape")
            settle()
            with page.expect_download() as download:
                page.get_by_role("button", name="PNG sheet").click()
            download.value.save_as(str(out / f"grid-sheet-{width}.png"))
            page.goto(f"{url}/history?hist_view=Grid&grid_runs=1,2&hist_grid_x=steps&hist_grid_y=model&hist_grid_z=prompt")
            page.get_by_text("filled cell(s)").wait_for()
            snap("history-grid-two-runs")  # steps across (two runs), models down, prompts as pages; seed held
            page.close()
        browser.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="shots/gallery")
    p.add_argument("--port", type=int, default=8611)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="igcs-gallery-"))
    env = {**os.environ, "IGCS_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}", "IGCS_OUTPUT_DIR": str(folder / "out"),
           "IGCS_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    demo_store(folder, env)
    proc = serve(env, args.port, folder / "streamlit.log")
    try:
        shoot(f"http://localhost:{args.port}", out)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    print(f"screenshots in {out}; store {env['IGCS_DATABASE_URL']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
