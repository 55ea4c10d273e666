"""The same sweep with `--executor local` and with `--executor ray`, each in a fresh store: wall seconds of each,
their ratio (goal: Ray within 3 % of local), and a check that both stored the same job keys and the same image
pixels for each key. Random weights; the first 8 prompts of data/prompts/suite.jsonl; each model's default
size; `--steps` (default 10, to finish in a few minutes on one H200; 0 = each model's default steps).
Ray uses every GPU it sees (one worker per GPU), so on N GPUs the second number is the N-GPU time.

    PYTHONPATH=. python scripts/gpu_ray_vs_local.py [--models sdxl,sana15-1.6b] [--prompts 8] [--steps 10]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from sqlmodel import select

from core.store import Generation, Run, make_engine, session_scope

SUITE = Path(__file__).resolve().parent.parent / "data" / "prompts" / "suite.jsonl"


def sweep(executor: str, folder: Path, args, prompts: Path) -> dict:
    db = folder / f"{executor}.db"
    argv = [sys.executable, "-m", "core.bench", "--models", args.models, "--weights", args.weights, "--prompts",
            str(prompts), "--seeds", "0", "--db", str(db), "--out", str(folder / executor), "--no-progress",
            "--executor", executor]
    if args.steps:
        argv += ["--steps", str(args.steps)]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    print(proc.stdout[-3000:])
    if proc.returncode != 0:
        print(proc.stderr[-5000:], file=sys.stderr)
        raise SystemExit(f"{executor}: exit {proc.returncode}")
    engine = make_engine(f"sqlite:///{db}")
    with session_scope(engine, read_only=True) as s:
        run = s.exec(select(Run)).one()
        rows = list(s.exec(select(Generation)))
    run_s = (run.finished_at - run.created_at).total_seconds()
    pixels = {r.job_key: Image.open(r.image_path).tobytes() for r in rows if r.status == "ok"}
    where = sorted({(r.host, r.gpu_ids, r.gpu_count) for r in rows}, key=str)
    return {"process_s": wall, "run_s": run_s, "ok": len(pixels), "failed": sum(r.status != "ok" for r in rows),
            "pixels": pixels, "where": where, "mfu": [r.mfu for r in rows if r.mfu is not None]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="sdxl,sana15-1.6b")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--steps", type=int, default=10, help="denoising steps (0: each model's default)")
    p.add_argument("--weights", default="random", help="random (default); tiny for a dry run on a CPU")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ray-vs-local-"))
    prompts = folder / "prompts.jsonl"
    prompts.write_text("".join(SUITE.read_text().splitlines(keepends=True)[:args.prompts]))
    results = {name: sweep(name, folder, args, prompts) for name in ("local", "ray")}
    local, ray = results["local"], results["ray"]
    same_keys = set(local["pixels"]) == set(ray["pixels"])
    same_pixels = same_keys and all(local["pixels"][k] == ray["pixels"][k] for k in local["pixels"])
    report = {
        "models": args.models, "prompts": args.prompts, "steps": args.steps or "defaults",
        **{f"{n}_{k}": round(r[k], 2) for n, r in results.items() for k in ("run_s", "process_s")},
        "ratio_run_s": round(ray["run_s"] / local["run_s"], 4),
        "ratio_process_s": round(ray["process_s"] / local["process_s"], 4),
        "ok": {n: r["ok"] for n, r in results.items()}, "failed": {n: r["failed"] for n, r in results.items()},
        "same_job_keys": same_keys, "same_pixels_per_key": same_pixels,
        "where": {n: r["where"] for n, r in results.items()},
        "mfu_median": {n: sorted(r["mfu"])[len(r["mfu"]) // 2] if r["mfu"] else None for n, r in results.items()},
        "folder": str(folder),
    }
    print(json.dumps(report, indent=1, default=str))
    return 0 if same_pixels and not local["failed"] and not ray["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
