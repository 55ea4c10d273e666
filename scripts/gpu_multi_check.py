"""Pretrained loading from a local folder, on one GPU and balanced over every GPU: the same seed, the same image.

    python scripts/gpu_multi_check.py --model sd21 [--steps 20]

No download: the model is first built at full size with random weights and saved with `save_pretrained`
to a temporary folder, which then serves as `IGCS_MODELS_DIR/<key>` — so the load below is the real
`from_pretrained` path users take. The model is then generated through `core.generation.Engine` twice:
on cuda:0 alone (IGCS_MULTI_GPU=never) and spread with `device_map="balanced"` (IGCS_MULTI_GPU=always).
Printed: where each component landed, load and call times, and the largest pixel difference between the
two images (the seed's noise is drawn on the CPU, so it is the same tensor in both runs).
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path



def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="sd21")
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()

    import numpy as np
    import torch

    from core.loading import load_model, unload
    from core.registry import get_spec

    print(f"GPUs: {[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}")
    root = Path(tempfile.mkdtemp())
    spec = get_spec(args.model)
    built = load_model(spec, "random", device="cuda:0")
    built.pipe.save_pretrained(root / spec.key)
    unload(built)
    os.environ["IGCS_MODELS_DIR"] = str(root)
    os.environ["IGCS_DATABASE_URL"] = f"sqlite:///{root / 'results.db'}"

    from core.generation import Engine
    from core.jobs import GenerationRequest
    from core.settings import get_settings

    images = {}
    for placement in ("never", "always"):
        os.environ["IGCS_MULTI_GPU"] = placement
        get_settings.cache_clear()
        engine = Engine(weights="pretrained", device="cuda:0")
        request = engine.prepare(GenerationRequest(model=spec.key, prompt="a red cat on a blue table", seed=1234,
                                                   steps=args.steps))
        outcome = engine.generate(request)
        assert outcome.ok, outcome.error
        model = engine.resident[spec.key]
        where = {name: str(next(m.parameters()).device) for name, m in model.family.components(model.pipe).items()}
        print(f"{placement:>6}: device {outcome.device}; load {outcome.load_s:.1f} s; call {outcome.total_s:.2f} s; "
              f"peak {outcome.peak_mem_gb:.1f} GB; components {where}")
        images[placement] = np.asarray(outcome.images[0], dtype=int)
        engine.unload_all()
    diff = np.abs(images["never"] - images["always"])
    print(f"same seed, one GPU vs balanced: max pixel difference {diff.max()}, mean {diff.mean():.4f}")


if __name__ == "__main__":
    main()
