"""Model x speed recipe on one CUDA GPU: seconds per image, speedup against eager, MFU, memory, compile time, quality.

    PYTHONPATH=. python scripts/gpu_recipes.py [--models flux-dev,sana15-1.6b,sdxl]
        [--recipes eager,compile,compile+fp8,cache] [--compile-modes family,default,reduce-overhead] [--steady 2]
        [--set flux-dev.compile_mode=reduce-overhead] [--fresh-cache] [--artifacts] [--budget-s 400] [--json out.json]

Each model is built at full size with random weights (no download) at its authors' default size and steps and
generated through `core.generation.Engine` (stage timing and FLOP counting on, as in a real run). Eager runs first;
every other recipe is applied on top of the loaded model when it only adds steps (eager -> compile -> compile+fp8),
else the model is reloaded. Per recipe: the first call (compile, CUDA-graph recording) is timed apart, then
`--steady` calls; seconds per image is their median, the speedup is eager's median over it (same process), denoiser
MFU is the denoise stage's FLOPs over its seconds over the measured bf16 dense peak, PSNR/SSIM compare the image
with eager's (same seed). Compiled artifacts are cached in IGCS_COMPILE_CACHE_DIR (default data/compile_cache), so
a second run shows the warm-cache compile; --fresh-cache compiles into an empty temporary folder instead.
Random weights make the first-block cache's skip decisions unlike a trained model's: its speedup here is not one
to quote. Recipes start only while the run is within --budget-s seconds (the rest are listed as skipped).
--compile-modes runs each recipe that compiles once per torch.compile mode ("family": the family's own `Speed`;
"default"; "reduce-overhead": CUDA graphs), reloading the model between modes; rows are labelled recipe[mode].
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_MODELS = ("flux-dev", "sana15-1.6b", "sdxl")
# The lossless set covers the three models in about 6 minutes on one H200 (measured 2026-12-02: FLUX eager +
# compile about 110 s, SDXL about 200 s, SANA about 60 s, cold compile cache). compile+fp8 alone compiled for
# 280 s on FLUX: ask for it (and cache) with --recipes, e.g. --models flux-dev --recipes eager,compile+fp8,cache.
DEFAULT_RECIPES = ("eager", "compile")
PROMPT = "a photograph of an astronaut riding a horse on the moon, detailed, high quality"


def _fmt(v, digits=2, suffix=""):
    return "-" if v is None else f"{v:.{digits}f}{suffix}"


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """["flux-dev.compile_mode=reduce-overhead", "sdxl.channels_last=unet"] -> {model: {field: value}}."""
    from core.families import Speed

    defaults = {f.name: f.default for f in dataclasses.fields(Speed)}
    out: dict[str, dict] = {}
    for item in items:
        target, _, value = item.partition("=")
        model, _, name = target.rpartition(".")
        if not (model and name and _):
            raise SystemExit(f"--set: expected MODEL.FIELD=VALUE, got {item!r}")
        if name not in defaults or name == "why":
            raise SystemExit(f"--set: unknown field {name!r}; allowed: {', '.join(n for n in defaults if n != 'why')}")
        default = defaults[name]
        if isinstance(default, tuple):
            parsed = tuple(v for v in value.split(",") if v)
        elif isinstance(default, bool):
            parsed = value.lower() in ("1", "true", "yes", "on")
        elif value.lower() in ("none", ""):
            parsed = None
        elif name == "cache_threshold":
            parsed = float(value)
        else:
            parsed = value
        out.setdefault(model, {})[name] = parsed
    return out


def _inductor_counts() -> tuple[int, int]:
    from torch._dynamo.utils import counters

    return counters["inductor"]["fxgraph_cache_hit"], counters["inductor"]["fxgraph_cache_miss"]


def run_recipe(engine, request, recipe: str, *, steady: int, overrides: dict, eager_image, artifacts: bool,
               backend: str = "inductor") -> dict:
    import torch

    from core.scoring.compare import pixel_delta
    from core.recipes import (apply_recipe, artifacts_path, get_recipe, load_compile_artifacts, needs_reload,
                              save_compile_artifacts)
    from core.settings import get_settings

    key = request.model
    row: dict = {"model": key, "recipe": recipe}
    model = engine.resident.get(key)
    if model is not None and needs_reload(model.recipe, recipe):
        engine.unload(key)  # steps cannot be undone: start again from a fresh load
        torch._dynamo.reset()
        torch.cuda.empty_cache()
        model = None
    if model is None:
        t = time.perf_counter()
        model = engine.load(key)
        row["load_s"] = time.perf_counter() - t
    report = apply_recipe(model, recipe, overrides=overrides, backend=backend)
    row.update(applied=report.applied, skipped=report.skipped, apply_s=report.apply_s)
    blob = artifacts_path(get_settings().compile_cache_dir, key, recipe, engine.device)
    if artifacts and report.applied:
        row["artifacts_loaded"] = load_compile_artifacts(blob)
    hits0, miss0 = _inductor_counts()

    def call():
        outcome = engine.generate(request)
        if not outcome.ok:
            raise RuntimeError(f"{key} {recipe}: {outcome.error}")
        return outcome

    t = time.perf_counter()
    first = call()
    row["first_wall_s"] = time.perf_counter() - t
    hits1, miss1 = _inductor_counts()
    row["fx_cache_hits"], row["fx_cache_misses"] = hits1 - hits0, miss1 - miss0
    record_s = 0.0
    if "compile" in get_recipe(recipe).steps and report.settings.get("compile_mode") == "reduce-overhead":
        record_s = call().total_s  # CUDA graphs record on the second call: part of the warm-up
    outs = [call() for _ in range(steady)]
    if artifacts and report.applied and (row["fx_cache_misses"] or not row.get("artifacts_loaded")):
        row["artifacts_bytes"] = save_compile_artifacts(blob)
    seconds = [o.total_s for o in outs]
    last = outs[-1]
    row.update(
        first_s=first.total_s, steady_s=seconds, s_per_image=statistics.median(seconds) / request.num_images,
        compile_s=max(0.0, first.total_s + record_s - (2 if record_s else 1) * statistics.median(seconds)),
        stage_s=last.stage_s, flops=last.flops, flops_total=last.flops_total, mfu=last.mfu,
        peak_mem_gb=max((o.peak_mem_gb for o in outs if o.peak_mem_gb is not None), default=None),
    )
    peak = (last.profile.get("flops") or {}).get("peak_tflops")
    denoise_flops, denoise_s = last.flops.get("denoise"), last.stage_s.get("denoise")
    row["denoise_mfu"] = denoise_flops / denoise_s / 1e12 / peak if peak and denoise_flops and denoise_s else None
    row["image"] = last.images[0]
    if eager_image is not None:
        delta = pixel_delta(last.images[0], eager_image)
        row["psnr_db"], row["ssim"] = delta.psnr_db, delta.ssim
    return row


def print_row(r: dict, eager_s: float | None) -> None:
    if "error" in r:
        print(f"  {r['model']:<12} {r['recipe']:<26} {r['error']}", flush=True)
        return
    speedup = eager_s / r["s_per_image"] if eager_s else None
    r["speedup"] = speedup
    psnr = r.get("psnr_db")
    psnr_text = "-" if psnr is None else ("inf" if psnr == float("inf") else f"{psnr:.1f}")
    print(f"  {r['model']:<12} {r['recipe']:<26} {r['s_per_image']:7.3f} s  x{_fmt(speedup)}  "
          f"denoise MFU {_fmt(r['denoise_mfu'] and 100 * r['denoise_mfu'], 1):>5} %  "
          f"whole MFU {_fmt(r['mfu'] and 100 * r['mfu'], 1):>5} %  peak {_fmt(r['peak_mem_gb'], 1)} GB  "
          f"first {r['first_s']:6.1f} s (compile {r['compile_s']:5.1f} s, FX cache {r['fx_cache_hits']} hit / "
          f"{r['fx_cache_misses']} miss)  PSNR {psnr_text} dB  SSIM {_fmt(r.get('ssim'), 4)}", flush=True)
    stages = ", ".join(f"{k} {v:.3f}" for k, v in r["stage_s"].items())
    print(f"      stages (s): {stages}; load {_fmt(r.get('load_s'), 1)} s, apply {r['apply_s']:.1f} s", flush=True)
    print(f"      applied: {r['applied']}", flush=True)
    if r["skipped"]:
        print(f"      skipped: {r['skipped']}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--recipes", default=",".join(DEFAULT_RECIPES), help="eager always runs first (the reference)")
    p.add_argument("--compile-modes", default="family", metavar="MODES",
                   help="torch.compile modes of the recipes that compile, comma-separated: family (the family's "
                        "Speed), default, reduce-overhead (CUDA graphs); each runs on a fresh load (default: family)")
    p.add_argument("--steady", type=int, default=2, help="timed calls after the first (default 2)")
    p.add_argument("--set", action="append", default=[], metavar="MODEL.FIELD=VALUE",
                   help="override a field of the family's Speed for one model, e.g. sana15-1.6b.compile_mode="
                        "reduce-overhead or flux-dev.sdpa=none (repeatable)")
    p.add_argument("--fresh-cache", action="store_true", help="compile into an empty temporary cache folder")
    p.add_argument("--artifacts", action="store_true", help="load/save torch.compiler mega-cache files per recipe")
    p.add_argument("--budget-s", type=float, default=400.0, help="start no recipe after this many seconds")
    p.add_argument("--json", help="write the rows here as JSON")
    p.add_argument("--smoke", action="store_true", help="tiny twins on the CPU, compile backend aot_eager: checks "
                   "the script's logic in seconds, measures nothing")
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    overrides = parse_overrides(args.set)

    import torch

    weights, device, backend = ("tiny", "cpu", "aot_eager") if args.smoke else ("random", "cuda", "inductor")
    if device == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device (--smoke runs tiny twins on the CPU)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="igcs-recipes-"))
    os.environ.setdefault("IGCS_DATABASE_URL", f"sqlite:///{workdir / 'results.db'}")
    os.environ.setdefault("IGCS_OUTPUT_DIR", str(workdir / "outputs"))
    if args.fresh_cache:
        os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        os.environ["IGCS_COMPILE_CACHE_DIR"] = str(workdir / "compile_cache")

    from core.errors import CaseStudyError
    from core.generation import Engine
    from core.profiling import device_peak_tflops
    from core.recipes import check_recipe
    from core.jobs import GenerationRequest
    from core.settings import get_settings

    get_settings.cache_clear()
    engine = Engine(weights=weights, device=device)
    peak = device_peak_tflops(device, db=engine.peaks.db)
    cache_dir = os.environ.get("TORCHINDUCTOR_CACHE_DIR") or str(Path(get_settings().compile_cache_dir) / "inductor")
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "cpu (smoke test)"
    print(f"device: {gpu}; bf16 dense peak {_fmt(peak, 0)} TFLOP/s (measured); torch "
          f"{torch.__version__}; compile cache {cache_dir}", flush=True)
    modes = [m.strip() for m in args.compile_modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - {"family", "default", "reduce-overhead"})
    if unknown or not modes:
        print(f"error: --compile-modes: {', '.join(unknown) or 'empty'}; allowed: family, default, reduce-overhead",
              file=sys.stderr)
        return 2
    names = ["eager"] + [r.strip() for r in args.recipes.split(",") if r.strip() and r.strip() != "eager"]
    # (label, recipe, compile mode override): a recipe that compiles runs once per mode
    recipes = [(name, name, None) for name in names[:1]]
    for name in names[1:]:
        compiles = "compile" in name.split("+")
        for mode in (modes if compiles else ["family"]):
            label = name if mode == "family" else f"{name}[{mode}]"
            recipes.append((label, name, mode))
    rows: list[dict] = []
    for key in [k.strip() for k in args.models.split(",") if k.strip()]:
        request = engine.prepare(GenerationRequest(model=key, prompt=PROMPT, seed=0))
        print(f"== {key}: {request.width}x{request.height}, {request.steps} steps, {weights} weights", flush=True)
        eager_s = eager_image = None
        last_mode = None
        for label, recipe, mode in recipes:
            elapsed = time.perf_counter() - t_start
            row = {"model": key, "recipe": label}
            model_overrides = dict(overrides.get(key, {}))
            if mode in ("default", "reduce-overhead"):
                model_overrides["compile_mode"] = None if mode == "default" else mode
            try:
                if elapsed > args.budget_s:
                    raise CaseStudyError(f"skipped: {elapsed:.0f} s elapsed, over --budget-s {args.budget_s:.0f}")
                if recipe != "eager" and eager_image is None:
                    raise CaseStudyError("skipped: no eager reference for this model")
                check_recipe(recipe, engine.spec_for(key), engine.device)
                if mode is not None and last_mode is not None and mode != last_mode and key in engine.resident:
                    engine.unload(key)  # another compile mode: compile afresh
                    torch._dynamo.reset()
                    torch.cuda.empty_cache()
                last_mode = mode if mode is not None else last_mode
                row = run_recipe(engine, request, recipe, steady=args.steady, overrides=model_overrides,
                                 eager_image=eager_image, artifacts=args.artifacts, backend=backend)
                row["recipe"] = label
            except CaseStudyError as exc:
                row["error"] = str(exc)
            except Exception as exc:  # one recipe failing must not hide the others
                import traceback

                traceback.print_exc()
                row["error"] = f"FAILED {type(exc).__name__}: {exc}"[:800]
                engine.unload_all()
                torch._dynamo.reset()
                torch.cuda.empty_cache()
            if recipe == "eager" and "error" not in row:
                eager_s, eager_image = row["s_per_image"], row["image"]
            row.pop("image", None)
            print_row(row, eager_s)
            rows.append(row)
        engine.unload_all()
        torch._dynamo.reset()
        torch.cuda.empty_cache()
    print(f"\nsummary (s/image median of {args.steady}; speedup against eager in this process; "
          f"{time.perf_counter() - t_start:.0f} s in all):")
    print(f"  {'model':<12} {'recipe':<26} {'s/image':>8} {'speedup':>8} {'den.MFU':>8} {'peak GB':>8} "
          f"{'compile s':>9} {'PSNR dB':>8} {'SSIM':>7}")
    for r in rows:
        if "error" in r:
            print(f"  {r['model']:<12} {r['recipe']:<26} {r['error'][:100]}")
            continue
        psnr = r.get("psnr_db")
        print(f"  {r['model']:<12} {r['recipe']:<26} {r['s_per_image']:8.3f} {_fmt(r.get('speedup')):>8} "
              f"{_fmt(r['denoise_mfu'] and 100 * r['denoise_mfu'], 1):>8} {_fmt(r['peak_mem_gb'], 1):>8} "
              f"{r['compile_s']:9.1f} {('inf' if psnr == float('inf') else _fmt(psnr, 1)):>8} "
              f"{_fmt(r.get('ssim'), 4):>7}")
    if args.json:
        Path(args.json).write_text(json.dumps({"peak_tflops": peak, "rows": rows}, indent=1, default=str))
    return 0 if all("error" not in r or r["error"].startswith(("skipped", "recipe:")) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
