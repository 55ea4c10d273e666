"""Issue 21, start-up: `--help`, a bad flag and `--list` answer without importing torch, diffusers, transformers, Ray,
the providers' SDKs or torchao (they load where a model loads or an API is called)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "diffusers", "transformers", "ray", "torchao", "google.genai", "openai")
PROBE = """
import json, sys
from core.cli.bench import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = {heavy!r}
print(json.dumps({{"code": code, "loaded": [m for m in heavy if m in sys.modules]}}), file=sys.stderr)
"""


def _probe(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["--weights", "nope"], ["--list"]], ids=lambda a: a[0])
def test_the_cli_answers_without_heavy_imports(argv):
    found = _probe(*argv)
    assert found["code"] in (0, 2)
    assert found["loaded"] == [], found
