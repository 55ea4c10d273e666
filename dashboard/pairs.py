"""Pairs for the Compare page (plain pandas, no Streamlit): the rows of side A and side B matched on the same
prompt and seed (and model and image index when two runs are compared), score deltas (B − A) per metric, their
summary, and the prompts only one side has; paired statistics with intervals and a test (core.paired), which pairs
share a job (PSNR/SSIM), and pairs sorted by disagreement."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.paired import interval_text, paired_stats
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
    for metric in (*metrics, *COSTS):
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


# ---- paired statistics (core.paired), shared jobs, sorting by disagreement -----------------------------------
# A pair shares a job when only the recipe, weights or dtype differ: then PSNR and SSIM mean "how much did that
# change the image". Between two models (or two step counts) they measure little, so they are not offered by default.
JOB_FIELDS = ("model_key", "prompt", "seed", "width", "height", "steps", "guidance")
# cost measures beside the quality ones: (column of each side, label); lower is better
COSTS = {"seconds": "seconds (steady)", "tflop": "TFLOP", "usd": "USD / image"}
TABLE_COLUMNS = ["measure", "pairs", "mean A", "mean B", "mean Δ (B − A)", "Δ 95% CI", "B better", "B better 95% CI",
                 "Wilcoxon p", "Δ low", "Δ high"]


def shares_job(row: pd.Series | dict) -> bool:
    """Whether a pair's two rows are one job (same model, prompt, seed, size, steps and guidance), so that they
    differ at most by recipe, weights or dtype: PSNR and SSIM are offered for it by default."""
    row = dict(row)
    for field in JOB_FIELDS:
        a, b = (row.get(field), row.get(field)) if field in row else (row.get(f"{field}_a"), row.get(f"{field}_b"))
        if a is None or b is None:
            return False
        if pd.isna(a) and pd.isna(b):  # guidance unset on both sides
            continue
        if pd.isna(a) or pd.isna(b) or a != b:
            return False
    return True


def paired_table(pairs: pd.DataFrame, metrics: tuple[str, ...], labels: dict[str, str] | None = None, *,
                 bootstrap: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per quality metric and per cost (COSTS) with pairs on both sides: core.paired.paired_stats of
    A against B. "B better": B's score higher, or B's cost lower, ties half."""
    labels = labels or {}
    rows = []
    for column, higher in [(m, True) for m in metrics] + [(c, False) for c in COSTS]:
        if f"{column}_a" not in pairs.columns or f"{column}_b" not in pairs.columns:
            continue
        found = paired_stats(pairs[f"{column}_a"], pairs[f"{column}_b"], higher_is_better=higher,
                             bootstrap=bootstrap, seed=seed)
        if not found["n"]:
            continue
        rows.append({"measure": labels.get(column, COSTS.get(column, column)), "pairs": found["n"],
                     "mean A": found["mean_a"], "mean B": found["mean_b"], "mean Δ (B − A)": found["mean_delta"],
                     "Δ 95% CI": interval_text(found["delta_low"], found["delta_high"]),
                     "B better": found["b_better"],
                     "B better 95% CI": interval_text(found["better_low"], found["better_high"], ".0%"),
                     "Wilcoxon p": found["p_value"], "Δ low": found["delta_low"], "Δ high": found["delta_high"]})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def compact_table(table: pd.DataFrame) -> pd.DataFrame:
    """paired_table for a narrow page: the measure with its pairs, the means, the delta and "B better" each with its
    interval in one text column, the Wilcoxon p."""
    def num(v, spec=".4g"):
        return "–" if pd.isna(v) else format(v, spec)

    short = [interval_text(lo, hi, ".2g") for lo, hi in zip(table["Δ low"], table["Δ high"])]

    return pd.DataFrame({
        "measure": [f"{m} · {n}" for m, n in zip(table["measure"], table["pairs"])],
        "A → B": [f"{num(a, '.3g')} → {num(b, '.3g')}" for a, b in zip(table["mean A"], table["mean B"])],
        "Δ [95% CI]": [f"{num(d, '+.3g')} {ci}" for d, ci in zip(table["mean Δ (B − A)"], short)],
        "p": table["Wilcoxon p"],
        "B better [CI]": [f"{num(w, '.0%')} {ci.replace('%', '')}" for w, ci in zip(table["B better"],
                                                                                  table["B better 95% CI"])]})


def sort_pairs(pairs: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Pairs by |`by`| (a delta column such as d_clip), largest disagreement first, unscored pairs last; as
    paired (prompt order) when `by` is None."""
    if by is None or by not in pairs.columns:
        return pairs
    order = pairs[by].abs().sort_values(ascending=False, na_position="last").index
    return pairs.loc[order].reset_index(drop=True)
