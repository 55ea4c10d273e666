"""Dashboard speed on a big store: p50/p95 of every store query the pages make, and each page's cold open.

    .venv/bin/python scripts/measure_speed.py                        # seeds 100,000 rows into a temp DB first
    .venv/bin/python scripts/measure_speed.py --db /tmp/h.db --rows 100000 --repeats 20

Targets (issue 9): every page opens cold (query caches cleared, modules already imported) in under 1 s, and
each query's p95 is under 300 ms. Prints one table; exit code 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import os
import runpy
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUERY_P95_S = 0.300
PAGE_COLD_S = 1.0
TABLE = ("id", "created_at", "run_id", "model_key", "status", "prompt", "seed", "steps", "guidance", "width",
         "height", "total_s", "denoise_s", "peak_mem_gb", "flops_total", "cost_usd", "error", "image_path")
CHART = ("id", "run_id", "model_key", "status", "weights", "first_call", "steps", "width", "height", "total_s",
         "text_encode_s", "denoise_s", "decode_s", "prior_s", "decoder_s", "peak_mem_gb", "flops_total",
         "tflops_per_s", "mfu", "cost_usd")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def queries(url: str, repeats: int) -> list[tuple[str, float, float]]:
    from core import store

    engine = store.make_engine(url)
    with store.session_scope(engine, read_only=True) as s:
        model = store.model_keys_in_store(session=s)[0]
        last = store.query_runs(session=s, limit=1)[0].id
    week = datetime.now(timezone.utc) - timedelta(days=7)
    cases = {
        "count all": lambda s: store.count_generations(session=s),
        "page 1 (50 rows)": lambda s: store.generation_columns(session=s, columns=TABLE, limit=50),
        "page 1000 (offset 49,950)": lambda s: store.generation_columns(session=s, columns=TABLE, limit=50, offset=49_950),
        f"count model={model}": lambda s: store.count_generations(session=s, model_keys=[model]),
        "count prompt contains 'teapot'": lambda s: store.count_generations(session=s, prompt_contains="teapot"),
        "page prompt contains 'teapot'": lambda s: store.generation_columns(session=s, columns=TABLE, limit=50,
                                                                             prompt_contains="teapot"),
        "count status=failed": lambda s: store.count_generations(session=s, status="failed"),
        "count last 7 days": lambda s: store.count_generations(session=s, since=week),
        "model keys (distinct)": lambda s: store.model_keys_in_store(session=s),
        "weights in store": lambda s: store.weights_in_store(session=s),
        "runs (200) + counts": lambda s: store.run_counts(session=s, run_ids=[r.id for r in store.query_runs(session=s, limit=200)]),
        "run summary (newest run)": lambda s: store.run_model_summary(session=s, run_id=last),
        "run prompts page": lambda s: store.run_prompts(session=s, run_id=last, limit=8),
    }
    if hasattr(store, "generation_tuples"):  # what the Charts page reads since issue 9
        cases["chart rows as tuples, weights=pretrained"] = lambda s: store.generation_tuples(
            session=s, columns=CHART, weights="pretrained", status="ok")
        cases["API prices per configuration"] = lambda s: store.mean_cost_by_config(session=s)
    else:  # what it read before
        cases["chart rows as dicts, weights=pretrained"] = lambda s: store.generation_columns(
            session=s, columns=CHART, weights="pretrained", status="ok")
        cases["weights with ok rows"] = lambda s: store.weights_in_store(session=s, status="ok")
        cases["GPU names of 200 runs"] = lambda s: store.run_gpu_names(session=s, run_ids=list(range(1, 201)))
    out = []
    for label, fn in cases.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            with store.session_scope(engine, read_only=True) as s:
                fn(s)
            times.append(time.perf_counter() - t0)
        out.append((label, statistics.median(times), _pct(times, 0.95)))
    engine.dispose()
    return out


def pages(url: str, repeats: int) -> list[tuple[str, float, float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from core.settings import get_settings

    os.environ["IGCS_DATABASE_URL"] = url
    get_settings.cache_clear()
    # AppTest scans every installed package's metadata for components on each run (seconds with a big venv);
    # a server does that once at startup. Left out so the numbers are the page's own work.
    from streamlit.components.v2.component_manager import BidiComponentManager

    BidiComponentManager.discover_and_register_components = lambda self, *a, **k: None
    folder = ROOT / "dashboard" / ("views" if (ROOT / "dashboard" / "views").is_dir() else "pages")
    out = []
    for name in ("generate", "benchmark", "history", "charts"):
        AppTest.from_file(str(folder / f"{name}.py"), default_timeout=300).run()  # imports, once
        times = []
        for _ in range(repeats):
            st.cache_data.clear()
            at = AppTest.from_file(str(folder / f"{name}.py"), default_timeout=300)
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
            if at.exception:
                raise RuntimeError(f"{name}: {at.exception[0].value}")
        out.append((name, statistics.median(times), max(times)))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="SQLite path of a seeded store (seeded here when missing)")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=20, help="runs per query (p95 over these)")
    p.add_argument("--page-repeats", type=int, default=3)
    args = p.parse_args(argv)
    path = Path(args.db or Path(tempfile.mkdtemp(prefix="igcs-speed-")) / "results.db")
    url = f"sqlite:///{path}"
    if not path.exists():
        seed = runpy.run_path(str(ROOT / "scripts" / "seed_history.py"))["seed"]

        stats = seed(url, args.rows)
        print(f"seeded {stats['rows']:,} generations in {stats['runs']} runs ({stats['insert_s']:.1f} s)")
    missed = 0
    print(f"\n{'store query':<40} {'p50 ms':>8} {'p95 ms':>8}")
    for label, p50, p95 in queries(url, args.repeats):
        flag = "" if p95 < QUERY_P95_S else "  > 300 ms"
        missed += bool(flag)
        print(f"{label:<40} {p50 * 1000:8.1f} {p95 * 1000:8.1f}{flag}")
    print(f"\n{'page, cold (caches cleared)':<40} {'median s':>8} {'max s':>8}")
    for label, median, worst in pages(url, args.page_repeats):
        flag = "" if worst < PAGE_COLD_S else "  > 1 s"
        missed += bool(flag)
        print(f"{label:<40} {median:8.3f} {worst:8.3f}{flag}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
