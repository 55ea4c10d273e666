"""The compute atlas: parameters and FLOPs per stage and per image of every open model from its architecture alone.

    python -m core.bench atlas [--models flux-dev,sdxl] [--size 1024x1024] [--steps 28]

The command line of core.atlas."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from core.atlas import _tasks, atlas_entry, store_results, table
from core.errors import RequestError
from core.jobs import TASKS, parse_size
from core.registry import resolve_models
from core.settings import get_settings
from core.store import db_url, make_engine


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except RequestError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench atlas", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="open", help="comma-separated model keys, or open (default)")
    p.add_argument("--size", type=_size, metavar="WxH", help="image size (default: each model's own)")
    p.add_argument("--steps", type=int, help="denoising steps (default: each model's own)")
    p.add_argument("--negative-prompt", help="a negative prompt, for models that take one")
    p.add_argument("--task", choices=TASKS,
                   help="count this task only (default: every task each model takes; an edit runs on a gray source "
                        "image of the output size)")
    p.add_argument("--db", type=db_url, help="database URL or SQLite path (default: IGCS_DATABASE_URL)")
    p.add_argument("--no-store", action="store_true", help="print the table only")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        specs = [s for s in resolve_models(args.models) if not s.is_api]
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width, height = args.size if args.size else (None, None)
    results = []
    # On a terminal each row shows as soon as it is counted; into a file or a pipe the table is written once.
    live = len(specs) > 1 and sys.stdout.isatty()
    head, rule, footer = table([]).splitlines()
    if live:
        print(head, rule, sep="\n", flush=True)
    for spec in specs:
        negative = args.negative_prompt if spec.supports_negative else None
        for task in _tasks(spec, args.task):
            r = atlas_entry(spec.key, width=width, height=height, steps=args.steps, negative_prompt=negative,
                            task=task)
            results.append(r)
            if live:
                print(table([r]).splitlines()[2], flush=True)
    print(footer if live else table(results))
    if not args.no_store:
        db = make_engine(args.db or get_settings().database_url)
        n = store_results(results, db)
        print(f"stored {n} atlas entries")
    return 0
