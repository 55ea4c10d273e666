"""Dashboard fixtures: AppTest of one page, and a store filled with runs, generations and image files."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "views"
APP = PAGES.parent / "app.py"


@pytest.fixture
def page():
    """`page("history")` → a fresh AppTest of dashboard/views/history.py, query caches cleared."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()

    def make(name: str, timeout: float = 60) -> AppTest:
        return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout)

    return make


@pytest.fixture
def seeded(db, out_dir):
    """Three runs: a finished bench run (2 models x 3 prompts x 2 seeds, one failure) with PNG files,
    a generate run of 2 images, and an old bench run with 50 synthetic rows and no files."""
    from PIL import Image

    from core.store import Run, add_run, bulk_add_generations, session_scope

    now = datetime.now(timezone.utc)
    prompts = ["a red apple on a table", "a lighthouse at dusk", "a teapot with blue flowers"]
    info: dict = {"files": []}
    with session_scope(db) as s:
        bench = add_run(session=s, run=Run(kind="bench", weights="tiny", status="finished", name="bench-one",
                                           output_dir=str(out_dir / "bench"), jobs_total=12,
                                           params={"models": ["sd21", "flux-dev"]}, created_at=now))
        gen = add_run(session=s, run=Run(kind="generate", mode="dev", weights="tiny", status="finished",
                                         output_dir=str(out_dir / "gen"), jobs_total=2, created_at=now))
        old = add_run(session=s, run=Run(kind="bench", weights="pretrained", status="finished", name="old",
                                         created_at=now - timedelta(days=40)))
        rows = []
        (out_dir / "bench").mkdir()
        (out_dir / "gen").mkdir()
        for model, seconds in (("sd21", 0.5), ("flux-dev", 0.3)):
            for i, prompt in enumerate(prompts):
                for seed in (0, 1):
                    failed = model == "flux-dev" and i == 2 and seed == 1
                    path = out_dir / "bench" / f"{model}_{i}_{seed}.png"
                    if not failed:
                        Image.new("RGB", (32, 32), (40 * i, 100, 50 * seed)).save(path)
                        info["files"].append(path)
                    rows.append(dict(run_id=bench.id, job_key=f"b-{model}-{i}-{seed}", model_key=model, weights="tiny",
                                     prompt=prompt, seed=seed, steps=2, guidance=4.5, width=32, height=32,
                                     status="failed" if failed else "ok",
                                     error="RuntimeError: synthetic failure" if failed else None,
                                     image_path=None if failed else str(path), total_s=None if failed else seconds,
                                     denoise_s=None if failed else seconds * 0.8, text_encode_s=0.01, decode_s=0.02,
                                     flops_total=5e7, created_at=now, extra={}, profile={"calls": {"unet": 2}},
                                     api_params={}, first_call=False, image_index=0))
        for model in ("sd21", "flux-dev"):
            path = out_dir / "gen" / f"{model}.png"
            Image.new("RGB", (32, 32), (200, 10, 10)).save(path)
            info["files"].append(path)
            rows.append(dict(run_id=gen.id, job_key=f"g-{model}", model_key=model, weights="tiny", prompt="a cat",
                             seed=7, steps=2, guidance=4.5, width=32, height=32, status="ok", image_path=str(path),
                             total_s=0.2, created_at=now, extra={}, profile={}, api_params={}, first_call=True,
                             image_index=0))
        for i in range(50):
            rows.append(dict(run_id=old.id, job_key=f"o-{i}", model_key="sdxl", weights="pretrained",
                             prompt=f"an old prompt number {i}", seed=i, steps=30, guidance=5.0, width=1024,
                             height=1024, status="ok", total_s=3.0 + i / 100, denoise_s=2.5, peak_mem_gb=9.1,
                             flops_total=4e14, mfu=0.35, created_at=now - timedelta(days=40, minutes=i), extra={},
                             profile={}, api_params={}, first_call=False, image_index=0))
        bulk_add_generations(session=s, rows=rows)
        info.update(bench=bench.id, gen=gen.id, old=old.id, total=len(rows))
    return info
