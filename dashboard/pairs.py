"""Pairs for the Compare page (plain pandas, no Streamlit): the rows of side A and side B matched on the same
prompt and seed (and model and image index when two runs are compared), score deltas (B − A) per metric, their
summary, and the prompts only one side has."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.scoring.compare import SAME_JOB_FIELDS

MODEL_KEYS = ("prompt", "seed")  # two models: the same prompt and seed
RUN_KEYS = ("model_key", "prompt", "seed")  # two runs: the same job of the same model


@dataclass
class Pairs:
    pairs: pd.DataFrame  # one row per matched key: columns with suffix _a and _b, and d_<metric> = b - a
    only_a: pd.DataFrame  # rows of A with no partner in B
    only_b: pd.DataFrame
    keys: tuple[str, ...]


def _newest(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key: the newest (highest id); repeats and re-measurements of one job collapse."""
    return frame.sort_values("id", ascending=False).drop_duplicates(keys).sort_values(keys)


def pair_rows(a: pd.DataFrame, b: pd.DataFrame, keys: tuple[str, ...], metrics: tuple[str, ...] = ()) -> Pairs:
    """Match A's rows to B's on `keys` (plus `image_index` when both sides have it)."""
    for name, frame in (("a", a), ("b", b)):
        missing = [k for k in (*keys, "id") if k not in frame.columns]
        if missing:
            raise ValueError(f"{name}: columns {missing} are missing; pairing needs {', '.join((*keys, 'id'))}")
    on = list(keys) + (["image_index"] if "image_index" in a.columns and "image_index" in b.columns else [])
    a, b = _newest(a, on), _newest(b, on)
    merged = a.merge(b, on=on, how="outer", suffixes=("_a", "_b"), indicator=True)
    pairs = merged[merged["_merge"] == "both"].drop(columns="_merge")
    only_a = a.merge(b[on], on=on, how="left", indicator=True)
    only_b = b.merge(a[on], on=on, how="left", indicator=True)
    for metric in metrics:
        if f"{metric}_a" in pairs.columns and f"{metric}_b" in pairs.columns:
            pairs[f"d_{metric}"] = pairs[f"{metric}_b"] - pairs[f"{metric}_a"]
    return Pairs(pairs=pairs.reset_index(drop=True),
                 only_a=only_a[only_a["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True),
                 only_b=only_b[only_b["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True),
                 keys=tuple(on))


def same_job(row: pd.Series | dict) -> bool:
    """Whether a pair's two rows are the same job shape (same prompt, seed, width and height): the pixel and
    embedding comparison (core.scoring.compare) applies."""
    row = dict(row)
    for field in SAME_JOB_FIELDS:
        a, b = (row.get(field), row.get(field)) if field in row else (row.get(f"{field}_a"), row.get(f"{field}_b"))
        if a is None or b is None or pd.isna(a) or pd.isna(b) or a != b:
            return False
    return True


def delta_summary(pairs: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Per metric: pairs scored on both sides, mean A, mean B, mean delta (B − A), and how often B scored higher."""
    rows = []
    for metric in metrics:
        column = f"d_{metric}"
        if column not in pairs.columns:
            continue
        both = pairs.dropna(subset=[column])
        if both.empty:
            continue
        rows.append({"metric": metric, "pairs": len(both), "mean A": both[f"{metric}_a"].mean(),
                     "mean B": both[f"{metric}_b"].mean(), "mean Δ (B − A)": both[column].mean(),
                     "B higher": int((both[column] > 0).sum())})
    return pd.DataFrame(rows, columns=["metric", "pairs", "mean A", "mean B", "mean Δ (B − A)", "B higher"])
