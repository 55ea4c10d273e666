"""Export generations and the per-configuration summary to CSV or Parquet.

    python -m core.bench export generations --out gens.parquet --models sdxl,flux-dev --status ok
    python -m core.bench export summary --out summary.csv --weights pretrained --since 2026-01-01

The command line of core.export (what each export holds is said there)."""
from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from core import store, votes
from core.export import FORMATS, GENERATION_ONLY, WHAT, filters, format_of, generations_frame, summary_frame, write
from core.settings import get_settings


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench export", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=WHAT, help="rows, p50/p90 per model × configuration, arena votes, or ratings")
    p.add_argument("--out", required=True, help="file to write (.csv or .parquet)")
    p.add_argument("--format", choices=FORMATS, help="default: from --out's suffix")
    p.add_argument("--db", help="database URL or SQLite path (default IGCS_DATABASE_URL)")
    p.add_argument("--models", help="comma-separated model keys")
    p.add_argument("--status", choices=("ok", "failed", "skipped"))
    p.add_argument("--prompt", help="prompt contains this text")
    p.add_argument("--run", type=int, help="one run id")
    p.add_argument("--since", type=_date, help="from this UTC date (YYYY-MM-DD)")
    p.add_argument("--until", type=_date, help="to this UTC date, inclusive")
    p.add_argument("--weights", choices=("pretrained", "random", "tiny", "api"))
    p.add_argument("--voter", help="votes and ratings: one voter's votes only")
    p.add_argument("--bootstrap", type=int, default=1000, help="ratings: bootstrap samples for the 95 %% intervals")
    p.add_argument("--seed", type=int, default=0, help="ratings: seed of the bootstrap resampling")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        fmt = args.format or format_of(Path(args.out))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.what in ("votes", "ratings"):
        refused = [f"--{name}" for name in GENERATION_ONLY if getattr(args, name) is not None]
        if refused:
            print(f"error: {', '.join(refused)}: not a filter of {args.what}; it takes --models, --weights, "
                  "--since, --until, --voter", file=sys.stderr)
            return 2
        if args.bootstrap < 0:
            print(f"error: --bootstrap: {args.bootstrap} is not allowed; 0 (no intervals) or more", file=sys.stderr)
            return 2
    elif args.voter is not None:
        print(f"error: --voter: not a filter of {args.what}; only of votes and ratings", file=sys.stderr)
        return 2
    url = args.db or get_settings().database_url
    url = url if "://" in url else f"sqlite:///{url}"
    engine = store.make_engine(url)
    chosen = filters(models=[m.strip() for m in args.models.split(",") if m.strip()] if args.models else None,
                     status=args.status, prompt=args.prompt, run=args.run, since=args.since, until=args.until,
                     weights=args.weights)
    if args.what in ("votes", "ratings"):
        picked = {"voter": args.voter, "model_keys": chosen["model_keys"], "weights": chosen["weights"],
                  "since": chosen["since"], "until": chosen["until"]}
        frame = votes.votes_frame(engine, **picked) if args.what == "votes" else \
            votes.ratings_frame(engine, bootstrap=args.bootstrap, seed=args.seed, **picked)
    else:
        frame = generations_frame(engine, **chosen) if args.what == "generations" else summary_frame(engine, **chosen)
    path = write(frame, args.out, fmt)
    print(f"wrote {len(frame):,} {args.what} row(s) to {path} ({fmt})")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
