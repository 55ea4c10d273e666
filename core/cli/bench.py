"""The `python -m core.bench` command line: run a sweep, list models or runs; subcommands for the rest.

    python -m core.bench --models all --weights tiny --prompts data/prompts/suite.jsonl --seeds 0 1
    python -m core.bench atlas [--models flux-dev] [--size 1024x1024] [--steps 28]   (the compute atlas)
    python -m core.bench --list | --list-runs

Every model runs over every prompt and seed (load → generate → unload in bench mode) through
core.runner. Each job has a stable key; a rerun skips what is stored, so a killed run resumes without
duplicates. A failed job is recorded and the run goes on. Exit codes: 0 ok, 1 something failed,
2 bad input (nothing ran), 130 cancelled.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from core.errors import CaseStudyError, RequestError, StoreError
from core.executors import EXECUTORS
from core.jobs import TASKS, parse_size
from core.recipe_catalog import RECIPES, get_recipe
from core.spec import WEIGHTS

# Where each command lives, imported when it runs (like lm-eval's lazy registry): `--help` and a bad flag answer
# without torch, diffusers or the store. The sweep and --list-runs are core.cli.run; --list is core.cli.listing.
SUBCOMMANDS = {"atlas": "core.cli.atlas", "score": "core.cli.score", "export": "core.cli.export", "db": "core.cli.db",
               "weights": "core.cli.weights"}
RUN, LIST = "core.cli.run", "core.cli.listing"


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except RequestError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _metrics(text: str) -> tuple[str, ...]:
    """Metric names; checked against the scorers once the command runs (core.cli.run): the scorers need torch."""
    return tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def _recipes(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    try:
        for name in names:
            get_recipe(name)
    except CaseStudyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not names:
        raise argparse.ArgumentTypeError(f"give one or more of {', '.join(RECIPES)}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench", description=__doc__.split("\n\n")[0],
                                epilog=f"subcommands: {', '.join(SUBCOMMANDS)} (python -m core.bench atlas --help)",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="all", help="comma-separated model keys, or all | open | api (default: all)")
    p.add_argument("--prompts", metavar="FILE", help="prompt file: one prompt a line, or JSONL "
                   "(prompt, negative_prompt, category); e.g. data/prompts/suite.jsonl")
    p.add_argument("--prompt", action="append", default=[], metavar="TEXT", help="a prompt (repeatable)")
    p.add_argument("--task", choices=TASKS, default=None,
                   help="text-to-image (default) or edit: each edit is a source image and an instruction (--inputs)")
    p.add_argument("--inputs", metavar="FILE", help="edits: a JSONL of {image, instruction}, a folder of images with "
                                                    "instructions.jsonl/.txt, or a suite name in data/edits (implies "
                                                    "--task edit)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="N", help="seeds (default: 0)")
    p.add_argument("--steps", type=int, help="denoising steps (default: each model's own)")
    p.add_argument("--guidance", type=float, help="guidance scale (default: each model's own)")
    p.add_argument("--size", type=_size, metavar="WxH", help="image size (default: each model's own)")
    p.add_argument("--negative-prompt", help="negative prompt for models that take one")
    p.add_argument("--weights", choices=WEIGHTS, default="pretrained",
                   help="pretrained (hub id or IGCS_MODELS_DIR), random (full-size, random weights) or tiny; "
                        "random and tiny run the open models only")
    p.add_argument("--images", type=int, default=1, metavar="N", help="images per request (default 1)")
    p.add_argument("--param", action="append", default=[], metavar="MODEL.NAME=VALUE",
                   help="a per-model option, e.g. gpt-image-1.5.quality=high (repeatable)")
    p.add_argument("--batch-size", type=int, default=1, metavar="N",
                   help="prompts per pipeline call where the model allows it (default 1); time and FLOPs are "
                        "shared out evenly over the batch")
    p.add_argument("--repeats", type=int, default=1, metavar="N",
                   help="timed repeats of every job (default 1); each is stored, summaries show p50/p90")
    p.add_argument("--warmup", type=int, default=0, metavar="K",
                   help="untimed calls per model and configuration before the timed ones (not stored)")
    p.add_argument("--force", action="store_true", help="measure again what is already stored (new rows)")
    p.add_argument("--mode", choices=("dev", "bench"), default="bench",
                   help="bench: load → generate → unload each model; dev: keep models resident")
    p.add_argument("--db", help="database URL or SQLite path (default: IGCS_DATABASE_URL)")
    p.add_argument("--out", help="output folder (default: IGCS_OUTPUT_DIR, data/outputs)")
    p.add_argument("--device", help="cuda, cuda:1, cpu or auto (default: IGCS_DEVICE)")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="where the jobs run: local (this process, one model at a time) or ray (one worker per GPU "
                        "of this machine or of a Ray cluster; results come back here)")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="with --executor ray: auto or ray://HOST:10001 joins a running cluster (default: start Ray "
                        "on this machine)")
    p.add_argument("--max-cost", type=float, metavar="USD", help="refuse a sweep whose API cost estimate exceeds this")
    p.add_argument("--allow-slow", action="store_true", help="run tiny twins at sizes far above their own")
    p.add_argument("--score", type=_metrics, default=(), metavar="METRICS",
                   help="quality scores after each model's jobs: comma-separated clip, pick, aesthetic; edits: "
                        "edit_psnr, edit_ssim, edit_l1, clip_i, clip_t, clip_dir, dino, edit_check")
    p.add_argument("--scorer-weights", choices=("pretrained", "tiny"),
                   help="the scorers' weights (default: tiny with --weights tiny, else pretrained)")
    p.add_argument("--recipe", type=_recipes, default=("eager",), metavar="RECIPES",
                   help=f"speed recipes, comma-separated ({', '.join(RECIPES)}); each model runs each, eager first "
                        "(default: eager)")
    p.add_argument("--name", help="a name for this run (rename it later in History → Runs)")
    p.add_argument("--tag", action="append", default=[], metavar="T",
                   help="a tag for this run (repeatable; letters, digits and - _ . : / + =); with --list-runs: only "
                        "runs carrying it")
    p.add_argument("--note", metavar="TEXT", help="notes for this run (what it was for; editable in History → Runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--list", action="store_true", help="list the models (defaults, availability, price) and exit")
    p.add_argument("--list-runs", action="store_true", help="list the latest runs with their status and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a store that cannot be opened (any subcommand) is one line and exit code 2."""
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv and argv[0] in SUBCOMMANDS:
            return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
        args = parser().parse_args(argv)
        return importlib.import_module(LIST if args.list else RUN).run(args)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
