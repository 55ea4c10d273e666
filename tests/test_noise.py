"""Bug 14: a tiny run and a pretrained load print none of the libraries' noise (checked in a fresh interpreter:
the warnings are once-per-process, and conftest filters FutureWarning in this one)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOISE = ("FutureWarning", "steps_offset", "requires torchvision", "torch_dtype", "deprecated")


def _run(code_or_args: list[str], tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS",)}
    env.update(PYTHONPATH=str(ROOT), IGCS_DATABASE_URL=f"sqlite:///{tmp_path / 'n.db'}",
               IGCS_OUTPUT_DIR=str(tmp_path / "out"), IGCS_DEVICE="cpu", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *code_or_args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_a_tiny_run_prints_no_library_noise(tmp_path):
    done = _run(["-m", "core.bench", "--models", "sd21", "--weights", "tiny", "--prompt", "a cat",
                 "--no-progress"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    noisy = [line for line in (done.stderr + done.stdout).splitlines() if any(n in line for n in NOISE)]
    assert noisy == []
    assert "sd21" in done.stdout


def test_a_pretrained_load_passes_dtype_and_warns_nothing(tmp_path):
    code = f"""
import torch
from core.families import get_family
from core.registry import get_spec
spec = get_spec("sd21")
family = get_family(spec.family)
family.build_tiny(spec).save_pretrained({str(tmp_path / 'sd21')!r})
pipe = family.load_pretrained(spec, source={str(tmp_path / 'sd21')!r}, torch_dtype=torch.bfloat16, token=None,
                              device_map=None)
assert pipe.unet.dtype == torch.bfloat16 and pipe.text_encoder.dtype == torch.bfloat16
print("loaded")
"""
    done = _run(["-c", code], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded" in done.stdout
    noisy = [line for line in done.stderr.splitlines() if any(n in line for n in NOISE)]
    assert noisy == []
