"""How pages show figures (dashboard.chart_view): the data behind a chart as a table, an empty chart as one line,
the PNG and CSV downloads; and the Charts page's filters and section kept in the URL."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from dashboard import chart_view, charts


def _values(at, key: str) -> list[str]:
    """A URL parameter's values (AppTest gives a single value as a str)."""
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [dict(model_key=m, status="ok", weights="tiny", run_id=1, first_call=False, steps=s, width=64, height=64,
                 total_s=base * s / 10 * (1 + 0.05 * rng.standard_normal()), denoise_s=0.8, text_encode_s=0.1,
                 decode_s=0.1, flops_total=1e12 * s)
            for m, base in (("sd21", 1.0), ("sdxl", 2.0)) for s in (10, 20) for _ in range(3)]
    return pd.DataFrame(rows)


def test_the_latency_chart_data_holds_p50_p90_and_n_per_configuration(frame):
    fig = charts.latency_by_model(frame)
    table = chart_view.figure_frame(fig)
    assert set(table["trace"]) == {"sd21", "sdxl"} and len(table) == 4  # 2 models × 2 step counts
    assert {"seconds per call (total_s)", "p90", "n", "x error +"} <= set(table.columns)
    assert table["n"].tolist() == [3, 3, 3, 3]
    row = table.iloc[0]
    expected = frame[(frame["model_key"] == row["trace"])]
    assert row["p90"] >= row["seconds per call (total_s)"] > 0 and row["p90"] <= expected["total_s"].max()
    # the CSV the button downloads reads back as the same table
    back = pd.read_csv(io.BytesIO(chart_view.csv_bytes(fig)))
    assert back["trace"].tolist() == table["trace"].tolist() and back["n"].tolist() == [3, 3, 3, 3]


def test_an_empty_chart_is_known_with_its_title_and_reason(frame):
    fig = charts.peak_memory_by_model(frame)  # CPU rows: no memory measured
    assert chart_view.is_empty(fig) and chart_view.figure_frame(fig).empty
    assert chart_view.title_of(fig) == "Peak GPU memory per model and configuration"
    assert "No GPU memory measured" in chart_view.empty_message(fig)
    assert not chart_view.is_empty(charts.latency_by_model(frame))


def test_titles_and_file_names_are_plain():
    assert chart_view.plain_text("<b>Latency</b><br><span style='x'>dot p50 &amp; p90</span>") == "Latency dot p50 & p90"
    assert chart_view.slug("Latency per model & configuration") == "latency-per-model-configuration"


def test_charts_page_draws_one_info_line_for_an_empty_chart_and_offers_png_and_csv(page, seeded):
    at = page("charts")
    at.query_params["charts_weights"] = "tiny"
    at.query_params["charts_section"] = "Memory and compute"
    at.run()
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    # tiny rows on a CPU: no memory, no MFU; each says so in one line, no empty frame
    assert "No GPU memory measured" in infos and "No MFU stored yet" in infos
    drawn = at.get("plotly_chart")
    assert len(drawn) == 1 and "FLOPs" in drawn[0].proto.spec
    image = json.loads(drawn[0].proto.config)["toImageButtonOptions"]
    assert image == {"format": "png", "filename": "flops-against-latency-with-the-pareto-front", "scale": 2}
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == ["Data (CSV)"]


def test_charts_filters_and_section_come_from_the_url(page, seeded):
    at = page("charts")
    at.query_params.update({"charts_weights": "tiny", "charts_runs": str(seeded["bench"]),
                            "charts_models": ["sd21"], "charts_sizes": ["32×32"], "charts_log": "true",
                            "charts_section": "Cost"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="charts_weights").value == "tiny"
    assert at.multiselect(key="charts_runs").value == [seeded["bench"]]
    assert at.multiselect(key="charts_models").value == ["sd21"]
    assert at.multiselect(key="charts_sizes").value == ["32×32"]
    assert at.toggle(key="charts_log").value is True
    assert at.session_state["charts_section"] == "Cost"
    assert "6 successful generation(s) · 1 model(s) · 1 run(s)" in " ".join(c.value for c in at.caption)
    # choosing a run writes its id (not its label) to the URL; a run the store lacks is dropped
    at.multiselect(key="charts_runs").set_value([seeded["bench"], seeded["gen"]]).run()
    assert _values(at, "charts_runs") == [f"{seeded['bench']},{seeded['gen']}"]
    other = page("charts")
    other.query_params.update({"charts_weights": "tiny", "charts_runs": f"999,{seeded['gen']}"})
    other.run()
    assert other.multiselect(key="charts_runs").value == [seeded["gen"]]


def test_compare_choices_come_from_the_url_and_go_back_to_it(page, seeded):
    at = page("compare")
    at.query_params.update({"cmp_weights": "tiny", "cmp_model_a": "flux-dev", "cmp_model_b": "sd21",
                            "cmp_runs": str(seeded["bench"]), "cmp_pixels": "false"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="cmp_weights").value == "tiny"
    assert (at.selectbox(key="cmp_model_a").value, at.selectbox(key="cmp_model_b").value) == ("flux-dev", "sd21")
    assert at.multiselect(key="cmp_runs").value == [seeded["bench"]]
    assert at.toggle(key="cmp_pixels").value is False
    assert "**5** pair(s) · **0** only in A (flux-dev) · **1** only in B (sd21)" in " ".join(m.value for m in at.markdown)
    at.multiselect(key="cmp_runs").set_value([seeded["gen"]]).run()
    assert _values(at, "cmp_runs") == [str(seeded["gen"])]
    # two runs, by id in the URL
    runs = page("compare")
    runs.query_params.update({"cmp_mode": "two runs", "cmp_run_a": str(seeded["gen"]),
                              "cmp_run_b": str(seeded["bench"]), "cmp_run_models": ["sd21"]})
    runs.run()
    assert not runs.exception
    assert runs.radio(key="cmp_mode").value == "two runs"
    assert (runs.selectbox(key="cmp_run_a").value, runs.selectbox(key="cmp_run_b").value) == (
        seeded["gen"], seeded["bench"])
    assert runs.multiselect(key="cmp_run_models").value == ["sd21"]
    runs.selectbox(key="cmp_run_b").set_value(seeded["old"]).run()
    assert runs.query_params["cmp_run_b"] == str(seeded["old"])
