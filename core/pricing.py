"""What a GPU-hour costs, for a USD-per-image estimate of open models beside the APIs' list prices.

An estimate, not a bill: USD per image = seconds per call x USD per GPU-hour / 3600 (one GPU; a model spread
over several GPUs costs that many times more, `gpu_count` says how many). Set IGCS_GPU_HOUR_USD to your own
rate; otherwise the default of the GPU the row ran on is used, from the table below.
"""
from __future__ import annotations

import math

import pandas as pd

# Indicative on-demand cloud prices per GPU-hour, USD, at mid-2025 levels from the pages below (one GPU of
# the kind; NOT re-checked when written: this machine had no web access). Prices move: set IGCS_GPU_HOUR_USD.
#   Lambda Cloud on-demand pricing  https://lambda.ai/pricing (H100 SXM, H200, A100 SXM 80 GB, A10)
#   RunPod community/secure cloud     https://www.runpod.io/pricing (L40S, RTX 4090, RTX A6000, L4)
#   AWS EC2 p5/p4d on-demand / 8 GPUs https://aws.amazon.com/ec2/instance-types/p5/ (cross-check)
PRICES_AS_OF = "2025-06"
GPU_HOUR_USD: dict[str, float] = {
    "H200": 3.79,
    "H100": 2.99,
    "A100": 1.79,
    "L40S": 0.86,
    "A6000": 0.49,
    "RTX 4090": 0.59,
    "A10": 0.75,
    "L4": 0.43,
}
# Longest names first: "L40S" is tried before "L4", "A100" before "A10".
_ORDER = sorted(GPU_HOUR_USD, key=len, reverse=True)


def default_rate(gpu_name: str | None) -> float | None:
    """The table's USD per GPU-hour for a device name such as 'NVIDIA H200' or 'NVIDIA GeForce RTX 4090'."""
    if not gpu_name:
        return None
    name = gpu_name.upper()
    return next((GPU_HOUR_USD[k] for k in _ORDER if k.upper() in name), None)


def rate_for(gpu_name: str | None, override: float | None = None) -> float | None:
    """For a run on a GPU: IGCS_GPU_HOUR_USD when set, else the table's default for the GPU (None when unknown).
    A run without a GPU (CPU) gets no estimate."""
    if not gpu_name:
        return None
    return override if override is not None else default_rate(gpu_name)


def usd_per_image(total_s: float | None, rate: float | None, *, gpus: int = 1, images: int = 1) -> float | None:
    """Estimated USD per image of an open model: total_s x rate / 3600 (x GPUs, / images per call)."""
    if total_s is None or rate is None or (isinstance(total_s, float) and math.isnan(total_s)):
        return None
    return total_s * rate * max(gpus, 1) / 3600 / max(images, 1)


def with_cost_estimate(frame: pd.DataFrame, gpu_by_run: dict[int, str | None], override: float | None) -> pd.DataFrame:
    """Add `cost_est_usd` (open models: total_s x USD per GPU-hour / 3600, from IGCS_GPU_HOUR_USD or the run's
    GPU default; None on CPU, for unknown GPUs and for API rows, which carry their list price)."""
    if frame.empty or "total_s" not in frame.columns:
        return frame.assign(cost_est_usd=pd.Series(dtype=float))
    rates = {run: rate_for(gpu, override) for run, gpu in gpu_by_run.items()}  # one lookup per run
    rate = pd.to_numeric(frame["run_id"].map(rates), errors="coerce")
    estimate = frame["total_s"] * rate / 3600
    if "cost_usd" in frame.columns:
        estimate = estimate.where(frame["cost_usd"].isna())
    if "weights" in frame.columns:
        estimate = estimate.where(frame["weights"] != "api")
    return frame.assign(cost_est_usd=estimate.astype(float))
