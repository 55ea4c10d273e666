"""What every open model and scorer downloads, where it is looked for, whether it is here, and the exact command to
fetch it.

    python -m core.bench weights [--missing] [--json] [--kind models|scorers]

The command line of core.weights."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Sequence

from core.settings import get_settings
from core.weights import model_downloads, report, scorer_downloads


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.bench weights", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--missing", action="store_true", help="only what is not present (with the commands)")
    p.add_argument("--json", action="store_true", help="one JSON object per download")
    p.add_argument("--kind", choices=("all", "models", "scorers"), default="all")
    args = p.parse_args(argv)
    settings = get_settings()
    downloads = ((model_downloads(settings) if args.kind in ("all", "models") else [])
                 + (scorer_downloads(settings) if args.kind in ("all", "scorers") else []))
    shown = [d for d in downloads if d.status != "present"] if args.missing else downloads
    if args.json:
        print(json.dumps([asdict(d) for d in shown], indent=1))
    else:
        print(report(shown, settings))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
