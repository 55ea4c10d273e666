"""End to end: `streamlit run dashboard/app.py` on a free localhost port against a temporary store, driven by
headless Debian Chromium through Playwright: generate with two tiny models, see both images, find the rows
in History."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MODELS = ("sd21", "flux-dev")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (scripts/install.sh --test does)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-test.txt)")
    port = _free_port()
    db_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    env = {**os.environ, "IGCS_DATABASE_URL": db_url, "IGCS_OUTPUT_DIR": str(tmp_path / "outputs"),
           "IGCS_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.address", "localhost", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://localhost:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError("the dashboard did not start:\n" + (tmp_path / "streamlit.log").read_text())
            time.sleep(0.3)
        yield url, db_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_generate_two_tiny_models_then_find_them_in_history(dashboard, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, db_url = dashboard
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(90_000)
            # a fresh server opened by a page's URL still goes through the router (pages/ is no old-style folder)
            page.goto(f"{url}/history")
            expect(page.get_by_role("heading", name="History")).to_be_visible(timeout=60_000)  # a cold server imports torch first
            expect(page.get_by_text("0 generation(s) match")).to_be_visible()
            expect(page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Charts", exact=True)).to_be_visible()
            page.goto(url)
            page.get_by_text("Model catalog").first.wait_for()  # the Generate page, fully drawn
            # choose two tiny models
            picker = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Open models").locator("input")
            # search by key: labels start with the key, so an exact key is listed first
            picker.click()
            picker.fill("lumina2")
            models = page.get_by_role("option").filter(has_text=" · ")  # not "Select N matches"
            expect(models.first).to_have_text(re.compile(r"^lumina2 ·"))
            picker.fill("sd")
            expect(models).to_have_count(3)
            names = [o.split(" ·")[0] for o in models.all_inner_texts()]
            assert names == ["sd21", "sdxl", "sd3-medium"], names
            page.keyboard.press("Escape")
            for key in MODELS:
                picker.click()
                picker.fill(key)
                page.get_by_role("option", name=re.compile(rf"^{re.escape(key)} ·")).click()
            page.keyboard.press("Escape")
            expect(page.get_by_text(f"{MODELS[1]}: 32×32")).to_be_visible()  # its settings, prefilled
            prompt = page.get_by_label("Prompt", exact=True)
            prompt.fill("a red cat sitting on a blue table")
            prompt.press("Control+Enter")
            page.get_by_role("button", name="Generate", exact=True).click()
            # both images in the gallery, labelled with their model, time, memory and FLOPs
            main = page.locator('[data-testid="stMain"]')
            expect(main.locator('[data-testid="stImage"]')).to_have_count(2, timeout=150_000)
            for key in MODELS:
                expect(main.get_by_text(re.compile(rf"^{re.escape(key)} · .*(ms| s) · .*FLOP"))).to_be_visible()
            page.screenshot(path=str(tmp_path / "generate.png"), full_page=True)
            # the rows in History
            page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="History").click()
            expect(page.get_by_text("generation(s) match")).to_be_visible()
            expect(page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="generation(s) match")
                   ).to_contain_text("2 generation(s) match")
            page.get_by_text("Show the images of this page").click()
            for key in MODELS:
                expect(main.get_by_text(re.compile(rf"^#\d+ · {re.escape(key)} · "))).to_be_visible()
            expect(main.locator('[data-testid="stImage"]')).to_have_count(3)  # 2 thumbnails + the detail view
        finally:
            browser.close()
    from sqlmodel import select

    from core.store import Generation, make_engine, session_scope

    engine = make_engine(db_url)
    with session_scope(engine) as s:
        rows = list(s.exec(select(Generation)))
    engine.dispose()
    assert sorted(r.model_key for r in rows) == sorted(MODELS)
    assert all(r.status == "ok" and Path(r.image_path).is_file() for r in rows)


def _seed_arena(db_url: str, out: Path, models=("sd21", "sdxl", "pixart-sigma"), prompts=4) -> None:
    """A tiny-weight run: each model's image of the same prompts (seed 0), PNGs inside the output folder."""
    from PIL import Image

    from core.store import Run, add_run, bulk_add_generations, make_engine, session_scope

    out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        run = add_run(session=s, run=Run(kind="bench", weights="tiny", status="finished", output_dir=str(out)))
        rows = []
        for m, model in enumerate(models):
            for p in range(prompts):
                path = out / f"{model}-{p}.png"
                Image.new("RGB", (64, 64), (60 * m, 40 * p, 120)).save(path)
                rows.append(dict(run_id=run.id, job_key=f"{model}-{p}", model_key=model, weights="tiny",
                                 prompt=f"prompt number {p}", category="animals" if p % 2 else "objects", seed=0,
                                 steps=2, width=64, height=64, status="ok", image_path=str(path), total_s=0.1 * (m + 1),
                                 first_call=False, extra={}, profile={}, api_params={}, image_index=0))
        bulk_add_generations(session=s, rows=rows)
    engine.dispose()


def test_arena_vote_ten_times_and_see_the_leaderboard_change(dashboard, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, db_url = dashboard
    _seed_arena(db_url, tmp_path / "outputs" / "arena")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.set_default_timeout(90_000)
            page.goto(f"{url}/arena")
            expect(page.get_by_role("heading", name="Arena")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("No votes on tiny images yet.")).to_be_visible(timeout=60_000)
            name = page.get_by_role("textbox", name="Your name")
            name.fill("e2e voter")
            name.press("Enter")
            main = page.locator('[data-testid="stMain"]')
            expect(main.locator('[data-testid="stImage"]')).to_have_count(2)  # A and B, names hidden
            expect(main.get_by_text(re.compile(r"^(sd21|sdxl|pixart-sigma)$"))).to_have_count(0)
            outcomes = ["A is better", "B is better", "Tie", "A is better", "Both bad", "B is better", "A is better",
                        "Tie", "B is better", "A is better"]
            seen = []
            for i, button in enumerate(outcomes, start=1):
                page.get_by_role("button", name=button, exact=True).click()
                expect(main.get_by_text(re.compile(rf"^\*?\*?{i}\*?\*? vote\(s\) by"))).to_be_visible()
                reveal = main.locator('[data-testid="stAlertContentSuccess"]')
                expect(reveal).to_contain_text("A was ")
                seen.append(reveal.inner_text())
                if i == 1:
                    page.screenshot(path=str(tmp_path / "arena-after-1.png"), full_page=True)
                    first = main.get_by_text("top rated:").inner_text()
            expect(main.get_by_text(re.compile(r"10 vote\(s\) by 1 voter\(s\) · 1 both bad"))).to_be_visible()
            assert all(re.search(r"A was (sd21|sdxl|pixart-sigma), B was (sd21|sdxl|pixart-sigma)", s) for s in seen)
            page.screenshot(path=str(tmp_path / "arena-after-10.png"), full_page=True)
            last = main.get_by_text("top rated:").inner_text()
            assert first != last, (first, last)  # the leaderboard changed with the votes
            expect(main.locator('[data-testid="stDataFrame"]').first).to_be_visible()
        finally:
            browser.close()
    from sqlmodel import select

    from core.store import Vote, make_engine, session_scope

    engine = make_engine(db_url)
    with session_scope(engine) as s:
        stored = list(s.exec(select(Vote)))
    engine.dispose()
    assert len(stored) == 10 and {v.voter for v in stored} == {"e2e voter"}
    assert len({frozenset((v.generation_a_id, v.generation_b_id)) for v in stored}) == 10  # no pair twice
