"""Per-configuration statistics of generation rows: never pooled over sizes, steps, weights, dtype or batch size.

A *configuration* is what changes the work of one call: weights mode, width × height, steps, and, where the
rows carry them, dtype, batch size and speed recipe (eager left out of labels). Steady-state statistics leave out `first_call` rows (the first call
after a load includes warm-up). With a `repeat` column, the spread is the spread over repeats of the same job;
without one, it is the spread over the configuration's prompts and seeds, and the tables say so.
"""
from __future__ import annotations

import pandas as pd

# Columns that make a configuration, in the order labels show them (those present in a frame are used).
CONFIG_COLUMNS = ("weights", "width", "height", "steps", "dtype", "batch_size", "recipe")


def config_columns(frame: pd.DataFrame) -> list[str]:
    """The configuration columns this frame has (with at least one value)."""
    return [c for c in CONFIG_COLUMNS if c in frame.columns and frame[c].notna().any()]


def config_label(row: pd.Series | dict, columns: list[str] | None = None) -> str:
    """`512×512 · 20 steps · bf16 · batch 4` (weights mode left out: charts show one mode at a time)."""
    get = row.get
    parts = []
    if pd.notna(get("width")) and pd.notna(get("height")):
        parts.append(f"{int(get('width'))}×{int(get('height'))}")
    if pd.notna(get("steps")):
        parts.append(f"{int(get('steps'))} steps")
    if columns is None or "dtype" in columns:
        if pd.notna(get("dtype")) and get("dtype"):
            parts.append(str(get("dtype")).removeprefix("torch."))
    if pd.notna(get("batch_size")) and get("batch_size") not in (None, 1):
        parts.append(f"batch {int(get('batch_size'))}")
    recipe = get("recipe")
    if isinstance(recipe, str) and recipe != "eager":
        parts.append(recipe)
    return " · ".join(parts) or "default settings"


def steady(frame: pd.DataFrame) -> pd.DataFrame:
    """ok rows with a time, first calls after load left out."""
    if frame is None or frame.empty or "total_s" not in frame.columns:
        return pd.DataFrame(columns=list(frame.columns) if frame is not None else ["total_s"])
    out = frame
    if "status" in out.columns:
        out = out[out["status"] == "ok"]
    if "first_call" in out.columns:
        out = out[~out["first_call"].fillna(False).astype(bool)]
    return out.dropna(subset=["total_s"])


def has_repeats(frame: pd.DataFrame) -> bool:
    """Whether any row is a repeat beyond a job's first timing (`repeat` > 0)."""
    return "repeat" in frame.columns and bool((pd.to_numeric(frame["repeat"], errors="coerce") > 0).any())


def latency_summary(frame: pd.DataFrame, value: str = "total_s") -> pd.DataFrame:
    """One row per model × configuration: n, p50, p90, mean, min, max of `value` (seconds), steady state only.

    When rows repeat a job (`repeat` > 0) also `repeats` (distinct repeats) and `repeat_spread_s`: the median over jobs of the
    max − min across that job's repeats (jobs are the rows sharing prompt, seed and configuration).
    """
    data = steady(frame)
    if data.empty or value not in data.columns:
        return pd.DataFrame(columns=["model_key", "config", "n", "p50_s", "p90_s", "mean_s", "min_s", "max_s"])
    data = data.dropna(subset=[value])
    keys = ["model_key"] + config_columns(data)
    grouped = data.groupby(keys, dropna=False)[value]
    out = grouped.agg(n="size", p50_s="median", mean_s="mean", min_s="min", max_s="max")
    out.insert(2, "p90_s", grouped.quantile(0.9))  # vectorised; a lambda per group is slow on big stores
    out = out.reset_index()
    if has_repeats(data):
        job = [c for c in ("prompt", "seed") if c in data.columns]
        per_job = data.groupby(keys + job, dropna=False).agg(
            spread=(value, lambda v: v.max() - v.min()), reps=("repeat", "nunique")).reset_index()
        extra = per_job.groupby(keys, dropna=False).agg(repeats=("reps", "max"),
                                                        repeat_spread_s=("spread", "median")).reset_index()
        out = out.merge(extra, on=keys, how="left")
    out.insert(1, "config", [config_label(r) for r in out.to_dict("records")])
    return out.sort_values(["model_key", "p50_s"]).reset_index(drop=True)


def config_table(frame: pd.DataFrame) -> pd.DataFrame:
    """`latency_summary` plus mean USD per image: `usd_list` (APIs' list prices, `cost_usd`) and `usd_estimate`
    (open models' GPU-time estimate, `cost_est_usd`, when the frame has it)."""
    table = latency_summary(frame)
    if table.empty:
        return table
    data = steady(frame)
    keys = ["model_key"] + config_columns(data)
    for column, name in (("cost_usd", "usd_list"), ("cost_est_usd", "usd_estimate")):
        if column in data.columns and data[column].notna().any():
            means = data.groupby(keys, dropna=False)[column].mean().rename(name).reset_index()
            table = table.merge(means, on=keys, how="left")
    return table
