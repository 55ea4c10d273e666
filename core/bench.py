"""`python -m core.bench`: the workbench's command line. The parser and every command live in core/cli/."""
from __future__ import annotations

import sys

from core.cli.bench import main

if __name__ == "__main__":
    sys.exit(main())
