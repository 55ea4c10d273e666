"""Generate page: after "Score these images" the results keep their counts, run number and layout."""
from __future__ import annotations


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_scoring_keeps_the_results_caption_and_layout(page, db):
    at = page("generate", timeout=180).run()
    at.multiselect(key="gen_open_models").set_value(["sd21"]).run()
    at.text_area(key="gen_prompt").input("a red cat on a blue table")
    at.button(key="gen_go").click().run()
    assert not at.exception
    counts = next(c for c in _captions(at) if "image(s)" in c and "in History" in c)
    assert counts.startswith("1 image(s), 0 failure(s); run ")
    headers = [h.value for h in at.subheader]
    at.multiselect(key="gen_score_metrics").set_value(["clip"])
    at.radio(key="gen_score_weights").set_value("tiny")
    at.button(key="gen_score_go").click().run()
    assert not at.exception
    assert "1 score(s) stored" in " ".join(s.value for s in at.success)
    assert counts in _captions(at)  # the counts and run number stay
    assert "Results" in headers and [h.value for h in at.subheader] == headers  # same title: no reflow
