"""The architecture specs of data/architectures (one `architecture.json` per model): read without torch.

`core.architecture` builds modules from them (random weights, the meta device); what only reads a spec (is it
complete? `--list`, provenance) imports this module and stays light.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ARCHITECTURES_DIR = Path(__file__).resolve().parent.parent / "data" / "architectures"
STAGES = ("text_encode", "image_encode", "denoise", "decode")  # image_encode: an edit's source through the VAE


class ArchitectureUnavailable(RuntimeError):
    """A model (or a component it needs) has no architecture spec; the message says why."""


@dataclass(frozen=True)
class Architecture:
    key: str
    data: dict

    @property
    def available(self) -> bool:
        return bool(self.data.get("available", False))

    @property
    def reason(self) -> str | None:
        return self.data.get("reason")

    @property
    def components(self) -> dict[str, dict]:
        return self.data.get("components", {})

    @property
    def tokenizers(self) -> dict[str, dict]:
        return self.data.get("tokenizers", {})

    @property
    def schedulers(self) -> dict[str, dict]:
        return self.data.get("schedulers", {})

    def stage_of(self, component: str, method: str | None = None) -> str | None:
        """The stage a component's calls belong to; `method_stages` can name another for one method (an editing
        model's VAE: ``encode`` of the source is ``image_encode``, ``decode`` is ``decode``)."""
        comp = self.components.get(component)
        if not comp:
            return None
        return comp.get("method_stages", {}).get(method) or comp.get("stage")

    def require(self) -> "Architecture":
        if not self.available:
            raise ArchitectureUnavailable(f"{self.key}: no full-size architecture: {self.reason}")
        return self


def architecture_path(key: str) -> Path:
    return ARCHITECTURES_DIR / key / "architecture.json"


@lru_cache(maxsize=None)
def load_architecture(key: str) -> Architecture:
    path = architecture_path(key)
    if not path.exists():
        return Architecture(key, {"model": key, "available": False,
                                  "reason": f"no architecture spec ({path.relative_to(ARCHITECTURES_DIR.parent.parent)})"})
    return Architecture(key, json.loads(path.read_text()))
