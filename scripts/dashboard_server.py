"""Start the dashboard on a free localhost port for a screenshot script, and stop it afterwards.

    server = runpy.run_path(str(ROOT / "scripts" / "dashboard_server.py"))
    with server["serve"](env, log_path) as url:
        ...  # server["snap"](page, out / "charts", width): the whole page as charts-<width>.png
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def serve(env: dict[str, str], log_path: Path, port: int | None = None) -> Iterator[str]:
    """`streamlit run dashboard/app.py` with `env` (on `port`, else a free one), waited for until /_stcore/health
    answers; yields its URL."""
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port",
                                 str(port), "--server.address", "localhost", "--server.headless", "true"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://localhost:{port}"
    try:
        for _ in range(200):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def settle(page) -> None:
    """Wait until Streamlit has drawn: its running indicator gone, and a moment for the last elements."""
    page.wait_for_timeout(1500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    page.wait_for_timeout(800)


def snap(page, stem: Path, width: int) -> Path:
    """The whole page as `<stem>-<width>.png`: Streamlit scrolls inside its main block, so the window grows to fit it."""
    settle(page)
    height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
                           "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 900)")
    page.set_viewport_size({"width": width, "height": min(int(height) + 100, 12000)})
    page.wait_for_timeout(800)
    path = Path(f"{stem}-{width}.png")
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 900})
    return path
