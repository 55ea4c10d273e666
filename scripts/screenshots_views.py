"""Screenshots of Charts' sections, a Compare link, Benchmark's finished batch and Generate's score panel at 1024 and
1440 px, against a store given (a tiny sweep with recipes and scores):

    .venv/bin/python -m core.bench --models sd21,sdxl,pixart-sigma --weights tiny --prompts data/prompts/smoke.txt \\
        --seeds 0 1 --recipe eager,compile --warmup 1 --db /tmp/v/results.db --out /tmp/v/outputs
    .venv/bin/python -m core.bench score --all --scorer-weights tiny --db /tmp/v/results.db
    .venv/bin/python scripts/screenshots_views.py --db /tmp/v/results.db --outputs /tmp/v/outputs --out shots/

Needs Debian's chromium and playwright (scripts/install.sh --test).
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
server = runpy.run_path(str(ROOT / "scripts" / "dashboard_server.py"))  # scripts/ is no package: serve, settle, snap
SECTIONS = ("Speed", "Memory and compute", "Cost", "Quality", "Recipes", "Atlas")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", required=True, help="SQLite file of the store to show")
    p.add_argument("--outputs", required=True, help="its output folder (IGCS_OUTPUT_DIR)")
    p.add_argument("--out", default="shots")
    p.add_argument("--port", type=int, default=None)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "IGCS_DATABASE_URL": f"sqlite:///{Path(args.db).resolve()}",
           "IGCS_OUTPUT_DIR": str(Path(args.outputs).resolve()), "IGCS_DEVICE": "cpu", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    serve = server["serve"]
    with serve(env, out / "streamlit.log", port=args.port) as url:
        shoot(url, out)
    print(f"screenshots in {out}")
    return 0


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for width in (1024, 1440):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_default_timeout(180_000)

            def settle() -> None:
                server["settle"](page)

            def snap(name: str) -> None:
                server["snap"](page, out / name, width)

            for section in SECTIONS:
                query = "charts_weights=tiny" + ("" if section == "Speed" else f"&charts_section={section}")
                page.goto(f"{url}/charts?{query}")
                page.get_by_role("tab", name=section).wait_for()
                snap("charts-" + section.lower().replace(" ", "-"))
            page.goto(f"{url}/compare?cmp_weights=tiny&cmp_model_a=sd21&cmp_model_b=sdxl")
            page.get_by_text("pair(s)").first.wait_for()
            snap("compare")
            page.goto(f"{url}/benchmark")
            page.get_by_text("Recent batches").wait_for()
            page.get_by_text("Model catalog").first.click()
            snap("benchmark")
            page.goto(url)
            page.get_by_text("Model catalog").first.wait_for()
            page.get_by_text("Model catalog").first.click()
            picker = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Open models").locator("input")
            picker.click()
            picker.fill("sd21")
            page.get_by_role("option").filter(has_text="sd21 ·").first.click()
            page.keyboard.press("Escape")
            page.get_by_label("Prompt", exact=True).fill("a red apple on a wooden table")
            page.get_by_role("button", name="Generate", exact=True).click()
            page.get_by_role("button", name="Score these images").wait_for()
            snap("generate-results")
            page.get_by_role("button", name="Score these images").click()
            page.get_by_text("score(s) stored").wait_for()
            snap("generate-scored")
            page.close()
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
