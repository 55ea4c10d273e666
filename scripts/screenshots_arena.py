"""Screenshots of the Arena (before and after votes cast through the page), Compare's paired statistics (two models;
two runs of one job) and Charts' arena axis, at 1024 px and 1440 px.

    PYTHONPATH=. .venv/bin/python scripts/screenshots_arena.py --out shots/arena/            # builds a demo store
    PYTHONPATH=. .venv/bin/python scripts/screenshots_arena.py --db sqlite:///x.db --outputs DIR --out shots/ --port 8614

The demo store: a tiny sweep of sd21, sdxl, pixart-sigma and sana-600m over data/prompts/suite.jsonl (seed 0),
scored inline by tiny CLIP and PickScore scorers. The script votes `--votes` times on the Arena page (at 1024 px;
the buttons in turn) before the later shots. Needs Debian's chromium and playwright (scripts/install.sh --test).
"""
from __future__ import annotations

import argparse
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SWEEP = ["--models", "sd21,sdxl,pixart-sigma,sana-600m", "--weights", "tiny", "--prompts", "data/prompts/suite.jsonl",
         "--seeds", "0", "--score", "clip,pick", "--scorer-weights", "tiny", "--no-progress"]
BUTTONS = ("A is better", "B is better", "Tie", "A is better", "Both bad", "B is better", "A is better")


def shoot(url: str, out: Path, votes: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for width in (1024, 1440):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_default_timeout(120_000)

            def snap(name: str, full: bool = True) -> None:
                page.wait_for_timeout(1500)
                page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
                page.wait_for_timeout(1000)
                if full:  # the main block scrolls inside the page: grow the viewport to its height
                    height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
                                           "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 900)")
                    page.set_viewport_size({"width": width, "height": min(int(height) + 100, 16000)})
                    page.wait_for_timeout(1200)
                page.screenshot(path=str(out / f"{name}-{width}.png"))
                page.set_viewport_size({"width": width, "height": 900})

            page.goto(f"{url}/arena")
            page.get_by_role("heading", name="Arena").wait_for()
            page.get_by_role("combobox", name="Weights").click()
            page.get_by_role("option", name="tiny").click()
            page.get_by_text("Leaderboard").wait_for()
            snap("arena-top", full=False)  # the pair and its buttons in the first screen
            if width == 1024:
                name = page.get_by_role("textbox", name="Your name")
                name.fill("screenshots")
                name.press("Enter")
                for i in range(votes):
                    page.get_by_role("button", name=BUTTONS[i % len(BUTTONS)], exact=True).click()
                    page.get_by_text(f"{i + 1} vote(s) by").wait_for()
            snap("arena")
            page.goto(f"{url}/compare")
            page.get_by_text("pair(s)").first.wait_for()
            snap("compare-models")
            page.get_by_text("two runs", exact=True).click()
            page.get_by_text("pair(s)").first.wait_for()
            page.get_by_text("PSNR identical").first.wait_for()
            snap("compare-runs")
            page.goto(f"{url}/charts")
            page.get_by_role("heading", name="Quality", exact=True).wait_for()
            page.get_by_role("combobox", name="Weights").first.click()
            page.get_by_role("option", name="tiny").click()
            page.wait_for_timeout(1500)
            page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
            metric = page.get_by_role("combobox", name="Metric")
            metric.click()
            metric.fill("Arena")  # the selectbox filters as one types
            page.get_by_role("option", name="Arena rating (votes)").wait_for()
            page.keyboard.press("Enter")
            page.get_by_text("the Arena page has the leaderboard").wait_for()
            snap("charts-arena")
            page.close()
        browser.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="shots/arena")
    p.add_argument("--db", help="a store with tiny runs (default: build the demo store in a temporary folder)")
    p.add_argument("--outputs", help="that store's IGCS_OUTPUT_DIR")
    p.add_argument("--port", type=int, help="serve the dashboard on this port (default: a free one)")
    p.add_argument("--votes", type=int, default=24, help="votes to cast on the Arena page before the later shots")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="igcs-arena-shots-"))
    env = {**os.environ, "IGCS_DATABASE_URL": args.db or f"sqlite:///{folder / 'demo.db'}",
           "IGCS_OUTPUT_DIR": args.outputs or str(folder / "out"), "IGCS_DEVICE": "cpu", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    if not args.db:
        subprocess.run([sys.executable, "-m", "core.bench", *SWEEP], cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, "-m", "core.bench", *SWEEP, "--force", "--models", "sd21,sdxl"], cwd=ROOT,
                       env=env, check=True)  # a second run of the same jobs: Compare's two runs share them
    serve = runpy.run_path(str(ROOT / "scripts" / "dashboard_server.py"))["serve"]  # scripts/ is no package
    with serve(env, folder / "streamlit.log", port=args.port) as url:
        shoot(url, out, args.votes)
    print(f"screenshots in {out} (server log {folder / 'streamlit.log'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
