"""Compare: two models, or two runs, over the same prompts (and seeds), side by side, with paired statistics per
metric and per cost (B − A: mean delta and how often B is better, bootstrap 95 % intervals, Wilcoxon signed-rank
test; core.paired), pairs sortable by disagreement, and PSNR, SSIM and CLIP image cosine where the two rows are
one job differing only by recipe, weights or dtype (core.scoring.compare)."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.scoring.scorers import METRICS
from dashboard import compare_data, data, pairs, scores

st.title("Compare")
st.caption("Two models, or two runs, over the same prompts and seeds, image beside image. Deltas are B − A.")
url = data.db_url()
PAIRS_PER_PAGE = 8


def _run_label(runs: pd.DataFrame, run_id: int) -> str:
    row = runs.loc[runs["id"] == run_id]
    if row.empty:
        return f"run {run_id}"
    r = row.iloc[0]
    name = r["name"] if isinstance(r["name"], str) and r["name"] else r["kind"]
    return f"run {run_id} · {name}"


def _choose():
    """The two sides: (label A, rows A, label B, rows B, pairing keys), or None when there is nothing to choose."""
    mode = st.radio("Compare", ["two models", "two runs"], horizontal=True, key="cmp_mode")
    runs = data.run_labels(url)
    with st.container(border=True):
        if mode == "two models":
            stored = data.weights_in_store(url, status="ok")
            c_w, c_a, c_b, c_runs = st.columns([0.9, 1.6, 1.6, 1.8], vertical_alignment="bottom")
            weights = c_w.selectbox("Weights", stored, key="cmp_weights")
            models = compare_data.models_with_images(url, weights)
            if len(models) < 2:
                st.info(f"Fewer than two models have {weights} images; nothing to compare.")
                return None
            model_a = c_a.selectbox("Model A", models, index=0, key="cmp_model_a")
            model_b = c_b.selectbox("Model B", models, index=1, key="cmp_model_b")
            run_ids = c_runs.multiselect("Runs", [int(i) for i in runs["id"]], key="cmp_runs", placeholder="all runs",
                                         format_func=lambda r: _run_label(runs, r))
            a = compare_data.side_rows(url, weights=weights, models=(model_a,), run_ids=tuple(run_ids))
            b = compare_data.side_rows(url, weights=weights, models=(model_b,), run_ids=tuple(run_ids))
            return model_a, a, model_b, b, pairs.MODEL_KEYS
        ids = [int(i) for i in runs["id"]]
        if len(ids) < 2:
            st.info("Fewer than two runs stored; nothing to compare.")
            return None
        c_a, c_b, c_m = st.columns([2, 2, 1.6], vertical_alignment="bottom")
        run_a = c_a.selectbox("Run A", ids, index=1, key="cmp_run_a", format_func=lambda r: _run_label(runs, r))
        run_b = c_b.selectbox("Run B", ids, index=0, key="cmp_run_b", format_func=lambda r: _run_label(runs, r))
        models = c_m.multiselect("Models", data.model_keys(url), key="cmp_run_models", placeholder="every model")
        a = compare_data.side_rows(url, run_ids=(run_a,), models=tuple(models))
        b = compare_data.side_rows(url, run_ids=(run_b,), models=tuple(models))
        return f"run {run_a}", a, f"run {run_b}", b, pairs.RUN_KEYS


def _fmt(value, spec: str = ".2f", signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, ("+" if signed else "") + spec)


def _side(where, row: pd.Series, side: str, label: str) -> str:
    """The image in `where`; returns its line: label, model (two runs), id, size, steps, scores."""
    image = data.image_file(row.get(f"image_path_{side}"))
    if image:
        where.image(image, width="stretch")
    else:
        where.warning("image missing or outside the output folder")
    line = scores.score_line({m: {"value": row[f"{m}_{side}"], "weights": row.get(f"{m}_weights_{side}")}
                              for m in METRICS if pd.notna(row.get(f"{m}_{side}"))})
    model = f" · {row['model_key']}" if "model_key" in row.index else ""  # two runs: the pair's model
    size = f"{int(row[f'width_{side}'])}×{int(row[f'height_{side}'])}" if pd.notna(row.get(f"width_{side}")) else ""
    return (f"**{side.upper()} · {label}**{model} · #{int(row[f'id_{side}'])} · {size} · "
            f"{int(row[f'steps_{side}'])} steps  \n{line or 'not scored'}")


def _pair(row: pd.Series, label_a: str, label_b: str, with_pixels: bool, any_job: bool,
          clip_weights: str | None) -> None:
    with st.container(border=True):
        st.markdown(f"**{row['prompt']}** · seed {int(row['seed'])}")
        left, right, text = st.columns([1, 1, 1.1])
        lines = [_side(left, row, "a", label_a), _side(right, row, "b", label_b)]
        parts = [f"Δ {scores.SHORT[m]} {_fmt(row.get(f'd_{m}'), signed=True)}" for m in METRICS
                 if pd.notna(row.get(f"d_{m}"))]
        costs = [f"Δ {name} {_fmt(row.get(f'd_{c}'), spec, signed=True)}"
                 for c, name, spec in (("seconds", "s", ".3f"), ("tflop", "TFLOP", ".3g"), ("usd", "USD", ".4f"))
                 if pd.notna(row.get(f"d_{c}"))]
        shared = pairs.shares_job(row)
        if (shared or (any_job and pairs.same_job(row))) and (with_pixels or clip_weights):
            try:
                found = compare_data.image_comparison(int(row["id_a"]), int(row["id_b"]), clip_weights)
            except Exception as exc:  # noqa: BLE001 - a file gone, a scorer missing: said on the pair
                parts.append(f"not compared: {exc}")
            else:
                psnr = "identical" if found["psnr_db"] is None else f"{found['psnr_db']:.1f} dB"
                if with_pixels:
                    parts += [f"PSNR {psnr}", f"SSIM {found['ssim']:.3f}"]
                if found.get("clip_cosine") is not None:
                    parts.append(f"CLIP image cosine {found['clip_cosine']:.3f}"
                                 + (" (tiny scorer)" if clip_weights == "tiny" else ""))
                if not shared:
                    parts.append("different jobs: read PSNR/SSIM with care")
        elif not shared:
            parts.append("not one job (model, size, steps or guidance differ): no PSNR/SSIM")
        text.markdown("\n\n".join(lines))
        text.caption(" · ".join(parts + costs) or "no scores on both sides")


def _one_configuration(rows: pd.DataFrame, side: str, where) -> pd.DataFrame:
    """A model that ran several configurations (core.jobs.Configuration) on this side pairs one of them: the user
    picks which (the one with most images first); a model with one configuration needs no choice."""
    if rows.empty:
        return rows
    keep = []
    for model, own in rows.groupby("model_key", sort=True):
        configs = compare_data.configurations(own)
        if len(configs) > 1:
            counts = own["config"].value_counts()
            chosen = where.selectbox(f"{model} on {side}", configs, key=f"cmp_config_{side.lower()}_{model}",
                                     format_func=lambda c, counts=counts: f"{c} ({counts[c]} images)",
                                     help="pairs never mix configurations (size, steps, guidance, recipe, weights ...)")
            own = own[own["config"] == chosen]
        keep.append(own)
    return pd.concat(keep)


chosen = _choose()
if chosen is not None:
    label_a, rows_a, label_b, rows_b, keys = chosen
    c_cfg_a, c_cfg_b = st.columns(2)
    rows_a = _one_configuration(rows_a, "A", c_cfg_a)
    rows_b = _one_configuration(rows_b, "B", c_cfg_b)
    timing = pd.concat([compare_data.side_table(rows_a).assign(side="A"),
                        compare_data.side_table(rows_b).assign(side="B")], ignore_index=True)
    if not timing.empty:
        st.dataframe(timing[["side", "model_key", "config", "n", "p50_s", "p90_s", "first_n", "first_s"]],
                     hide_index=True, width="stretch",
                     column_config={"config": "configuration", "p50_s": "p50 s", "p90_s": "p90 s",
                                    "first_n": "first calls", "first_s": "first call s (median)"})
    if label_a == label_b:
        st.warning("A and B are the same; choose two different ones.")
    found = pairs.pair_rows(rows_a, rows_b, keys, METRICS)
    matched = found.pairs
    st.markdown(f"**{len(matched)}** pair(s) · **{len(found.only_a)}** only in A ({label_a}) · "
                f"**{len(found.only_b)}** only in B ({label_b}); matched on "
                f"{', '.join(k.replace('_', ' ') for k in found.keys)}")
    for side, rows in (("A", rows_a), ("B", rows_b)):
        repeated = int(rows.duplicated(list(found.keys)).sum()) if not rows.empty else 0
        if repeated:
            st.caption(f"{side} has {repeated} more image(s) of the same {' and '.join(found.keys[:-1])} (another "
                       f"run or a repeat): the newest of each is paired.")
    table = pairs.paired_table(matched, METRICS, scores.METRIC_LABELS)
    if not table.empty:
        tiny = any(matched.get(f"{m}_weights_{s}", pd.Series(dtype=object)).eq("tiny").any()
                   for m in METRICS for s in "ab")
        st.markdown("**Paired statistics** (B − A over the pairs)" + (" · tiny scorer (noise scores)" if tiny else ""))
        st.dataframe(pairs.compact_table(table), hide_index=True, width="stretch",
                     column_config={"measure": "measure · pairs",
                                    "p": st.column_config.NumberColumn("Wilcoxon p", format="%.2g", width="small")})
        st.caption("Intervals: percentile bootstrap over pairs (2,000 resamples), 95 %. B better: B scored higher, or "
                   "cost less; a tie counts half. Wilcoxon p: Wilcoxon signed-rank test of the deltas (two-sided; zero "
                   "deltas dropped). Seconds leave out first calls after a load; USD: list price, or the open "
                   "models' GPU-time estimate.")
    elif not matched.empty:
        st.caption("No pair is scored on both sides: score them (`python -m core.bench score --all`).")
    for side, rest, label in (("A", found.only_a, label_a), ("B", found.only_b, label_b)):
        if not rest.empty:
            with st.expander(f"Only in {side} ({label}): {len(rest)} image(s) without a partner"):
                st.dataframe(rest[[c for c in ("model_key", "prompt", "seed", "id") if c in rest.columns]],
                             hide_index=True, width="stretch")
    if matched.empty:
        st.info("No prompt and seed appears on both sides.")
    else:
        shared = int(sum(pairs.shares_job(r) for _, r in matched.iterrows()))
        c_sort, c_clip, c_page = st.columns([1.8, 1.3, 0.9], vertical_alignment="bottom")
        c_pix, c_any = st.columns(2)
        sorts = {None: "as paired (prompt)"}
        sorts.update({f"d_{m}": f"largest |Δ {scores.SHORT[m]}| first" for m in METRICS
                      if matched.get(f"d_{m}", pd.Series(dtype=float)).notna().any()})
        sorts.update({f"d_{c}": f"largest |Δ {name}| first" for c, name in (("seconds", "seconds"), ("usd", "USD"))
                      if matched.get(f"d_{c}", pd.Series(dtype=float)).notna().any()})
        order = c_sort.selectbox("Order pairs", list(sorts), format_func=sorts.get, key="cmp_sort",
                                 help="by disagreement: the pairs whose scores (or costs) differ most first")
        any_job = c_any.toggle("Also across jobs", value=False, key="cmp_pixels_any",
                               help="PSNR/SSIM between different models or settings of the same prompt, seed and "
                                    "size: they measure little there, so this is off by default")
        with_pixels = c_pix.toggle("PSNR and SSIM", value=True, key="cmp_pixels", disabled=not (shared or any_job),
                                   help=f"{shared} pair(s) are one job (same model, prompt, seed, size, steps and "
                                        "guidance; recipe, weights or dtype differ): pixels compared there")
        clip = c_clip.selectbox("CLIP image cosine", ["off", "tiny", "pretrained"], key="cmp_clip",
                                help="loads the CLIP scorer (tiny: built in code, noise)")
        pages = max(1, math.ceil(len(matched) / PAIRS_PER_PAGE))
        page = c_page.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="cmp_page")
        st.caption(f"{shared} of {len(matched)} pair(s) are one job: PSNR/SSIM there"
                   + ("" if shared else "; none here (two models, or other steps or guidance)"))
        start = (int(page) - 1) * PAIRS_PER_PAGE
        for _, row in pairs.sort_pairs(matched, order).iloc[start:start + PAIRS_PER_PAGE].iterrows():
            _pair(row, label_a, label_b, with_pixels and (shared > 0 or any_job), any_job,
                  None if clip == "off" else clip)
