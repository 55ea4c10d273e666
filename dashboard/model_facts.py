"""Model facts for the pickers: which weights are here, labels, the catalog table."""
from __future__ import annotations


import pandas as pd
import streamlit as st

from core import families, providers
from core.providers import listing
from core.availability import available
from core.environment import cuda_present
from core.registry import all_specs, get_spec
from core.spec import ModelSpec
from dashboard import data



# ---- model facts -------------------------------------------------------------------------------------
def default_weights() -> str:
    """pretrained on a CUDA machine, tiny elsewhere (the full models would not run on a CPU); asked without
    importing torch, so that pages draw before any model library loads."""
    return "pretrained" if cuda_present() else "tiny"


@st.cache_resource(show_spinner=False, ttl=60)
def weights_here(key: str, weights: str) -> tuple[bool, str]:
    """(available, why) for a model in a weights mode on this machine (core.availability, cached a minute)."""
    return available(get_spec(key), weights, data.settings())


def effective_spec(spec: ModelSpec, weights: str) -> ModelSpec:
    """The spec requests are checked against (the tiny twin's small default size and steps)."""
    return families.effective_spec(spec, weights)


def model_label(spec: ModelSpec, weights: str) -> str:
    """`sd21 · 768×768 · ~4 GB · ✓` for pickers: default size, approximate VRAM, gated, weights here."""
    eff = effective_spec(spec, weights)
    parts = [spec.key]
    if spec.is_api:
        parts.append(spec.provider or "api")
    else:
        parts.append(f"{eff.width}×{eff.height}")
        if spec.vram_gb and weights != "tiny":
            parts.append(f"~{spec.vram_gb:g} GB")
    if spec.gated and weights == "pretrained":
        parts.append("gated")
    ok, _ = weights_here(spec.key, "api" if spec.is_api else weights)
    parts.append(("✓" if ok else "✗ no key") if spec.is_api else ("✓" if ok else "✗ no weights"))
    return " · ".join(parts)


def key_models() -> pd.DataFrame:
    """Every API model with its status and whether the provider's own list has it for the keys set here
    (uncached: the user asked now)."""
    rows = [{"model": a.key, "provider": a.provider, "status": a.status, "on this key": a.listed,
             "note": a.note or ("" if a.listed is not None else "not asked")}
            for provider in providers.PROVIDERS for a in listing.available_models(provider, data.settings())]
    return pd.DataFrame(rows)


def catalog_note(weights: str) -> str:
    return (f"Default size and steps are those of the {weights} weights; VRAM and parameters are the full models'. "
            "Available here: tiny twins always; pretrained weights in IGCS_MODELS_DIR or the Hugging Face cache; "
            "API models when their key is set.")


def model_catalog(weights: str) -> pd.DataFrame:
    """One row per registry model: defaults, size, VRAM, gated, licence, availability here."""
    rows = []
    for spec in all_specs():
        eff = effective_spec(spec, weights)
        ok, why = weights_here(spec.key, "api" if spec.is_api else weights)
        rows.append({
            "key": spec.key, "name": spec.name, "kind": spec.kind if not spec.is_api else f"api ({spec.provider})",
            "available here": ok, "why": why,
            "default size": f"{eff.width}×{eff.height}",
            "steps": eff.steps, "guidance": eff.guidance,
            "VRAM GB (full model, approx.)": spec.vram_gb if not spec.is_api else None,
            "params B (full model)": spec.params_b, "gated": spec.gated, "negative prompt": spec.supports_negative,
            "license": spec.license,
        })
    return pd.DataFrame(rows)
