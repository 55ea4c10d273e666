"""Background batches (`python -m core.bench` in a detached process): start, check before launch, restart, cancel, logs, and runs whose process is gone."""
from __future__ import annotations

import secrets
import sys
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import streamlit as st

from core import processes, store
from core.generation import Engine
from core.errors import CaseStudyError
from core.sweep import Sweep, prepare
from dashboard import data



# ---- background batches ------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _launched() -> dict[str, dict[str, Any]]:
    """Batches this dashboard process started: name → {process, log, argv, started}."""
    return {}


def new_batch_name(label: str | None = None) -> str:
    """The typed name as typed; a generated one when none was typed."""
    label = (label or "").strip()
    return label or f"dashboard-{secrets.token_hex(4)}"


def write_prompt_file(prompts: Sequence[str], name: str) -> str:
    """Pasted prompts → `<output dir>/batches/<name>-<random>.txt` (one prompt a line)."""
    folder = processes.batches_dir(data.settings().output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    path = folder / f"{safe}-{secrets.token_hex(3)}.txt"
    path.write_text("\n".join(p.replace("\n", " ").strip() for p in prompts if p.strip()) + "\n", encoding="utf-8")
    return str(path)


def start_batch(sweep: Sweep) -> subprocess.Popen:
    """Start `sweep` detached (core.processes): closing the tab or stopping the dashboard leaves it running."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in sweep.name or "batch")[:40]
    log_name = f"{safe}-{secrets.token_hex(3)}"
    argv = sweep.argv()
    proc = processes.start(argv, name=log_name, output_dir=data.settings().output_dir, database_url=data.db_url())
    _launched()[sweep.name] = {"process": proc, "log": str(processes.log_path(data.settings().output_dir, log_name)),
                               "argv": argv, "started": time.time()}
    return proc


@dataclass(frozen=True)
class SweepCheck:
    """What the Benchmark page shows before launch: the CLI's own check (core.sweep.prepare), run here."""

    error: str = ""
    jobs: int = 0
    pending: int = 0
    cost_usd: float = 0.0
    eta_s: float | None = None
    warnings: tuple[str, ...] = ()


def check_sweep(sweep: Sweep) -> SweepCheck:
    """Check a batch as the CLI will (every request, keys, cost cap, slow tiny sizes) before launching it."""
    try:
        prepared = prepare(sweep, settings=data.settings(), engine=Engine(weights=sweep.weights, settings=data.settings(),
                                                                      **Engine.caches_for(data.db())))
    except (CaseStudyError, ValueError, FileNotFoundError, RuntimeError) as exc:
        return SweepCheck(error=str(exc))
    warnings = [f"{k} is skipped: {why}" for k, why in prepared.skipped_models.items()] + prepared.warnings
    return SweepCheck(jobs=len(prepared.jobs), pending=prepared.pending, cost_usd=prepared.cost_estimate_usd,
                      eta_s=_eta(prepared), warnings=tuple(warnings))


def _eta(prepared) -> float | None:
    """Seconds the pending jobs took before on this store (median per model and size), when known."""
    with store.session_scope(data.db(), read_only=True) as s:
        medians = store.median_seconds(session=s, weights=prepared.sweep.weights)
    total, known = 0.0, False
    for job in prepared.jobs[:prepared.pending] if prepared.sweep.force else prepared.jobs:
        m = medians.get((job.spec.key, job.request.width, job.request.height))
        if m is not None:
            total, known = total + m, True
    return total if known else None


def restart_batch(argv: Sequence[str], name: str) -> subprocess.Popen:
    """Start a stored batch command again (Resume): its stored jobs are skipped."""
    log_name = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] + f"-{secrets.token_hex(3)}"
    full = [sys.executable, *argv]
    proc = processes.start(full, name=log_name, output_dir=data.settings().output_dir, database_url=data.db_url())
    _launched()[name] = {"process": proc, "log": str(processes.log_path(data.settings().output_dir, log_name)),
                         "argv": full, "started": time.time()}
    return proc


def launched_batches() -> dict[str, dict[str, Any]]:
    return _launched()


def log_tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def batch_process_alive(run) -> bool:
    """True when the run's batch process is alive on this machine (reaping our own finished children)."""
    launched = next((b["process"] for b in _launched().values() if b["process"].pid == run.pid), None)
    if launched is not None and launched.poll() is not None:
        return False
    return bool(processes.run_alive(run))


def cancel_batch(run, *, now: bool = False) -> str:
    return processes.cancel(run, now=now)


def reconcile_runs() -> list[int]:
    """Runs whose process is gone → `interrupted` (every page calls this first)."""
    gone = processes.reconcile(data.db())
    if gone:
        data.clear_queries()
    return gone
