"""Pages draw without the model libraries: torch, diffusers and transformers are imported when a model loads
(or a scorer, or a FLOP count), not when a page draws. Checked in a fresh interpreter, as a first page load is."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "diffusers", "transformers", "ptflops", "torchmetrics", "accelerate", "openai", "google.genai",
         "ray", "torchao")
SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({path!r}, default_timeout=120).run()
print(json.dumps({{"exception": [str(e.value) for e in at.exception], "titles": [t.value for t in at.title],
                  "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def _render(page: str, tmp_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IGCS_DATABASE_URL": f"sqlite:///{tmp_path / 'results.db'}",
           "IGCS_OUTPUT_DIR": str(tmp_path / "outputs"), "IGCS_DEVICE": "cpu"}
    code = SCRIPT.format(path=str(ROOT / "dashboard" / "views" / f"{page}.py"), heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("page", ["generate", "charts"])
def test_a_page_draws_without_diffusers_or_the_flop_counter(page, tmp_path):
    found = _render(page, tmp_path)
    assert not found["exception"] and found["titles"] == [page.capitalize()]
    assert not {"diffusers", "ptflops", "ray", "torchao", "openai", "google.genai"} & set(found["heavy"])


@pytest.mark.parametrize("page", ["generate", "charts"])
def test_a_page_draws_without_torch_or_transformers(page, tmp_path):
    found = _render(page, tmp_path)
    assert not found["exception"]
    assert found["heavy"] == []


def test_the_libraries_load_when_a_model_does():
    """The other half: the lazy stand-ins do import the library on first use (and `core.flops`' classes work)."""
    code = ("import sys; import core.flops as f; assert 'torch' not in sys.modules; "
            "from core.flops import ValuedMeta; import torch; "
            "v = ValuedMeta(torch.tensor([2, 3])); assert v.device.type == 'meta' and v.sum().item() == 5; "
            "from core.families import get_family; get_family('sd'); assert 'diffusers' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
