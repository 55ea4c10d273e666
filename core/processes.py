"""Batches in the background: start a detached `python -m core.bench`, watch it, cancel it, and tell a
run whose process is gone (killed, crashed, machine rebooted) from one that is still running.

A run records the host and pid of the process that writes it. `reconcile(db)` marks every `running` run
of this host whose process is gone as `interrupted`; every page and `--list-runs` call it first, so no
run stays `running` forever. Rerunning the same sweep resumes it (finished job keys are skipped).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from sqlalchemy.engine import Engine as SqlEngine

from core.store import Run, finish_run, query_runs, session_scope

REPO_ROOT = Path(__file__).resolve().parent.parent
_BOOT_TIME: float | None = None
BATCH_LOG_ENV = "IGCS_BATCH_LOG"


def batches_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "batches"


def log_path(output_dir: str | Path, name: str) -> Path:
    return batches_dir(output_dir) / f"{name}.log"


def start(argv: Sequence[str], *, name: str, output_dir: str | Path, database_url: str | None = None) -> subprocess.Popen:
    """Start a batch detached (its own session): closing the tab or stopping the dashboard leaves it running.
    Its output goes to `<output dir>/batches/<name>.log`. The store's URL travels in the environment
    (IGCS_DATABASE_URL), not on the command line, where `ps` would show a PostgreSQL password."""
    path = log_path(output_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The batch records its log's path in its run (params["log"]): deleting the run deletes the log too.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", BATCH_LOG_ENV: str(path.resolve())}
    if database_url:
        env["IGCS_DATABASE_URL"] = database_url
    with open(path, "ab") as log:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=REPO_ROOT, start_new_session=True)


def _started_at(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), from /proc; None where /proc is not there."""
    global _BOOT_TIME
    try:
        if _BOOT_TIME is None:
            for line in Path("/proc/stat").read_text().splitlines():
                if line.startswith("btime "):
                    _BOOT_TIME = float(line.split()[1])
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = float(stat.rsplit(")", 1)[1].split()[19])  # field 22: start time in clock ticks after boot
        return (_BOOT_TIME or 0.0) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int | None, *, since: datetime | None = None) -> bool:
    """True when `pid` is a live process on this machine (and, given `since`, one started before then: a pid
    reused by a later process is not the run's)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    try:  # a zombie (exited, not yet reaped by its parent) is gone
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (OSError, IndexError):
        pass
    if since is not None:
        started = _started_at(pid)
        created = since.replace(tzinfo=timezone.utc) if since.tzinfo is None else since
        if started is not None and started > created.timestamp() + 2:
            return False
    return True


def run_alive(run: Run) -> bool | None:
    """Is the run's process alive? None when it runs on another host (cannot be told from here)."""
    if run.hostname and run.hostname != socket.gethostname():
        return None
    return alive(run.pid, since=run.created_at)


def reconcile(db: SqlEngine) -> list[int]:
    """Mark this host's `running` runs whose process is gone as `interrupted`; returns their ids."""
    with session_scope(db, read_only=True) as session:
        running = query_runs(session=session, status="running", limit=10_000)
    gone = [r.id for r in running if run_alive(r) is False]
    for run_id in gone:
        with session_scope(db) as session:
            run = session.get(Run, run_id)
            if run is not None and run.status == "running":
                finish_run(session=session, run_id=run_id, status="interrupted")
    return gone


def cancel(run: Run, *, now: bool = False) -> str:
    """Ask a run's batch to stop: SIGTERM lets it finish the image in progress, then it records `cancelled`;
    `now` sends SIGKILL (the run shows as `interrupted`). Returns "" or why nothing was sent."""
    if run.hostname and run.hostname != socket.gethostname():
        return f"run {run.id} runs on {run.hostname}; cancel it there"
    if not alive(run.pid, since=run.created_at):
        return f"run {run.id}: its process ({run.pid}) is not running"
    if run.pid == os.getpid():
        return f"run {run.id} runs inside this process; it cannot be cancelled from here"
    os.kill(run.pid, signal.SIGKILL if now else signal.SIGTERM)
    return ""


def wait_gone(pid: int, timeout_s: float = 10.0) -> bool:
    """Wait until `pid` is gone (for tests and the dashboard's "stop now")."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False
