"""What exactly produced an image, for reproducing it: dtype, scheduler and its config, the weights'
revision, the attention backend. Read once when a model loads (core.loading) and stored on every row.

Weights revision: the hub commit of a pretrained download (its snapshot folder's name in the Hugging Face
cache), a content hash of a local folder (`local:<sha256 of file names, sizes and the small config files>`),
the architecture spec's hash for random weights, and the code's git revision for tiny twins.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


from core.lazy import lazy_module
from core.architecture_spec import architecture_path
from core.environment import git_revision

torch = lazy_module("torch")

_CONFIG_SUFFIXES = (".json", ".txt", ".model")  # small files hashed by content; weights by name and size


def folder_hash(path: str | Path) -> str:
    """A stable hash of a model folder: every file's relative name and size, and the config files' bytes."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if rel.startswith(".cache/"):
            continue
        digest.update(f"{rel}\0{file.stat().st_size}\0".encode())
        if file.suffix in _CONFIG_SUFFIXES and file.stat().st_size < 1_000_000:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def hub_commit(repo_id: str) -> str | None:
    """The commit of the cached snapshot of `repo_id` (None when it is not in the cache)."""
    try:
        from huggingface_hub import try_to_load_from_cache  # heavy optional: the hub client

        found = try_to_load_from_cache(repo_id=repo_id, filename="model_index.json")
    except Exception:  # noqa: BLE001 - an unreadable cache has no revision to report
        return None
    if not isinstance(found, str):
        return None
    parts = Path(found).parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts else None


def weights_revision(weights: str, source: str | None, model_key: str) -> str | None:
    if weights == "tiny":
        return f"tiny:{git_revision() or 'unknown'}"
    if weights == "random":
        path = architecture_path(model_key)
        return f"random:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}" if path.exists() else "random"
    if source is None:
        return None
    if Path(source).is_dir():
        return f"local:{folder_hash(source)}"
    commit = hub_commit(source)
    return f"{source}@{commit}" if commit else source


def attention_backend() -> str:
    """diffusers' attention dispatcher backend (DIFFUSERS_ATTN_BACKEND, default native SDPA) and, on CUDA,
    which SDPA kernels torch may pick."""
    backend = os.environ.get("DIFFUSERS_ATTN_BACKEND", "native")
    if not torch.cuda.is_available():
        return f"{backend} (cpu)"
    kernels = [name for name, on in (("flash", torch.backends.cuda.flash_sdp_enabled()),
                                     ("mem_efficient", torch.backends.cuda.mem_efficient_sdp_enabled()),
                                     ("cudnn", torch.backends.cuda.cudnn_sdp_enabled()),
                                     ("math", torch.backends.cuda.math_sdp_enabled())) if on]
    return f"{backend} (sdpa: {', '.join(kernels)})"


def scheduler_of(pipe: Any) -> tuple[str | None, dict[str, Any]]:
    """The scheduler's class and config (Stable Cascade: the prior's)."""
    scheduler = getattr(pipe, "scheduler", None)
    if scheduler is None and hasattr(pipe, "prior"):
        scheduler = getattr(pipe.prior, "scheduler", None)
    if scheduler is None:
        return None, {}
    config = {k: v for k, v in dict(getattr(scheduler, "config", {})).items() if not k.startswith("_")}
    return type(scheduler).__name__, json.loads(json.dumps(config, default=str))


def provenance(pipe: Any, *, weights: str, source: str | None, model_key: str, dtype: torch.dtype) -> dict[str, Any]:
    scheduler, config = scheduler_of(pipe)
    return {"dtype": str(dtype).removeprefix("torch."), "scheduler": scheduler, "scheduler_config": config,
            "weights_revision": weights_revision(weights, source, model_key), "attention_backend": attention_backend()}
