"""Screenshots of the quality parts (Charts' Quality section, Compare by models and by runs, History sorted by a
score) at 1024 px and 1440 px, against a store with scores.

    PYTHONPATH=. .venv/bin/python scripts/screenshots_scores.py --out shots/scores/            # builds a demo store
    PYTHONPATH=. .venv/bin/python scripts/screenshots_scores.py --db sqlite:///x.db --outputs DIR --out shots/

The demo store: a tiny sweep of four models over three prompts of each suite category, scored inline by tiny
scorers, and a second run of two of them at 4 steps (the same prompts and seeds: Compare's two runs).
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
SCORE = ["--weights", "tiny", "--seeds", "0", "--score", "clip,pick,aesthetic", "--scorer-weights", "tiny",
         "--no-progress"]


def demo_store(folder: Path, env: dict[str, str]) -> None:
    suite = [json.loads(line) for line in (ROOT / "data/prompts/suite.jsonl").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    picked: dict[str, list] = {}
    for item in suite:
        picked.setdefault(item.get("category"), []).append(item)
    prompts = folder / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(x) + "\n" for items in picked.values() for x in items[:3]))
    bench = [sys.executable, "-m", "core.bench", "--prompts", str(prompts), *SCORE]
    subprocess.run([*bench, "--models", "sd21,pixart-sigma,sana-600m,flux-dev", "--name", "demo-a"], cwd=ROOT,
                   env=env, check=True)
    subprocess.run([*bench, "--models", "sd21,pixart-sigma", "--steps", "4", "--name", "demo-b-4steps"], cwd=ROOT,
                   env=env, check=True)


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for width in (1024, 1440):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_default_timeout(120_000)

            def snap(name: str, section: str | None = None) -> None:
                page.wait_for_timeout(1500)
                page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
                page.wait_for_timeout(1000)
                height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
                                       "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 900)")
                page.set_viewport_size({"width": width, "height": min(int(height) + 100, 16000)})
                page.wait_for_timeout(1200)
                clip = None
                if section:  # from that header down to the next one
                    top = page.get_by_role("heading", name=section, exact=True).bounding_box()["y"]
                    nxt = page.evaluate(f"""[...document.querySelectorAll('h2')].map(h => h.getBoundingClientRect().y)
                                           .filter(y => y > {top} + 5)""")
                    bottom = min(nxt) if nxt else height
                    clip = {"x": 0, "y": top - 20, "width": width, "height": bottom - top + 10}
                page.screenshot(path=str(out / f"{name}-{width}.png"), clip=clip)
                page.set_viewport_size({"width": width, "height": 900})

            page.goto(f"{url}/charts")
            page.get_by_role("heading", name="Quality", exact=True).wait_for()
            snap("charts-quality", "Quality")
            page.get_by_text("FLOPs", exact=True).click()
            snap("charts-quality-tflop", "Quality")
            page.goto(f"{url}/compare")
            page.get_by_text("pair(s)").first.wait_for()
            snap("compare-models")
            page.get_by_text("two runs", exact=True).click()
            page.get_by_text("pair(s)").first.wait_for()
            snap("compare-runs")
            page.goto(f"{url}/history")
            page.get_by_text("generation(s) match").wait_for()
            page.get_by_role("combobox", name="Sort by").click()
            page.get_by_role("option", name="CLIPScore, highest first").click()
            snap("history-sorted-by-clip")
            page.close()
        browser.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="shots/scores")
    p.add_argument("--db", help="a store with scores (default: build the demo store in a temporary folder)")
    p.add_argument("--outputs", help="that store's IGCS_OUTPUT_DIR")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="igcs-score-shots-"))
    env = {**os.environ, "IGCS_DATABASE_URL": args.db or f"sqlite:///{folder / 'demo.db'}",
           "IGCS_OUTPUT_DIR": args.outputs or str(folder / "out"), "IGCS_DEVICE": "cpu", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    if not args.db:
        demo_store(folder, env)
    serve = runpy.run_path(str(ROOT / "scripts" / "dashboard_server.py"))["serve"]  # scripts/ is no package
    with serve(env, folder / "streamlit.log") as url:
        shoot(url, out)
    print(f"screenshots in {out} (server log {folder / 'streamlit.log'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
