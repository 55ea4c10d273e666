"""The open editing models on one CUDA GPU: seconds per edit, MFU and peak memory at their authors' defaults.

    PYTHONPATH=. python scripts/gpu_edit.py [--models qwen-image-edit,flux-kontext-dev,instruct-pix2pix,flux2-klein-4b]
        [--steady 3] [--source-size 1024] [--json out.json]

Each model is built at full size with random weights (no download; data/architectures) in its own dtype, and edits
one synthetic source image (a square of --source-size pixels: the output size is each model's own for that source,
its `edit_size`: 1024x1024 for Qwen-Image-Edit, Kontext and FLUX.2 [klein], 512x512 for InstructPix2Pix) with its
default steps and guidance, through `core.generation.Engine` as a sweep runs it: stage timing (the source's VAE
encode is its own stage), FLOPs of the calls actually made (the source's tokens included) and MFU against the bf16
dense peak measured once on this GPU. Per model: one first call (warm-up, not counted), then --steady calls;
seconds per edit is their median. One model is resident at a time (unloaded before the next).
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

DEFAULT_MODELS = ("qwen-image-edit", "flux-kontext-dev", "instruct-pix2pix", "flux2-klein-4b")
INSTRUCTION = "make the red ball blue and keep everything else the same"


def _fmt(v, digits=2, scale=1.0, suffix=""):
    return "-" if v is None else f"{v / scale:.{digits}f}{suffix}"


def make_source(folder: Path, size: int) -> Path:
    """A synthetic scene (a red ball on a table, a line of text): real structure for the VAE, no download."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), (232, 228, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(size * 0.68), size, size), fill=(140, 105, 70))
    draw.ellipse((int(size * 0.35), int(size * 0.38), int(size * 0.65), int(size * 0.68)), fill=(200, 30, 30))
    draw.text((int(size * 0.05), int(size * 0.05)), "OPEN", fill=(10, 10, 10))
    path = folder / f"source-{size}.png"
    image.save(path)
    return path


def bench_model(engine, key: str, source: Path, steady: int) -> dict:
    import torch

    from core.jobs import EDIT, GenerationRequest, InputImage

    request = engine.prepare(GenerationRequest(model=key, prompt=INSTRUCTION, seed=0, task=EDIT,
                                               inputs=(InputImage.from_path(source),)))
    t0 = time.perf_counter()
    model = engine.load(key)
    load_s = time.perf_counter() - t0
    first = engine.generate(request)
    if not first.ok:
        raise RuntimeError(f"{key}: {first.error}")
    calls = []
    for _ in range(steady):
        outcome = engine.generate(request)
        if not outcome.ok:
            raise RuntimeError(f"{key}: {outcome.error}")
        calls.append(outcome)
    last = calls[-1] if calls else first
    totals = [o.total_s for o in calls] or [first.total_s]
    mfus = [o.mfu for o in calls if o.mfu is not None]
    stage_s = {stage: statistics.median([o.stage_s.get(stage, 0.0) for o in calls or [first]])
               for stage in ("text_encode", "denoise", "decode")}
    stage_s["image_encode"] = statistics.median([o.profile.get("image_encode_s", 0.0) for o in calls or [first]])
    out = {
        "model": key, "size": [request.width, request.height], "steps": request.steps, "guidance": request.guidance,
        "dtype": str(model.dtype).removeprefix("torch."), "params": model.params_total, "load_s": load_s,
        "first_call_s": first.total_s, "steady_s": totals, "s_per_edit": statistics.median(totals),
        "stage_s": stage_s, "flops_by_stage": dict(last.flops), "flops_total": last.flops_total,
        "denoise_calls": last.calls.get(model.family.denoiser), "tflops_per_s": last.tflops_per_s,
        "mfu": statistics.median(mfus) if mfus else None,
        "denoise_mfu": _stage_mfu(last, "denoise"), "peak_mem_gb": max(o.peak_mem_gb or 0 for o in [first, *calls]),
        "gpu": torch.cuda.get_device_name(0),
    }
    engine.unload(key)
    torch.cuda.empty_cache()
    return out


def _stage_mfu(outcome, stage: str) -> float | None:
    flops, seconds, peak = outcome.flops.get(stage), outcome.stage_s.get(stage), outcome.profile.get("flops", {}).get(
        "peak_tflops")
    if not (flops and seconds and peak):
        return None
    return flops / seconds / 1e12 / peak


def report(r: dict) -> str:
    st, fl = r["stage_s"], r["flops_by_stage"]
    return (f"== {r['model']}: {r['size'][0]}x{r['size'][1]}, {r['steps']} steps, guidance {r['guidance']:g}, "
            f"{r['dtype']}, {r['params'] / 1e9:.2f} B params\n"
            f"   load {r['load_s']:.1f} s; first call {r['first_call_s']:.2f} s; steady {', '.join(f'{s:.2f}' for s in r['steady_s'])} s"
            f" -> {r['s_per_edit']:.2f} s per edit\n"
            f"   stages: text {st['text_encode']:.3f} s, source encode {st['image_encode']:.3f} s, denoise "
            f"{st['denoise']:.2f} s ({r['denoise_calls']} passes), decode {st['decode']:.3f} s\n"
            f"   FLOPs: text {_fmt(fl.get('text_encode'), 2, 1e12)} T, source {_fmt(fl.get('image_encode'), 2, 1e12)} T, "
            f"denoise {_fmt(fl.get('denoise'), 1, 1e12)} T, decode {_fmt(fl.get('decode'), 2, 1e12)} T, total "
            f"{_fmt(r['flops_total'], 1, 1e12)} T\n"
            f"   {_fmt(r['tflops_per_s'], 1)} TFLOP/s, MFU {_fmt(r['mfu'] and 100 * r['mfu'], 1)} % (denoise "
            f"{_fmt(r['denoise_mfu'] and 100 * r['denoise_mfu'], 1)} %), peak {_fmt(r['peak_mem_gb'], 1)} GB")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--steady", type=int, default=3, help="timed calls after the first (default 3)")
    p.add_argument("--source-size", type=int, default=1024, help="the square source's side in pixels (default 1024)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA device (this script times the editors on a GPU)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="igcs-gpu-edit-"))
    os.environ.setdefault("IGCS_DATABASE_URL", f"sqlite:///{workdir / 'results.db'}")
    os.environ.setdefault("IGCS_OUTPUT_DIR", str(workdir / "outputs"))

    from core.generation import Engine
    from core.profiling import device_peak_tflops

    engine = Engine(weights="random", device="cuda")
    peak = device_peak_tflops("cuda", db=engine.peaks.db)
    print(f"device: {torch.cuda.get_device_name(0)}; bf16 dense peak (measured): {peak:.0f} TFLOP/s; "
          f"torch {torch.__version__}", flush=True)
    source = make_source(workdir, args.source_size)
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    results = []
    for key in keys:
        try:
            r = bench_model(engine, key, source, args.steady)
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
    print("\n| model | size | steps | s per edit | TFLOP per edit | MFU % | peak GB |\n|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['size'][0]}x{r['size'][1]} | {r['steps']} | {r['s_per_edit']:.2f} | "
              f"{_fmt(r['flops_total'], 1, 1e12)} | {_fmt(r['mfu'] and 100 * r['mfu'], 1)} | {_fmt(r['peak_mem_gb'], 1)} |")
    return 0 if len(results) == len(keys) else 1


if __name__ == "__main__":
    sys.exit(main())
