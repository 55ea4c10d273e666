"""The quality parts of the pages through AppTest: Generate's "Score these images" (tiny models, tiny scorers
built in code), History's score columns, filter and sort, Charts' Quality section, and the Compare page over two
tiny runs."""
from __future__ import annotations

import json

import pytest
from sqlmodel import select

from core.store import Generation, Score, add_scores, session_scope


def _no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(at, kind: str = "markdown") -> str:
    return "\n".join(str(e.value) for e in getattr(at, kind))


@pytest.fixture(autouse=True)
def _empty_dev_engine():
    from dashboard import data, scores

    def empty():
        engine = data.current_dev_engine()
        if engine is not None:
            engine.unload_all()
        scores.unload_scorers()

    empty()
    yield
    empty()


def _score(db, values: dict[int, float], metric: str = "clip", weights: str = "tiny") -> None:
    with session_scope(db) as s:
        add_scores(session=s, scores=[Score(generation_id=g, metric=metric, value=v, scorer_id="t",
                                            scorer_revision=f"{weights}-r", weights=weights) for g, v in values.items()])


def _ok_ids(db, run_id: int) -> list[int]:
    with session_scope(db) as s:
        return sorted(s.exec(select(Generation.id).where(Generation.run_id == run_id,
                                                         Generation.status == "ok")).all())


# ---- generate ----------------------------------------------------------------------------------------------
def test_generate_scores_its_images_with_tiny_scorers_and_shows_them_on_the_cards(page, db):
    at = page("generate", timeout=180).run()
    at.multiselect(key="gen_open_models").set_value(["sd21", "flux-dev"]).run()
    at.text_area(key="gen_prompt").input("a red cat on a blue table")
    at.button(key="gen_go").click().run()
    _no_exception(at)
    assert at.radio(key="gen_score_weights").value == "tiny"  # tiny weights: tiny scorers by default
    assert at.multiselect(key="gen_score_metrics").value == ["clip", "pick", "aesthetic"]
    at.multiselect(key="gen_score_metrics").set_value(["clip", "aesthetic"])
    at.button(key="gen_score_go").click().run()
    _no_exception(at)
    assert "4 score(s) stored" in _texts(at, "success")
    with session_scope(db) as s:
        stored = s.exec(select(Score)).all()
    assert sorted(r.metric for r in stored) == ["aesthetic", "aesthetic", "clip", "clip"]
    assert all(r.weights == "tiny" for r in stored)
    captions = [c for c in _texts(at, "caption").splitlines() if c.startswith("Scores:")]
    assert len(captions) == 2 and all("CLIP" in c and "aesthetic" in c and "(tiny scorer)" in c for c in captions)
    # scoring again adds none
    at.button(key="gen_score_go").click().run()
    assert "0 score(s) stored" in _texts(at, "success")


# ---- history -----------------------------------------------------------------------------------------------
def test_history_shows_filters_and_sorts_by_a_score(page, db, seeded):
    ids = _ok_ids(db, seeded["bench"])  # 11 ok rows of the bench run
    values = {g: 10.0 + i for i, g in enumerate(ids)}
    _score(db, values)
    at = page("history").run()
    _no_exception(at)
    at.selectbox(key="hist_run").set_value(seeded["bench"]).run()
    frame = at.dataframe[0].value
    assert "clip" in frame.columns and frame.loc[frame["id"] == ids[0], "scorer"].iloc[0] == "tiny scorer"
    assert frame.loc[frame["id"] == ids[3], "clip"].iloc[0] == pytest.approx(13.0)
    # filter: clip within [12, 15] -> 4 rows
    at.selectbox(key="hist_score_metric").set_value("clip")
    at.selectbox(key="hist_score_weights").set_value("tiny").run()
    at.number_input(key="hist_score_min").set_value(12.0)
    at.number_input(key="hist_score_max").set_value(15.0).run()
    _no_exception(at)
    assert "**4** generation(s) match" in _texts(at)
    assert sorted(at.dataframe[0].value["clip"]) == [12.0, 13.0, 14.0, 15.0]
    # sort: every scored row, highest clip first; unscored rows after them
    at.selectbox(key="hist_score_metric").set_value("any")
    at.selectbox(key="hist_sort").set_value("CLIPScore, highest first").run()
    _no_exception(at)
    shown = at.dataframe[0].value
    assert list(shown["clip"].iloc[:len(ids)]) == sorted(values.values(), reverse=True)
    assert shown["clip"].iloc[len(ids):].isna().all()
    at.selectbox(key="hist_sort").set_value("CLIPScore, lowest first").run()
    assert list(at.dataframe[0].value["clip"].iloc[:3]) == [10.0, 11.0, 12.0]
    # the detail of the selected row lists its scores, labelled tiny
    at.selectbox(key="hist_detail").set_value(ids[0]).run()
    assert "tiny scorer" in _texts(at)


def _chart_titles(at) -> list[str]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [spec["layout"]["title"]["text"].replace("<br>", " ") for spec in specs]


# ---- charts ------------------------------------------------------------------------------------------------
def test_charts_quality_section_with_tiny_scores(page, db, seeded):
    ids = _ok_ids(db, seeded["bench"])
    _score(db, {g: 20.0 + (g % 5) for g in ids})
    _score(db, {g: 5.0 + (g % 3) / 10 for g in ids}, metric="aesthetic")
    at = page("charts")
    at.query_params["charts_section"] = "Quality"
    at.run()
    _no_exception(at)
    assert "No pretrained-weight images scored by tiny scorers" in _texts(at, "info")  # the scores are on tiny rows
    at.selectbox(key="charts_weights").set_value("tiny").run()
    # only tiny scores stored: shown, labelled; the metric and cost choices are there
    assert at.toggle(key="charts_tiny_scores").value is True
    assert at.selectbox(key="charts_metric").options == ["CLIPScore", "LAION aesthetic"]
    titles = _chart_titles(at)
    quality = [t for t in titles if "tiny scorer (noise scores)" in t]
    assert len(quality) == 3  # quality against cost, heat map, distribution
    assert quality[0].startswith("<b>CLIPScore against seconds") and "the front" in quality[0]
    at.selectbox(key="charts_metric").set_value("aesthetic")
    at.radio(key="charts_cost").set_value("tflop").run()
    _no_exception(at)
    assert any(t.startswith("<b>LAION aesthetic against FLOPs") for t in _chart_titles(at))
    # switched off: pretrained scores only, none here, and the page says so
    at.toggle(key="charts_tiny_scores").set_value(False).run()
    assert "scored by pretrained scorers" in _texts(at, "info")


# ---- compare -----------------------------------------------------------------------------------------------
def test_compare_two_tiny_runs_and_two_models(page, db, db_url, tmp_path, monkeypatch):
    from core.cli.bench import main

    monkeypatch.setenv("IGCS_OUTPUT_DIR", str(tmp_path / "out"))
    common = ["--weights", "tiny", "--prompt", "a red cat", "--prompt", "a blue dog", "--seeds", "0", "--score",
              "clip,pick", "--scorer-weights", "tiny", "--no-progress", "--db", db_url, "--out", str(tmp_path / "out")]
    assert main(["--models", "sd21,flux-dev", *common]) == 0
    assert main(["--models", "sd21", "--steps", "3", *common[:4], "--prompt", "a green bird", *common[4:]]) == 0
    at = page("compare", timeout=120).run()
    _no_exception(at)
    # two models (the default): sd21 against flux-dev over the same prompts and seed
    at.selectbox(key="cmp_model_a").set_value("flux-dev")
    at.selectbox(key="cmp_model_b").set_value("sd21")
    at.multiselect(key="cmp_runs").set_value([1]).run()
    _no_exception(at)
    assert "**2** pair(s) · **0** only in A (flux-dev) · **0** only in B (sd21)" in _texts(at)
    timing = at.dataframe[0].value  # each side's n and p50 per configuration (core.stats), above the pairs
    assert list(timing["side"]) == ["A", "B"] and (timing["n"] + timing["first_n"] == 2).all()
    summary = next(d.value for d in at.dataframe if "measure" in d.value.columns).set_index("measure")
    assert {"CLIPScore · 2", "PickScore · 2", "TFLOP · 2"} <= set(summary.index)  # measure · pairs
    assert {"A → B", "Δ [95% CI]", "B better [CI]", "p"} <= set(summary.columns)
    assert summary.loc[["CLIPScore · 2", "PickScore · 2"], "p"].between(0, 1).all()  # 2 pairs: exact Wilcoxon p
    assert summary.loc["CLIPScore · 2", "Δ [95% CI]"].count("[") == 1  # the delta and its interval
    assert "tiny scorer" in _texts(at) and "Wilcoxon signed-rank" in _texts(at, "caption")
    # two different models: no PSNR/SSIM unless asked for across jobs
    captions = _texts(at, "caption")
    assert "PSNR" not in captions.replace("PSNR/SSIM", "") and "0 of 2 pair(s) are one job" in captions
    sort = at.selectbox(key="cmp_sort")
    assert "d_clip" in sort.options or any("CLIP" in str(o) for o in sort.options)
    sort.set_value("d_clip").run()
    _no_exception(at)
    firsts = [c for c in _texts(at, "caption").split("\n") if c.startswith("Δ CLIP")]
    deltas = [abs(float(c.split(" · ")[0].split()[-1])) for c in firsts]
    assert len(deltas) == 2 and deltas == sorted(deltas, reverse=True)  # largest disagreement first
    at.toggle(key="cmp_pixels_any").set_value(True).run()
    _no_exception(at)
    assert _texts(at, "caption").count("different jobs: read PSNR/SSIM with care") == 2
    at.toggle(key="cmp_pixels_any").set_value(False)
    # two runs: sd21 at 2 and 3 steps, same prompt, seed and size, but not one job: no PSNR by default
    at.radio(key="cmp_mode").set_value("two runs").run()
    _no_exception(at)
    assert at.selectbox(key="cmp_run_a").value == 1 and at.selectbox(key="cmp_run_b").value == 2
    # run 1's flux-dev images have no partner in run 2, nor has run 2's third prompt in run 1
    assert "**2** pair(s) · **2** only in A (run 1) · **1** only in B (run 2)" in _texts(at)
    only = {e.label: e for e in at.expander}
    assert "Only in A (run 1): 2 image(s) without a partner" in only
    assert "Only in B (run 2): 1 image(s) without a partner" in only
    captions = _texts(at, "caption")
    assert "PSNR " not in captions and "Δ CLIP" in captions and captions.count("not one job") == 2
    # the same job measured again (a third run, forced): one job, PSNR and SSIM by default
    assert main(["--models", "sd21", *common, "--force"]) == 0
    import streamlit as st

    st.cache_data.clear()  # the run list is cached for a few seconds
    at = page("compare", timeout=120).run()
    at.radio(key="cmp_mode").set_value("two runs").run()
    at.selectbox(key="cmp_run_a").set_value(1)
    at.selectbox(key="cmp_run_b").set_value(3).run()
    _no_exception(at)
    captions = _texts(at, "caption")
    assert "2 of 2 pair(s) are one job" in captions
    assert captions.count("PSNR identical") == 2 and "SSIM 1.000" in captions
    # CLIP image cosine through the tiny CLIP scorer
    at.selectbox(key="cmp_clip").set_value("tiny").run()
    _no_exception(at)
    assert _texts(at, "caption").count("CLIP image cosine") == 2
