"""Where profiling overhead comes from, one model at a time: off / stage timing only / stages + FLOP capture.

    python scripts/gpu_overhead_breakdown.py --model sdxl --rounds 6

Random weights at the model's default size and steps, through `core.generation.Engine`. After warm-up calls,
each round runs the three settings in a rotated order; printed: every call time and the median per setting,
with the ratio to "off" measured in the same run.
"""
from __future__ import annotations

import argparse
import statistics


SETTINGS = {"off": (False, False), "stages": (True, False), "stages+flops": (True, True)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="sdxl")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()

    import torch

    from core.generation import Engine
    from core.jobs import GenerationRequest

    engine = Engine(weights="random", device="cuda")
    request = engine.prepare(GenerationRequest(model=args.model, prompt="an astronaut riding a horse", seed=0))
    engine.load(args.model)
    for _ in range(args.warmup):
        engine.generate(request)
    times: dict[str, list[float]] = {k: [] for k in SETTINGS}
    names = list(SETTINGS)
    for r in range(args.rounds):
        for name in names[r % 3:] + names[:r % 3]:
            engine.profile_stages, engine.profile_flops = SETTINGS[name]
            out = engine.generate(request)
            assert out.ok, out.error
            times[name].append(out.total_s)
    base = statistics.median(times["off"])
    print(f"{args.model} on {torch.cuda.get_device_name(0)}: {request.width}x{request.height}, {request.steps} steps")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<13} median {med:.3f} s  ratio to off {med / base:.4f}  calls {[round(t, 3) for t in ts]}")
    engine.unload_all()


if __name__ == "__main__":
    main()
