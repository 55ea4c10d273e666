"""The LAION aesthetic predictor v2 head (christophschuhmann/improved-aesthetic-predictor, `simple_inference.py`).

Five Linear layers with Dropout between the first four and no activation: a linear map in effect, trained with
MSE on AVA + LAION-Logos + Simulacra Aesthetic Captions ratings (1-10) of L2-normalised CLIP ViT-L/14 image
embeddings. Layer indices match the authors' `nn.Sequential`, so their state dict
(`layers.0.weight` ... `layers.7.bias`) loads unchanged.
"""
from __future__ import annotations

import functools

from core.lazy import lazy_module

torch = lazy_module("torch")

WEIGHTS_FILE = "sac+logos+ava1-l14-linearMSE.pth"
CLIP_L14_DIM = 768


@functools.cache
def _mlp_class() -> type:
    """The nn.Module, defined on first use (importing this module imports no torch)."""
    nn = torch.nn

    class AestheticMLP(nn.Module):
        def __init__(self, input_size: int = CLIP_L14_DIM):
            super().__init__()
            self.input_size = input_size
            self.layers = nn.Sequential(
                nn.Linear(input_size, 1024),
                nn.Dropout(0.2),
                nn.Linear(1024, 128),
                nn.Dropout(0.2),
                nn.Linear(128, 64),
                nn.Dropout(0.1),
                nn.Linear(64, 16),
                nn.Linear(16, 1),
            )

        def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
            """(n, input_size) L2-normalised image embeddings -> (n,) predicted ratings."""
            return self.layers(embeddings).squeeze(-1)

    return AestheticMLP


def __getattr__(name: str):  # PEP 562: `aesthetic_mlp.AestheticMLP` builds the class on first use
    if name == "AestheticMLP":
        return _mlp_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_state(path: str) -> dict[str, torch.Tensor]:
    """The authors' state dict (plain tensors: loaded with weights_only, no pickle code runs)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:  # a Lightning checkpoint of the same MLP
        state = state["state_dict"]
    return state
