"""Can this machine run a model in a weights mode? Weights on disk, an architecture spec, an API key.

The dashboard's pickers and the CLI's `--list` ask the same function, so both say the same thing. Nothing here
imports torch: `--list` stays fast.
"""
from __future__ import annotations

from pathlib import Path

from core import providers
from core.architecture_spec import ArchitectureUnavailable, load_architecture
from core.settings import Settings
from core.spec import ModelSpec


def pretrained_source(spec: ModelSpec, settings: Settings) -> str:
    """A local directory `<IGCS_MODELS_DIR>/<key>` when it exists, else the hub id (core.loading loads from it)."""
    if settings.models_dir:
        local = Path(settings.models_dir).expanduser() / spec.key
        if local.is_dir():
            return str(local)
    return spec.hf_id


def _hf_cached(repo_id: str | None) -> bool:
    if not repo_id:
        return False
    try:
        from huggingface_hub import try_to_load_from_cache  # heavy optional: the hub client

        return isinstance(try_to_load_from_cache(repo_id=repo_id, filename="model_index.json"), str)
    except Exception:  # noqa: BLE001 - an unreadable cache is "not here"
        return False


def available(spec: ModelSpec, weights: str, settings: Settings) -> tuple[bool, str]:
    """(available, why) for `spec` with `weights` (pretrained | random | tiny; API models: their key)."""
    if spec.is_api:
        missing = providers.missing_credentials(spec, settings)
        return (missing is None, "API key set" if missing is None else missing)
    if weights == "tiny":
        return True, "tiny twin built in code"
    if weights == "random":
        try:
            load_architecture(spec.key).require()
        except (ArchitectureUnavailable, FileNotFoundError) as exc:
            return False, f"no complete architecture spec: {exc}"
        return True, "random weights from data/architectures"
    source = pretrained_source(spec, settings)
    if source != spec.hf_id:
        return True, f"local copy in {source}"
    if _hf_cached(spec.hf_id):
        return True, f"{spec.hf_id} in the Hugging Face cache"
    return False, f"{spec.hf_id} not downloaded (set IGCS_MODELS_DIR or fill the HF cache)"
