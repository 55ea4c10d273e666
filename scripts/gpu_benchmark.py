"""Random-weight SDXL, FLUX.1-dev and SANA 1.5 1.6B through the engine on a CUDA GPU, profiling on and off.

    python scripts/gpu_benchmark.py [--models sdxl,flux-dev,sana15-1.6b] [--pairs 2] [--json out.json]

Each model is built at full size with random weights (no download), at its authors' default size and step
count, and generated through `core.generation.Engine`: one warm-up call (profiling on: it pays for the first
FLOP count on the meta device, then cached), then alternating calls with profiling off (no stage hooks, no
input capture: the whole call timed once) and on (CUDA-event stage timing, input capture, FLOPs from the cache,
MFU). Printed per model: per-stage seconds, FLOPs per stage, achieved TFLOP/s and MFU (against the bf16
dense peak measured once on this GPU), and the profiling overhead as a ratio of median call times on/off.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_MODELS = ("sdxl", "flux-dev", "sana15-1.6b")
PROMPT = "a photograph of an astronaut riding a horse on the moon, detailed, high quality"


def _fmt(v, digits=3):
    return "-" if v is None else f"{v:.{digits}f}"


def bench_model(engine, key: str, pairs: int, warmup: int = 1) -> dict:
    import torch

    from core.jobs import GenerationRequest

    request = engine.prepare(GenerationRequest(model=key, prompt=PROMPT, seed=0))
    t0 = time.perf_counter()
    engine.load(key)
    load_s = time.perf_counter() - t0

    def call(profile: bool):
        engine.profile_flops = profile
        engine.profile_stages = profile
        t = time.perf_counter()
        outcome = engine.generate(request)
        wall = time.perf_counter() - t
        if not outcome.ok:
            raise RuntimeError(f"{key}: {outcome.error}")
        return outcome, wall

    warm, warm_wall = call(True)
    for _ in range(warmup - 1):  # more calls before measuring: allocator and clocks settle (SDXL takes ~3)
        call(True)
    on, off = [], []
    for i in range(pairs):  # off-on, on-off, ...: drift (clocks, allocator) falls on both sides alike
        for profile in ((False, True) if i % 2 == 0 else (True, False)):
            (on if profile else off).append(call(profile))
    last = on[-1][0]
    on_s = [o.total_s for o, _ in on]
    off_s = [o.total_s for o, _ in off]
    on_wall = [w for _, w in on]
    off_wall = [w for _, w in off]
    result = {
        "model": key, "width": request.width, "height": request.height, "steps": request.steps,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu", "load_s": load_s,
        "first_call_s": warm.total_s, "first_call_wall_s": warm_wall,
        "first_count_s": warm.profile.get("flops", {}).get("count_s"),
        "stage_s": last.stage_s, "calls": last.calls, "flops_by_stage": last.flops,
        "flops_total": last.flops_total, "macs_total": last.macs_total,
        "tflops_per_s": statistics.mean(o.tflops_per_s for o, _ in on),
        "mfu": statistics.mean(o.mfu for o, _ in on) if last.mfu is not None else None,
        "tflops_per_s_by_stage": last.profile["flops"].get("tflops_per_s_by_stage"),
        "peak_tflops": last.profile["flops"].get("peak_tflops"), "peak_mem_gb": last.peak_mem_gb,
        "total_s_on": on_s, "total_s_off": off_s, "wall_s_on": on_wall, "wall_s_off": off_wall,
        "overhead_ratio": statistics.median(on_s) / statistics.median(off_s) - 1.0,
        "overhead_ratio_mean": statistics.mean(on_s) / statistics.mean(off_s) - 1.0,
        "overhead_ratio_wall": statistics.median(on_wall) / statistics.median(off_wall) - 1.0,
        "steady_count_s": last.profile["flops"].get("count_s"),
        "errors": last.profile["flops"].get("errors"),
    }
    engine.unload(key)
    torch.cuda.empty_cache()
    return result


def report(r: dict) -> str:
    lines = [f"== {r['model']}  {r['width']}x{r['height']}, {r['steps']} steps, random weights, {r['device']}",
             f"   load {r['load_s']:.1f} s; first call {r['first_call_s']:.3f} s (wall {r['first_call_wall_s']:.3f} s, "
             f"FLOP counting on meta {_fmt(r['first_count_s'], 2)} s, once)",
             f"   calls: {r['calls']}"]
    for stage, seconds in r["stage_s"].items():
        flops = r["flops_by_stage"].get(stage)
        tfs = (r["tflops_per_s_by_stage"] or {}).get(stage)
        lines.append(f"   {stage:<12} {seconds:8.3f} s   {_fmt(flops and flops / 1e12, 2):>9} TFLOP   "
                     f"{_fmt(tfs, 1):>7} TFLOP/s")
    lines.append(f"   total        {statistics.median(r['total_s_on']):8.3f} s   {r['flops_total'] / 1e12:9.2f} TFLOP   "
                 f"{r['tflops_per_s']:7.1f} TFLOP/s   MFU {_fmt(r['mfu'] and 100 * r['mfu'], 1)} % "
                 f"(peak {_fmt(r['peak_tflops'], 0)} TFLOP/s bf16)   peak memory {_fmt(r['peak_mem_gb'], 1)} GB")
    lines.append(f"   profiling overhead: median on {statistics.median(r['total_s_on']):.3f} s vs off "
                 f"{statistics.median(r['total_s_off']):.3f} s per call -> ratio {r['overhead_ratio']:+.4f} "
                 f"({100 * r['overhead_ratio']:+.2f} %; of means {100 * r['overhead_ratio_mean']:+.2f} %); wall incl. "
                 f"cached FLOP lookup {100 * r['overhead_ratio_wall']:+.2f} % (steady counting "
                 f"{_fmt(r['steady_count_s'], 4)} s)")
    lines.append(f"   on: {[round(x, 3) for x in r['total_s_on']]}  off: {[round(x, 3) for x in r['total_s_off']]}")
    if r["errors"]:
        lines.append(f"   counting errors: {r['errors']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--pairs", type=int, default=4, help="off/on call pairs after the warm-up (default 4)")
    p.add_argument("--warmup", type=int, default=1, help="calls before the measured pairs (default 1; 3 steadies "
                   "SDXL, whose first calls after the warm-up run ~1 s slower in both modes)")
    p.add_argument("--json", help="write the results here as JSON")
    args = p.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA device", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="igcs-gpu-"))
    os.environ.setdefault("IGCS_DATABASE_URL", f"sqlite:///{workdir / 'results.db'}")
    os.environ.setdefault("IGCS_OUTPUT_DIR", str(workdir / "outputs"))

    from core.generation import Engine
    from core.profiling import device_peak_tflops

    engine = Engine(weights="random", device="cuda")
    t = time.perf_counter()
    peak = device_peak_tflops("cuda", db=engine.peaks.db)
    print(f"device: {torch.cuda.get_device_name(0)}; bf16 dense peak (8192^3 matmul, measured once): "
          f"{peak:.0f} TFLOP/s ({time.perf_counter() - t:.1f} s); torch {torch.__version__}", flush=True)
    results = []
    for key in [k.strip() for k in args.models.split(",") if k.strip()]:
        try:
            r = bench_model(engine, key, args.pairs, args.warmup)
        except Exception as exc:  # one model failing must not hide the others
            import traceback

            traceback.print_exc()
            print(f"== {key}: FAILED {type(exc).__name__}: {exc}", flush=True)
            engine.unload_all()
            torch.cuda.empty_cache()
            continue
        results.append(r)
        print(report(r), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"peak_tflops": peak, "results": results}, indent=1, default=str))
    print("\nsummary (profiling overhead = median call time with profiling on / off - 1):")
    for r in results:
        print(f"  {r['model']:<12} total {statistics.median(r['total_s_on']):7.3f} s  {r['tflops_per_s']:6.1f} TFLOP/s  "
              f"MFU {_fmt(r['mfu'] and 100 * r['mfu'], 1):>5} %  overhead {100 * r['overhead_ratio']:+.2f} %")
    return 0 if len(results) == len([k for k in args.models.split(",") if k.strip()]) else 1


if __name__ == "__main__":
    sys.exit(main())
