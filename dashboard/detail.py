"""One generation's full record for the pages: image, prompt, parameters, times, compute, cost, the profile and
the run's environment as readable tables, and errors as one clear line with the full text behind an expander.

`show_error(where, text_or_exception)` is what every page uses to show an error."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.errors import CaseStudyError, RequestError
from core.explain import explain_error
from core.runner import PlanError
from core.sweep import reproduce_command
from dashboard import data, formatting, scores, tables


def show_error(where, error: BaseException | str | None) -> None:
    """One clear line (core.explain); the full text or trace behind an expander."""
    line, detail = explain_error(error)
    where.error(line)
    if detail and detail.strip() != line:
        with where.expander("Full error text"):
            st.code(detail, language=None)


def sources_of(input_images) -> list[dict]:
    """An edit's kept sources ([{path, sha256, ...}]) from a row's value (a list, JSON text, or nothing)."""
    if isinstance(input_images, str):
        try:
            input_images = json.loads(input_images)
        except ValueError:
            return []
    return [s for s in input_images or [] if isinstance(s, dict) and s.get("path")]


def source_thumbnail(input_images) -> str | None:
    """The first source of an edit, when its kept copy is readable here."""
    sources = sources_of(input_images)
    return data.image_file(sources[0]["path"]) if sources else None


def _edit_this(generation_id: int) -> None:
    st.session_state["edit_from_generation"] = generation_id
    st.session_state["edit_source_kind"] = "From History"
    st.session_state["edit_history_id"] = generation_id


def show_refusal(where, exc: CaseStudyError) -> None:
    """A request refused before anything ran: every bad field of every model (PlanError), or the one reason."""
    if isinstance(exc, PlanError):
        where.error("Nothing was run; fix these first:\n\n" + "\n".join(
            f"- **{key}** · " + (f"`{e.field}` = {e.value!r}: {e.allowed}" if isinstance(e, RequestError) else str(e))
            for key, errs in exc.errors.items() for e in errs))
    else:
        where.error(f"Nothing was run: {exc}")


def show_generation(url: str, generation_id: int) -> None:
    found = data.generation_detail(url, generation_id)
    if found is None:
        st.warning(f"Generation {generation_id} is not in the store (deleted?).")
        return
    g, run = found["generation"], found["run"] or {}
    st.subheader(f"Generation {g['id']} · {g['model_key']} · {g['status']}")
    left, right = st.columns([2, 3])
    with left:
        image = data.image_file(g.get("image_path"))
        if image:
            st.image(image, width="stretch")
        elif g.get("image_path"):
            st.warning(f"Image not shown: {g['image_path']} is missing or outside the output folder.")
        else:
            st.caption("No image.")
        sources = sources_of(g.get("input_images"))
        if sources:  # an edit: the source(s) it was made from, kept beside the output
            cols = st.columns(min(3, len(sources)))
            for i, source in enumerate(sources):
                found = data.image_file(source["path"])
                label = f"source {i + 1} · {source.get('sha256', '')[:12]}"
                cols[i % len(cols)].image(found, caption=label, width="stretch") if found else \
                    cols[i % len(cols)].caption(f"{label}: file missing")
        if image and st.button("Edit this", key=f"edit_this_{g['id']}", icon=":material/auto_fix_high:",
                               help="open the Edit page with this image as the source", on_click=_edit_this,
                               args=(g["id"],)):
            st.switch_page("views/edit.py")
        if g.get("error"):
            show_error(st, g["error"] + (f"\n\n{g['error_detail']}" if g.get("error_detail") else ""))
    with right:
        st.markdown(f"**Prompt:** {g['prompt']}")
        if g.get("negative_prompt"):
            st.markdown(f"**Negative prompt:** {g['negative_prompt']}")
        params = {
            "model": g["model_key"], "provider": g.get("provider") or "(open model)", "weights": g["weights"],
            "seed": g["seed"], "steps": g["steps"], "guidance": g["guidance"],
            "size": f"{g['width']}×{g['height']}" if g.get("width") else None, "image index": g["image_index"],
            "device": g["device"], "created (UTC)": str(g["created_at"])[:19].replace("T", " "), "run": g["run_id"],
            "job key": g["job_key"], "category": g.get("category"), "task": g.get("task"),
            "speed recipe": g.get("recipe") or "eager", "batch size": g.get("batch_size"),
            "images per call": g.get("images_per_call"), "repeat": g.get("repeat"),
        }
        params.update({f"extra · {k}": v for k, v in tables.flatten(g.get("extra")).items()})
        first = " (first call)" if g.get("first_call") else ""  # the compute table says it includes warm-up
        timing = {
            "load": g["load_s"], f"whole call{first}": g["total_s"], "compile (first − steady)": g.get("compile_s"), "text encoding": g["text_encode_s"],
            "denoising": g["denoise_s"], "VAE decode": g["decode_s"], "prior (Cascade)": g["prior_s"],
            "decoder (Cascade)": g["decoder_s"],
        }
        flop = lambda v: None if v is None else formatting.fmt_flops(v)  # noqa: E731
        compute = {
            "peak GPU memory": None if g["peak_mem_gb"] is None else f"{g['peak_mem_gb']:.2f} GB",
            "parameters": None if g["params_total"] is None else f"{g['params_total']:,}",
            "FLOPs text encoding": flop(g["flops_text_encode"]), "FLOPs denoising": flop(g["flops_denoise"]),
            "FLOPs decode": flop(g["flops_decode"]), "FLOPs total": flop(g["flops_total"]),
            "MACs total": None if g["macs_total"] is None else formatting.fmt_flops(g["macs_total"]).replace("FLOP", "MAC"),
            "achieved": None if g["tflops_per_s"] is None else f"{g['tflops_per_s']:.3g} TFLOP/s",
            "MFU": None if g["mfu"] is None else f"{g['mfu'] * 100:.1f} %",
            "first call after load": "yes (includes warm-up)" if g["first_call"] else "no",
        }
        st.markdown("**Parameters**")
        table(st, tables.key_values(params))
        st.markdown("**Reproduce it** (the same job; add `--force` to measure it again as a new row)")
        st.code(reproduce_command(g), language="bash")
        table(st, tables.key_values({
            "dtype": g.get("dtype"), "scheduler": g.get("scheduler"), "weights revision": g.get("weights_revision"),
            "attention backend": g.get("attention_backend"), "code revision": run.get("git_revision"),
            "uncommitted changes": {True: "yes", False: "no"}.get(run.get("git_dirty"))}))
        if g.get("scheduler_config"):
            with st.expander("Scheduler config"):
                table(st, tables.key_values(tables.flatten(g["scheduler_config"])))
    # Two tables side by side, cost below: at 1024 px three columns cut the compute values ("217,7…").
    c1, c2 = st.columns([2, 3])
    with c1:
        st.markdown("**Time**")
        table(st, tables.key_values({k: formatting.fmt_seconds(v) for k, v in timing.items() if v is not None}))
    with c2:
        st.markdown("**Memory and compute** (FLOPs = 2 × MACs)")
        table(st, tables.key_values(compute))
    if (g.get("recipe") or "eager") != "eager":
        delta = (g.get("profile") or {}).get("recipe_delta") or {}
        psnr = g.get("psnr_db")
        st.markdown(f"**Against eager** (the eager image of the same job, row {delta.get('against', '?')})")
        table(st, tables.key_values({
            "PSNR": None if psnr is None else ("identical" if psnr == float("inf") else f"{psnr:.2f} dB"),
            "SSIM": None if g.get("ssim") is None else f"{g['ssim']:.4f}",
            "CLIP image cosine": delta.get("clip_cosine")}))
    _money(g, run)
    found = scores.generation_scores(url, generation_id)
    if not found.empty:
        tiny = (found["weights"] == "tiny scorer").any()
        st.markdown("**Quality scores**" + (" (tiny scorer: built in code, noise scores)" if tiny else ""))
        st.dataframe(found, hide_index=True, width="stretch", column_config={
            "value": st.column_config.NumberColumn("score", format="%.3f"), "weights": "scorer weights",
            "scorer_id": "scorer", "scorer_revision": "revision",
            "seconds": st.column_config.NumberColumn("seconds per image", format="%.4f"),
            "created_at": st.column_config.DatetimeColumn("scored (UTC)", format="YYYY-MM-DD HH:mm:ss")})
    elif g.get("status") == "ok":
        st.caption("Not scored yet: `python -m core.bench score --run " + str(g["run_id"]) + "` or Generate's "
                   "“Score these images”.")
    with st.expander("Profile (per-component detail)"):
        table(st, tables.key_values(tables.flatten(g.get("profile"))))
    with st.expander(f"Run {g['run_id']}: environment and shared parameters"):
        table(st, tables.key_values(tables.flatten(run)))


def _money(g: dict, run: dict) -> None:
    if g.get("provider") or g.get("cost_usd") is not None:
        st.markdown("**API**")
        table(st, tables.key_values({"request id": g.get("request_id"), "list price (USD)": g.get("cost_usd"),
                                      **{f"request · {k}": v for k, v in tables.flatten(g.get("api_params")).items()}}))
        return
    usd, rate = data.estimate_for(g.get("total_s"), run.get("gpu_name"))
    if usd is not None:
        st.markdown("**Cost (estimate)**")
        table(st, tables.key_values({"USD per image (estimate)": f"${usd:.5f}",
                                      "from": f"{formatting.fmt_seconds(g['total_s'])} × ${rate:g} per GPU-hour "
                                              f"({run.get('gpu_name')}; IGCS_GPU_HOUR_USD sets your rate)"}))


def table(where, frame: pd.DataFrame) -> None:
    """A key/value table tall enough to show every row ("none recorded" when there is nothing)."""
    if frame.empty:
        where.caption("None recorded.")
        return
    where.dataframe(frame, hide_index=True, width="stretch", height=min(35 * (len(frame) + 1) + 3, 600))
