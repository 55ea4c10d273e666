"""What the Compare page reads: each side's ok rows with their scores, and the image-against-image comparison
of one pair (core.scoring.compare), cached."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core import pricing, stats, store
from core.scoring.compare import compare
from core.scoring.scorers import METRICS
from dashboard import data, scores

SIDE_COLUMNS = tuple(dict.fromkeys(("id", "run_id", "prompt", "seed", "image_index", "image_path", "status", "first_call",
                                    "total_s", "flops_total", "cost_usd") + stats.CONFIG_COLUMNS))


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def models_with_images(url: str, weights: str | None) -> list[str]:
    with store.session_scope(scores._engine(url), read_only=True) as s:  # noqa: SLF001
        rows = store.generation_tuples(session=s, columns=("model_key",), weights=weights, status="ok")
    return sorted({r[0] for r in rows})


@st.cache_data(ttl=data.QUERY_TTL_S, show_spinner=False)
def side_rows(url: str, *, weights: str | None = None, models: tuple[str, ...] = (),
              run_ids: tuple[int, ...] = ()) -> pd.DataFrame:
    """Ok rows of one side, with one column per metric (pretrained score preferred) and `<metric>_weights`, and
    the costs pairs.COSTS compares (`seconds`, `tflop`, `usd`)."""
    with store.session_scope(scores._engine(url), read_only=True) as s:  # noqa: SLF001
        rows = store.generation_columns(session=s, columns=SIDE_COLUMNS, weights=weights, status="ok",
                                        model_keys=list(models) or None, run_ids=list(run_ids) or None)
        gpus = store.run_gpu_names(session=s, run_ids=sorted({r["run_id"] for r in rows}))
    frame = with_costs(stats.with_config(pd.DataFrame(rows, columns=list(SIDE_COLUMNS))), gpus)
    found = scores.scores_for(url, tuple(int(i) for i in frame["id"]))
    for metric in METRICS:
        got = [found.get(int(i), {}).get(metric) for i in frame["id"]]
        frame[metric] = pd.to_numeric(pd.Series([g["value"] if g else None for g in got], dtype=object),
                                      errors="coerce").astype(float).to_numpy()
        frame[f"{metric}_weights"] = [g["weights"] if g else None for g in got]
    return frame


def with_costs(frame: pd.DataFrame, gpus: dict[int, str | None]) -> pd.DataFrame:
    """`seconds` (steady state: a first call after a load, which includes warm-up, is no per-call cost), `tflop`
    and `usd` (list price, or the open models' GPU-time estimate) on each row."""
    frame = frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce").astype(float)
                            for c in ("total_s", "flops_total", "cost_usd")})
    frame = pricing.with_cost_estimate(frame, gpus, data.settings().gpu_hour_usd)
    first = frame["first_call"].fillna(False).astype(bool)
    return frame.assign(seconds=frame["total_s"].where(~first), tflop=frame["flops_total"] / 1e12,
                        usd=frame["cost_usd"].fillna(frame["cost_est_usd"]))


@st.cache_data(ttl=300, show_spinner=False)
def image_comparison(id_a: int, id_b: int, clip_weights: str | None = None) -> dict[str, Any]:
    """PSNR, SSIM and (with `clip_weights`) CLIP image cosine of two stored rows of the same job shape."""
    with store.session_scope(data.db(), read_only=True) as s:
        rows = [store.get_generation(session=s, generation_id=i) for i in (id_a, id_b)]
    found = []
    for gid, row in zip((id_a, id_b), rows):
        if row is None:
            raise ValueError(f"generation {gid} is not in the store")
        path = data.image_file(row.image_path)
        if path is None:
            raise ValueError(f"generation {gid}: image {row.image_path} is missing or outside the output folder")
        found.append({**row.model_dump(), "image_path": path})
    clip = scores.dev_scorers("clip", clip_weights).scorer("clip") if clip_weights else None
    result = compare(found[0], found[1], clip=clip)
    psnr = None if result.psnr_db == float("inf") else result.psnr_db
    return {"psnr_db": psnr, "ssim": result.ssim, "clip_cosine": result.clip_cosine}


def configurations(frame: pd.DataFrame) -> list[str]:
    """A side's configurations (core.stats labels), the one with most images first."""
    if frame.empty:
        return []
    counts = frame["config"].value_counts()
    # most images first; on a tie the shorter label (eager, batch 1 ...: fewer axes away from the defaults)
    return sorted(counts.index, key=lambda c: (-counts[c], len(c), c))


def side_table(frame: pd.DataFrame) -> pd.DataFrame:
    """n, p50 and p90 seconds per model × configuration of a side: core.stats.config_table, as every view."""
    table = stats.config_table(frame)
    return table[["model_key", "config", "n", "p50_s", "p90_s", "first_n", "first_s"]]
