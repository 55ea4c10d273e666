"""`python -m core.bench`: the workbench's command line (core/cli/bench.py parses it; core/cli/ has every command)."""
from __future__ import annotations

import sys

from core.cli.bench import main  # noqa: F401 - `from core.bench import main` as before

if __name__ == "__main__":
    sys.exit(main())
