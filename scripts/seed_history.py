"""Fill a store with synthetic generations (bulk insert) and time the dashboard's History and Charts queries.

    .venv/bin/python scripts/seed_history.py                      # 100,000 rows into a temp DB, then measure
    .venv/bin/python scripts/seed_history.py --rows 20000 --db /tmp/h.db --no-measure

Rows look like real ones (registry models and their defaults, suite prompts, ok/failed/skipped, timings,
memory, FLOPs, MFU, API cost) but carry no image files. Measurements: each store query the History and
Charts pages make (cold, best of 3), and a cold Streamlit AppTest run of both pages against the store.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN_SIZE = 500


def _prompts() -> list[tuple[str, str | None]]:
    from core.prompts import PROMPTS_DIR, load_prompts

    try:
        base = [(p.prompt, p.category) for p in load_prompts(PROMPTS_DIR / "suite.jsonl")]
    except (FileNotFoundError, ValueError):
        base = [("a red cat sitting on a blue table", None), ("an astronaut riding a horse on the moon", None)]
    styles = ["", ", oil painting", ", watercolor", ", 35mm photo", ", isometric render", ", at night"]
    return [(text + style, cat) for text, cat in base for style in styles]


def seed(db_url: str, rows: int, *, seed_value: int = 0) -> dict[str, float]:
    """Insert `rows` generations in runs of RUN_SIZE; returns timings."""
    from core.registry import all_specs
    from core.store import Run, add_run, bulk_add_generations, make_engine, session_scope

    rng = random.Random(seed_value)
    engine = make_engine(db_url)
    specs = all_specs()
    prompts = _prompts()
    start = datetime.now(timezone.utc) - timedelta(days=60)
    t0 = time.perf_counter()
    n_runs = max(1, -(-rows // RUN_SIZE))
    batch: list[dict] = []
    inserted = 0
    with session_scope(engine) as session:
        for r in range(n_runs):
            weights = rng.choice(["pretrained", "pretrained", "random", "tiny"])
            created = start + timedelta(minutes=r * 60 * 24 * 60 / n_runs)
            chosen = rng.sample(specs, k=min(len(specs), rng.randint(3, 8)))
            run = add_run(session=session, run=Run(
                kind=rng.choice(["bench", "bench", "generate"]), mode="bench", weights=weights,
                status=rng.choice(["finished"] * 8 + ["cancelled", "failed"]), name=f"synthetic-{r}",
                output_dir=None, params={"models": [s.key for s in chosen], "synthetic": True},
                jobs_total=RUN_SIZE, created_at=created, finished_at=created + timedelta(hours=1),
                device="cuda", gpu_name="NVIDIA H100 80GB HBM3", gpu_count=1, hostname="synthetic"))
            for i in range(min(RUN_SIZE, rows - inserted)):
                spec = chosen[i % len(chosen)]
                prompt, category = prompts[(i // len(chosen)) % len(prompts)]
                status = rng.choices(["ok", "failed", "skipped"], weights=[95, 4, 1])[0]
                steps = rng.choice([spec.steps, spec.steps, spec.steps, max(1, spec.steps // 2), spec.steps * 2])
                side = rng.choice([spec.width, spec.width, spec.width, 512, 768])
                pixels = side * side / 1e6
                params_b = spec.params_b or 2.0
                denoise = 0.004 * params_b * steps * pixels * rng.uniform(0.9, 1.15)
                text = 0.01 * params_b ** 0.5 * rng.uniform(0.8, 1.2)
                decode = 0.08 * pixels * rng.uniform(0.9, 1.1)
                total = denoise + text + decode + rng.uniform(0.01, 0.05)
                flops = 2e12 * params_b * steps * pixels * (2 if spec.cfg_style in ("classic", "true_cfg") else 1)
                ok = status == "ok"
                api = spec.is_api
                batch.append({
                    "run_id": run.id, "created_at": created + timedelta(seconds=i * 7), "job_key": f"syn-{r}-{i}",
                    "status": status, "error": None if ok else "RuntimeError: CUDA out of memory (synthetic)",
                    "model_key": spec.key, "provider": spec.provider, "weights": "api" if api else weights,
                    "prompt": prompt, "negative_prompt": None, "category": category, "seed": i % 3,
                    "steps": None if api else steps, "guidance": spec.guidance, "width": side, "height": side,
                    "image_index": 0, "extra": {}, "image_path": None, "device": spec.provider if api else "cuda",
                    "load_s": rng.uniform(5, 60) if i < len(chosen) else None,
                    "total_s": (rng.uniform(4, 20) if api else total) if ok else None,
                    "text_encode_s": None if api or not ok else text, "denoise_s": None if api or not ok else denoise,
                    "decode_s": None if api or not ok else decode, "prior_s": None, "decoder_s": None,
                    "first_call": i < len(chosen), "peak_mem_gb": None if api or not ok else (spec.vram_gb or 4) * rng.uniform(0.85, 1.0),
                    "params_total": None if api else int(params_b * 1e9),
                    "flops_text_encode": None, "flops_denoise": None if api or not ok else flops * 0.97,
                    "flops_decode": None if api or not ok else flops * 0.03, "flops_total": None if api or not ok else flops,
                    "macs_total": None if api or not ok else flops / 2,
                    "tflops_per_s": None if api or not ok else flops / total / 1e12,
                    "mfu": None if api or not ok else min(0.9, flops / total / 750e12),
                    "profile": {}, "request_id": f"req-{r}-{i}" if api else None,
                    "cost_usd": rng.choice([0.02, 0.04, 0.08]) if api and ok else None, "api_params": {},
                })
                inserted += 1
            if len(batch) >= 20_000 or inserted >= rows:
                bulk_add_generations(session=session, rows=batch)
                batch = []
    seconds = time.perf_counter() - t0
    engine.dispose()
    return {"rows": inserted, "runs": n_runs, "insert_s": seconds}


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure_queries(db_url: str) -> list[tuple[str, float, object]]:
    from core import store

    engine = store.make_engine(db_url)
    out: list[tuple[str, float, object]] = []

    def timed(label: str, fn):
        result = {}

        def call():
            with store.session_scope(engine) as s:
                result["v"] = fn(s)
        out.append((label, _best(call), _summary(result.get("v") if result else None)))

    with store.session_scope(engine) as s:
        some_model = store.model_keys_in_store(session=s)[0]
        last_run = store.list_runs(session=s, limit=1)[0].id
    since = datetime.now(timezone.utc) - timedelta(days=7)
    cols = ("id", "created_at", "run_id", "model_key", "status", "prompt", "seed", "steps", "guidance", "width",
            "height", "total_s", "denoise_s", "peak_mem_gb", "flops_total", "cost_usd", "error", "image_path")
    timed("count all", lambda s: store.count_generations(session=s))
    timed("page 1 (50 rows)", lambda s: store.generation_columns(session=s, columns=cols, limit=50))
    timed("page 1000 (offset 49,950)", lambda s: store.generation_columns(session=s, columns=cols, limit=50, offset=49_950))
    timed(f"count model={some_model}", lambda s: store.count_generations(session=s, model_keys=[some_model]))
    timed(f"page model={some_model}", lambda s: store.generation_columns(session=s, columns=cols, limit=50, model_keys=[some_model]))
    timed("count prompt contains 'teapot'", lambda s: store.count_generations(session=s, prompt_contains="teapot"))
    timed("page prompt contains 'teapot'", lambda s: store.generation_columns(session=s, columns=cols, limit=50, prompt_contains="teapot"))
    timed("count status=failed", lambda s: store.count_generations(session=s, status="failed"))
    timed("page status=failed", lambda s: store.generation_columns(session=s, columns=cols, limit=50, status="failed"))
    timed("count last 7 days", lambda s: store.count_generations(session=s, since=since))
    timed("count run=newest", lambda s: store.count_generations(session=s, run_id=last_run))
    timed("model keys (distinct)", lambda s: store.model_keys_in_store(session=s))
    timed("runs page (50) + counts", lambda s: store.run_counts(session=s, run_ids=[r.id for r in store.query_runs(session=s, limit=50)]))
    timed("runs list (200) + counts", lambda s: store.run_counts(session=s, run_ids=[r.id for r in store.query_runs(session=s, limit=200)]))
    timed("run summary", lambda s: store.run_model_summary(session=s, run_id=last_run))
    timed("run prompts page", lambda s: store.run_prompts(session=s, run_id=last_run, limit=8))
    timed("generation detail", lambda s: store.get_generation(session=s, generation_id=1))
    chart_cols = ("id", "run_id", "model_key", "status", "weights", "first_call", "steps", "width", "height",
                  "total_s", "text_encode_s", "denoise_s", "decode_s", "prior_s", "decoder_s", "peak_mem_gb",
                  "flops_total", "tflops_per_s", "mfu", "cost_usd")
    timed("chart rows, weights=pretrained", lambda s: store.generation_columns(session=s, columns=chart_cols, weights="pretrained", status="ok"))
    engine.dispose()
    return out


def _summary(value) -> object:
    if isinstance(value, list):
        return f"{len(value)} rows"
    if isinstance(value, dict):
        return f"{len(value)} keys"
    return value if isinstance(value, (int, float, str)) or value is None else type(value).__name__


def measure_pages(db_url: str) -> list[tuple[str, float]]:
    """Cold AppTest runs (caches cleared) of the History and Charts pages against the store."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["IGCS_DATABASE_URL"] = db_url
    from core.settings import get_settings

    get_settings.cache_clear()
    out = []
    pages = ROOT / "dashboard" / "pages"

    def run(label: str, page: str, *actions) -> None:
        st.cache_data.clear()
        at = AppTest.from_file(str(pages / page), default_timeout=300)
        t0 = time.perf_counter()
        at.run()
        out.append((f"{label}: first run", time.perf_counter() - t0))
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
        for name, act in actions:
            st.cache_data.clear()
            t0 = time.perf_counter()
            act(at).run()
            out.append((f"{label}: {name}", time.perf_counter() - t0))
            if at.exception:
                raise RuntimeError(f"{page} {name}: {at.exception[0].value}")

    # A warm-up run imports the page modules once, so the numbers below are the queries and rendering.
    AppTest.from_file(str(pages / "history.py"), default_timeout=300).run()
    def page_input(at):
        return next(w for w in at.number_input if str(w.key).startswith("hist_page:"))

    run("History", "history.py",
        ("page 1000 of 2000", lambda at: page_input(at).set_value(1000)),
        ("filter prompt 'teapot'", lambda at: at.text_input(key="hist_prompt").input("teapot")),
        ("filter status failed", lambda at: at.selectbox(key="hist_status").select("failed")),
        ("filter model (one)", lambda at: at.multiselect(key="hist_models").select(at.multiselect(key="hist_models").options[0])),
        ("Runs view", lambda at: at.radio(key="hist_view").set_value("Runs")),
        ("Image matrix view", lambda at: at.radio(key="hist_view").set_value("Image matrix")))
    run("Charts", "charts.py")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--db", help="SQLite path or URL (default: a new temp file)")
    p.add_argument("--no-measure", action="store_true")
    args = p.parse_args(argv)
    url = args.db if args.db and "://" in args.db else None
    if url is None:
        path = args.db or os.path.join(tempfile.mkdtemp(prefix="igcs-history-"), "results.db")
        url = f"sqlite:///{path}"
    stats = seed(url, args.rows)
    print(f"inserted {stats['rows']:,} generations in {stats['runs']} runs in {stats['insert_s']:.1f} s  ({url})")
    if args.no_measure:
        return 0
    print("\nstore queries (best of 3, seconds):")
    for label, seconds, result in measure_queries(url):
        print(f"  {label:<42} {seconds:8.4f}   {result}")
    print("\nStreamlit AppTest page runs (query caches cleared before each, seconds):")
    for label, seconds in measure_pages(url):
        print(f"  {label:<42} {seconds:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
