"""`python -m core.bench --list`: every model with its defaults and what runs here with which weights, then the API
catalog with prices. Nothing here imports torch, diffusers or the store: the list answers at once."""
from __future__ import annotations

import argparse

from core.availability import available
from core.providers import listing
from core.registry import all_specs
from core.settings import get_settings
from core.spec import WEIGHTS


def runs_here(spec, settings) -> str:
    """What runs here, with which weights: "tiny, random; pretrained: missing" for an open model, "key set" or
    "no key" for an API model."""
    if spec.is_api:
        return "key set" if available(spec, "api", settings)[0] else "no key"
    modes = sorted(WEIGHTS, key=("tiny", "random", "pretrained").index)  # no download first
    ok = [w for w in modes if available(spec, w, settings)[0]]
    missing = [w for w in modes if w not in ok]
    return ", ".join(ok) + (f"; {', '.join(missing)}: missing" if missing else "")


def list_models() -> str:
    """The models: defaults, VRAM, what runs here with which weights; the API catalog with prices."""
    settings = get_settings()
    specs = list(all_specs())
    kinds = {s.key: f"api:{s.provider}" if s.is_api else "open" for s in specs}
    here = {s.key: runs_here(s, settings) for s in specs}
    kw, kk, hw = (max(len(v) for v in col) for col in ([s.key for s in specs], kinds.values(), here.values()))
    kw, hw = max(kw, 3), max(hw, len("runs here"))
    rows = [f"{'key':<{kw}}  {'kind':<{kk}} {'size':>9} {'steps':>5} {'cfg':>5} {'VRAM GB':>7}  "
            f"{'runs here':<{hw}}  name"]
    for s in specs:
        steps = "" if s.is_api else s.steps
        cfg = "" if s.is_api else f"{s.guidance:g}"
        vram = "" if s.is_api or s.vram_gb is None else f"{s.vram_gb:g}"
        rows.append(f"{s.key:<{kw}}  {kinds[s.key]:<{kk}} {f'{s.width}x{s.height}':>9} {steps:>5} {cfg:>5} {vram:>7}  "
                    f"{here[s.key]:<{hw}}  {s.name}{' (gated)' if s.gated else ''}")
    rows.append("runs here: the weights modes this machine can run (--weights; tiny and random need no download, "
                "pretrained needs IGCS_MODELS_DIR or the Hugging Face cache), or whether the API key is set")
    text = "\n".join(rows) + "\n\nAPI models today: status and list price\n" + listing.catalog_table()
    keys = listing.key_table(settings)  # asks the providers whose keys are set (their list-models call)
    return text + ("\n\nWhat your keys can use (the providers' own model lists)\n" + keys if keys else "")


def run(args: argparse.Namespace) -> int:
    print(list_models())
    return 0
