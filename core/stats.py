"""Statistics of generation rows per configuration: one module for the CLI summary, Charts, export and Compare.

Rows are grouped by model × configuration (`core.jobs.Configuration`: weights, task, size, steps, guidance, scheduler,
dtype, recipe, batch size, images per call, API options, input images): two configurations never pool and never
share a label. Steady state leaves out `first_call` rows (the first call after a load, warm-up and compile included),
which are kept apart as `first_n` / `first_s`. A speedup is eager's p50 over the recipe's p50 for the same
configuration in the same run; where that run has no eager row of the configuration there is no speedup, and
`no_speedup_reason` says why. "Other" (time outside the measured stages) is computed per row, then its median taken.

Every function takes a DataFrame with the store's column names; missing configuration columns count as "not recorded".
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from core.jobs import EAGER, Configuration, inputs_text, labels, options_text

# Row columns that make a configuration (Configuration.of_row reads them), and what the statistics read besides.
CONFIG_COLUMNS = ("model_key", "weights", "task", "width", "height", "steps", "guidance", "scheduler", "dtype",
                  "recipe", "batch_size", "images_per_call", "extra", "input_images")
STAT_COLUMNS = ("run_id", "status", "first_call", "total_s", "repeat", "prompt", "seed", "flops_total", "peak_mem_gb",
                "cost_usd", "image_index")
STAGES = ("text_encode_s", "prior_s", "denoise_s", "decoder_s", "decode_s")
SUMMARY_COLUMNS = ["model_key", "config", "n", "p50_s", "p90_s", "mean_s", "min_s", "max_s", "first_n", "first_s",
                   "failed", "images_per_s", "tflop", "peak_mem_gb"]


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


# ---- configurations ------------------------------------------------------------------------------
def with_config(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with `config` (a label, unique per model among the frame's configurations), `config_key` (every axis)
    and `base_key` (every axis but the recipe: what a speedup compares across). A frame that has them already (the
    Charts page computes them once per read) is returned as it is; `fresh()` drops them after an axis is changed."""
    if set(CONFIG_ADDED) <= set(frame.columns):
        if frame["config_key"].notna().all():
            return frame
        frame = fresh(frame)  # rows joined from elsewhere (pre-aggregated prices): label them all again
    out = frame.copy()
    if out.empty:
        return out.assign(config=pd.Series(dtype=object), config_key=pd.Series(dtype=object),
                          base_key=pd.Series(dtype=object))
    axes = pd.DataFrame(index=out.index)
    for column in CONFIG_COLUMNS:
        if column not in out.columns:
            continue
        values = out[column]
        if column in ("extra", "input_images"):
            values = _each_distinct(values, options_text if column == "extra" else inputs_text)
        axes[column] = values.astype(object).where(values.notna(), None)
    codes = axes.groupby(list(axes.columns), sort=False, dropna=False).ngroup().to_numpy()
    firsts = axes.groupby(codes, sort=False).head(1)
    configs = [Configuration.of_row(row) for row in firsts.to_dict("records")]  # in code order (sort=False)
    names = labels(configs)
    out["config"] = np.array([names[c] for c in configs], dtype=object)[codes]
    out["config_key"] = np.array([c.key() for c in configs], dtype=object)[codes]
    out["base_key"] = np.array([c.without("recipe").key() for c in configs], dtype=object)[codes]
    return out


CONFIG_ADDED = ("config", "config_key", "base_key")


def fresh(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the configuration columns `with_config` adds (after an axis column was changed)."""
    return frame.drop(columns=[c for c in CONFIG_ADDED if c in frame.columns])


def _each_distinct(values: pd.Series, fn) -> pd.Series:
    """`fn` of each value, computed once per distinct value where the values are hashable (the store's JSON text)."""
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    except TypeError:  # decoded JSON (dicts, lists): not hashable
        return values.map(fn)
    return pd.Series(np.array([fn(u) for u in uniques], dtype=object)[codes], index=values.index)


def ok(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame(columns=list(frame.columns) if frame is not None else ["total_s"])
    return frame[frame["status"] == "ok"] if "status" in frame.columns else frame


def steady(frame: pd.DataFrame | None) -> pd.DataFrame:
    """ok rows with a time, first calls after load left out."""
    out = ok(frame)
    if out.empty or "total_s" not in out.columns:
        return out.iloc[0:0]
    if "first_call" in out.columns:
        out = out[~out["first_call"].fillna(False).astype(bool)]
    return out.dropna(subset=["total_s"])


def first_calls(frame: pd.DataFrame | None) -> pd.DataFrame:
    out = ok(frame)
    if out.empty or "first_call" not in out.columns or "total_s" not in out.columns:
        return out.iloc[0:0]
    return out[out["first_call"].fillna(False).astype(bool)].dropna(subset=["total_s"])


def has_repeats(frame: pd.DataFrame) -> bool:
    """Whether any row is a repeat beyond a job's first timing (`repeat` > 0)."""
    return "repeat" in frame.columns and bool((pd.to_numeric(frame["repeat"], errors="coerce") > 0).any())


def other_s(frame: pd.DataFrame) -> pd.Series:
    """Per row: total minus its measured stages (Stable Cascade's denoise_s is prior + decoder, counted once); NaN for a
    row with no stage timing (API models)."""
    stages = [c for c in STAGES if c in frame.columns]
    if not stages or "total_s" not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    parts = frame[stages].astype(float)
    if {"prior_s", "decoder_s"} <= set(stages) and "denoise_s" in stages:
        split = parts[["prior_s", "decoder_s"]].notna().any(axis=1)
        parts.loc[split, "denoise_s"] = np.nan
    measured = parts.notna().any(axis=1)
    other = (frame["total_s"].astype(float) - parts.fillna(0).sum(axis=1)).clip(lower=0)
    return other.where(measured)


# ---- per configuration ---------------------------------------------------------------------------
def config_table(frame: pd.DataFrame | None, value: str = "total_s") -> pd.DataFrame:
    """One row per model × configuration: `n`, `p50_s`, `p90_s`, `mean_s`, `min_s`, `max_s` of `value` over steady
    calls; `first_n` and `first_s` (median) of first calls; `failed` rows; `images_per_s` (images per call over p50);
    `tflop` (mean FLOPs per image, 1e12); `peak_mem_gb` (max); `usd_list` / `usd_estimate` (mean per image) where the
    frame has `cost_usd` / `cost_est_usd`; with repeats, `repeats` and `repeat_spread_s` (median over jobs of max − min
    across a job's repeats). Axis columns (weights, recipe ...) are kept for filtering."""
    if frame is None or frame.empty or "model_key" not in frame.columns:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    data = with_config(frame)
    keys = ["model_key", "config"]
    groups = data.groupby(keys, sort=False, dropna=False)
    out = groups.size().rename("rows").reset_index()[keys]
    axis_columns = [c for c in ("weights", "task", "width", "height", "steps", "guidance", "dtype", "recipe",
                                "batch_size", "images_per_call") if c in data.columns]
    if axis_columns:
        out = out.merge(groups[axis_columns].first().reset_index(), on=keys, how="left")
    out = out.merge(groups["config_key"].first().reset_index(), on=keys, how="left")
    runs = steady(data).dropna(subset=[value]) if value in data.columns else data.iloc[0:0]
    if not runs.empty:
        g = runs.groupby(keys, sort=False)[value]
        numbers = g.agg(n="size", p50_s="median", mean_s="mean", min_s="min", max_s="max")
        numbers["p90_s"] = g.quantile(0.9)
        out = out.merge(numbers.reset_index(), on=keys, how="left")
    first = first_calls(data)
    if not first.empty:
        out = out.merge(first.groupby(keys, sort=False)["total_s"].agg(first_n="size", first_s="median").reset_index(),
                        on=keys, how="left")
    if "status" in data.columns:
        failed = data[data["status"] != "ok"].groupby(keys, sort=False).size().rename("failed").reset_index()
        out = out.merge(failed, on=keys, how="left")
    good = ok(data)
    if "flops_total" in good.columns and good["flops_total"].notna().any():
        out = out.merge((good.groupby(keys, sort=False)["flops_total"].mean() / 1e12).rename("tflop").reset_index(),
                        on=keys, how="left")
    if "peak_mem_gb" in good.columns and good["peak_mem_gb"].notna().any():
        out = out.merge(good.groupby(keys, sort=False)["peak_mem_gb"].max().reset_index(), on=keys, how="left")
    for column, name in (("cost_usd", "usd_list"), ("cost_est_usd", "usd_estimate")):
        priced = steady(data) if column == "cost_est_usd" else good
        if column in priced.columns and priced[column].notna().any():
            out = out.merge(priced.groupby(keys, sort=False)[column].mean().rename(name).reset_index(), on=keys,
                            how="left")
    if has_repeats(runs):
        job = [c for c in ("prompt", "seed") if c in runs.columns]
        per_job = runs.groupby(keys + job, dropna=False).agg(
            spread=(value, lambda v: v.max() - v.min()), reps=("repeat", "nunique")).reset_index()
        extra = per_job.groupby(keys, dropna=False).agg(repeats=("reps", "max"),
                                                        repeat_spread_s=("spread", "median")).reset_index()
        out = out.merge(extra, on=keys, how="left")
    for column in SUMMARY_COLUMNS:
        if column not in out.columns:
            out[column] = np.nan
    for column in ("n", "first_n", "failed"):
        out[column] = out[column].fillna(0).astype(int)
    per_call = out["images_per_call"].fillna(1).astype(float) if "images_per_call" in out.columns else 1.0
    out["images_per_s"] = per_call / out["p50_s"].astype(float)
    ordered = SUMMARY_COLUMNS + [c for c in out.columns if c not in SUMMARY_COLUMNS]
    return out[ordered].sort_values(["model_key", "p50_s"], na_position="last").reset_index(drop=True)


def medians(frame: pd.DataFrame, columns: Sequence[str], *, steady_only: bool = True) -> pd.DataFrame:
    """Median (and `n`) of each column per model × configuration, with `config`; steady rows only by default.
    `other_s` is computed per row first (see `other_s`)."""
    data = with_config(steady(frame) if steady_only else ok(frame))
    if data.empty:
        return pd.DataFrame(columns=["model_key", "config", "n", *columns])
    if "other_s" in columns:
        data = data.assign(other_s=other_s(data))
    g = data.groupby(["model_key", "config"], sort=False)
    out = g[list(columns)].median()
    out.insert(0, "n", g.size())
    return out.reset_index()


def aggregate(frame: pd.DataFrame, agg: dict, *, p90: str | None = None) -> pd.DataFrame:
    """Named aggregations per model × configuration of an already filtered frame (and `p90` of a column), with `config`."""
    data = with_config(frame)
    if data.empty:
        return pd.DataFrame(columns=["model_key", "config", *agg, *(["p90"] if p90 else [])])
    g = data.groupby(["model_key", "config"], sort=False)
    out = g.agg(**agg)
    if p90:
        out["p90"] = g[p90].quantile(0.9)
    return out.reset_index()


# ---- speedups ------------------------------------------------------------------------------------
SPEEDUP_COLUMNS = ["run_id", "model_key", "config", "recipe", "p50_s", "eager_p50_s", "speedup", "psnr_db", "ssim",
                   "compile_s", "n", "eager_n", "no_speedup_reason"]


def speedups(frame: pd.DataFrame | None) -> pd.DataFrame:
    """One row per run × model × configuration × recipe other than eager: its p50 and eager's p50 for the same
    configuration in the same run, `speedup` (eager over recipe), median `psnr_db` / `ssim` / `compile_s` of its rows;
    where the run has no steady eager row of that configuration, `speedup` is NaN and `no_speedup_reason` says so.
    `config` is the label of the configuration without its recipe."""
    if frame is None or frame.empty or "recipe" not in frame.columns:
        return pd.DataFrame(columns=SPEEDUP_COLUMNS)
    data = steady(frame)
    if data.empty:
        return pd.DataFrame(columns=SPEEDUP_COLUMNS)
    data = data.assign(recipe=data["recipe"].fillna(EAGER))
    if "run_id" not in data.columns:
        data = data.assign(run_id=-1)
    for column in ("psnr_db", "ssim", "compile_s"):
        if column not in data.columns:
            data[column] = np.nan
    base = with_config(fresh(data).assign(recipe=EAGER))  # the label and key of each row's configuration without its recipe
    data = data.assign(config=base["config"].to_numpy(), base_key=base["config_key"].to_numpy())
    keys = ["run_id", "model_key", "base_key", "config", "recipe"]
    g = data.groupby(keys, sort=False)
    stats = g.agg(p50_s=("total_s", "median"), n=("total_s", "size"), ssim=("ssim", "median"),
                  compile_s=("compile_s", "median")).reset_index()
    stats["psnr_db"] = g["psnr_db"].median().to_numpy()  # inf (identical images) survives a median
    eager = stats[stats["recipe"] == EAGER][["run_id", "base_key", "p50_s", "n"]].rename(
        columns={"p50_s": "eager_p50_s", "n": "eager_n"})
    out = stats[stats["recipe"] != EAGER].merge(eager, on=["run_id", "base_key"], how="left")
    if out.empty:
        return pd.DataFrame(columns=SPEEDUP_COLUMNS)
    out["speedup"] = out["eager_p50_s"] / out["p50_s"]
    out["eager_n"] = out["eager_n"].fillna(0).astype(int)
    out["no_speedup_reason"] = [None if pd.notna(s) else f"run {int(r)} has no steady eager row of this configuration"
                                for s, r in zip(out["speedup"], out["run_id"])]
    return out[SPEEDUP_COLUMNS].sort_values(["model_key", "config", "run_id", "recipe"]).reset_index(drop=True)


def subset_note(name: str, kept: int, total: int) -> str:
    """What a chart that shows a subset says: which subset, and its n against all rows."""
    return f"{name} only: n={kept:,} of {total:,} rows"
