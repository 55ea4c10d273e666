"""`python -m core.bench score`: fill in the quality scores the store lacks (resumable; a rerun adds none).

    python -m core.bench score --all     (every metric but the opt-in hps, imagereward and vqascore; scorer
                                          weights follow each row's)
    python -m core.bench score --all --metrics hps,imagereward
    python -m core.bench score --run 12 --metrics vqascore --device cuda --batch-size 8   (VQAScore: GPU only)
    python -m core.bench score --all --metrics clip --scorer-weights tiny   (offline demo: noise scores, labelled)
    python -m core.bench score --all --metrics edit_l1,clip_dir --edit-items my_pairs.jsonl   (edits: regions and
        captions of your own pairs; the shipped suites' are found by source hash and instruction)

Scorer weights default to `auto`: rows generated with tiny weights are scored by the tiny scorers (built in code,
offline), every other row by the pretrained ones; the output says which scored what. Missing pretrained weights
fail at once with the command that downloads them (`python -m core.bench weights` lists them all).
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from tqdm import tqdm

from core.edits import EditItem, load_edit_items
from core.errors import CaseStudyError
from core.scoring.backfill import AUTO, DTYPES, WEIGHT_CHOICES, MetricCounts, score_missing
from core.scoring.metrics import DEFAULT_METRICS, METRICS, parse_metrics
from core.scoring.scorers import SCORERS
from core.settings import get_settings
from core.store import get_run, make_engine, session_scope


def _db_url(text: str) -> str:
    return text if "://" in text else f"sqlite:///{text}"


def _metrics(text: str) -> list[str]:
    try:
        return parse_metrics(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _edit_items(text: str) -> list[EditItem]:
    try:
        return load_edit_items(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; use 1 or more")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench score", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", type=int, help="score the images of this run id")
    which.add_argument("--all", action="store_true", help="score every ok image in the store")
    p.add_argument("--metrics", type=_metrics, default=list(DEFAULT_METRICS),
                   help=f"comma-separated, from {', '.join(METRICS)} (default: all but "
                        f"{', '.join(m for m in METRICS if m not in DEFAULT_METRICS)}, which are opt-in; "
                        f"{', '.join(m for m, c in SCORERS.items() if c.gpu_only)}: GPU only; edit metrics score "
                        f"edits only)")
    p.add_argument("--edit-items", type=_edit_items, default=[], metavar="FILE",
                   help="a JSONL or folder of edit items (regions, captions) besides the shipped suites, for the "
                        "edit metrics")
    p.add_argument("--batch-size", type=_positive, default=16, help="images per scorer call (default: 16)")
    p.add_argument("--device", default=None, help="cuda, cuda:1, cpu or auto (default: IGCS_DEVICE)")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float32",
                   help="scorer precision on GPU; not float32 gives another scorer revision (default: float32)")
    p.add_argument("--scorer-weights", choices=WEIGHT_CHOICES, default=AUTO,
                   help="auto (default: tiny scorers for rows of tiny weights, pretrained for the rest), pretrained "
                        "(hub id or IGCS_MODELS_DIR/<metric>) or tiny (built in code, noise, labelled)")
    p.add_argument("--db", type=_db_url, help="database URL or SQLite path (default: IGCS_DATABASE_URL)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _scorers(c: MetricCounts) -> str:
    return ", ".join(f"{n} by {mode}" for mode, n in sorted(c.by_weights.items()) if n) or "-"


def table(counts: dict[str, MetricCounts]) -> str:
    head = f"{'metric':<12} {'scored':>7} {'no file':>8} {'n/a':>5} {'seconds':>8} {'img/s':>7}  scorer weights"
    lines = [head, "-" * len(head)]
    for metric, c in counts.items():
        rate = f"{c.scored / c.seconds:.1f}" if c.seconds and c.scored else "-"
        lines.append(f"{metric:<12} {c.scored:>7} {c.missing_file:>8} {c.not_applicable:>5} {c.seconds:>8.2f} "
                     f"{rate:>7}  {_scorers(c)}")
    return "\n".join(lines)


def weights_note(mode: str) -> str:
    if mode == AUTO:
        return ("scorer weights: auto (the rows' own: tiny scorers for rows of tiny weights, whose scores are noise; "
                "pretrained scorers for the rest)")
    return f"scorer weights: {mode}" + (" (built in code: noise scores, labelled tiny)" if mode == "tiny" else "")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    settings = get_settings()
    engine = make_engine(args.db or settings.database_url)
    try:
        if args.run is not None:
            with session_scope(engine, read_only=True) as s:
                if get_run(session=s, run_id=args.run) is None:
                    print(f"error: --run: no run {args.run} in {engine.url}", file=sys.stderr)
                    return 2
        print(weights_note(args.scorer_weights), flush=True)
        bars: dict[str, tqdm] = {}

        def progress(metric: str, done: int, total: int) -> None:
            if metric not in bars:  # one bar at a time: the previous metric is finished
                for bar in bars.values():
                    bar.close()
                bars[metric] = tqdm(total=total, desc=metric, unit="img")
            bars[metric].update(done - bars[metric].n)

        try:
            counts = score_missing(store_engine=engine, metrics=args.metrics, run_id=args.run,
                                   batch_size=args.batch_size, device=args.device or settings.device, dtype=args.dtype,
                                   weights=args.scorer_weights, settings=settings, progress=progress,
                                   edit_items=args.edit_items)
        except (CaseStudyError, ValueError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            for bar in bars.values():
                bar.close()
        print(table(counts))
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
