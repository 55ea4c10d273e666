"""scripts/install.sh passes pip's own options for torch and shows pip's progress (run against a stub venv)."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUB = """#!/usr/bin/env bash
echo "$@" >> "$(dirname "$0")/../../calls.log"
[ "$1" = "-c" ] && exit 1   # "import torch" fails: torch is not installed yet
exit 0
"""


def _install(tmp_path, **env) -> list[str]:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "install.sh", tmp_path / "scripts" / "install.sh")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(STUB)
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    done = subprocess.run(["bash", "scripts/install.sh"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith(("TORCH_", "PIP_"))}, **env})
    assert done.returncode == 0, done.stderr
    return (tmp_path / "calls.log").read_text().splitlines()


def test_torch_index_url_reaches_pip_and_progress_shows(tmp_path):
    calls = _install(tmp_path, TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu")
    torch_call = next(c for c in calls if c.startswith("-m pip install") and c.endswith(" torch"))
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_call
    assert all(" -q " not in f" {c} " for c in calls) and "--progress-bar on" in torch_call
    assert any("-r requirements.txt" in c for c in calls)


def test_torch_spec_and_extra_pip_args(tmp_path):
    calls = _install(tmp_path, TORCH_SPEC="torch==2.13.0", TORCH_PIP_ARGS="--no-cache-dir --extra-index-url http://mirror",
                     PIP_QUIET="1")
    torch_call = next(c for c in calls if c.endswith("torch==2.13.0"))
    assert "--no-cache-dir --extra-index-url http://mirror" in torch_call and "--index-url" not in torch_call.replace(
        "--extra-index-url", "")
    assert torch_call.startswith("-m pip install -q")
