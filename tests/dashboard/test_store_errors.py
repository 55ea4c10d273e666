"""Issue 21, bug 3 on the dashboard: a store that cannot be opened is one error line on every page (the URL with
its password hidden, what failed, what to check), never a traceback."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import APP

DOWN = "postgresql+psycopg://u:secret@127.0.0.1:5999/x"


def _settings(monkeypatch, url):
    from core.settings import get_settings

    monkeypatch.setenv("IGCS_DATABASE_URL", url)
    get_settings.cache_clear()


@pytest.mark.parametrize("name", ["benchmark", "history", "charts", "compare"])  # Generate reads no store to draw
@pytest.mark.parametrize("url", [DOWN, "mysql://x/y"])
def test_every_page_that_reads_the_store_shows_one_error_line(page, name, url, monkeypatch):
    _settings(monkeypatch, url)
    at = page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert "\n" not in errors[0] and "secret" not in errors[0] and "IGCS_DATABASE_URL" in errors[0]
    assert ("cannot be opened" in errors[0]) if url == DOWN else ("mysql is not supported" in errors[0])


@pytest.mark.parametrize("name", ["generate", "benchmark", "history", "charts", "compare"])
def test_the_router_stops_every_page_before_it_draws(name, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import PAGES

    _settings(monkeypatch, DOWN)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page(str(PAGES / f"{name}.py")).run()
    assert not at.exception
    assert len(at.error) == 1 and "u:***@127.0.0.1:5999/x cannot be opened" in at.error[0].value
    assert not at.title  # the page itself did not draw


def test_a_row_the_store_refuses_is_one_error_on_the_generate_page(page, db, monkeypatch):
    """Issue 21, bug 1 on the Generate page: the run stops with one error line, no traceback."""
    from core.generation import Engine

    real = Engine.generate

    def generate(self, *args, **kwargs):
        outcome = real(self, *args, **kwargs)
        outcome.profile = {"not json": object()}  # the store refuses this row
        return outcome

    monkeypatch.setattr(Engine, "generate", generate)
    at = page("generate", timeout=180).run()
    at.multiselect(key="gen_open_models").set_value(["sd21"]).run()
    at.text_area(key="gen_prompt").input("a red cat")
    at.button(key="gen_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "could not be written" in errors[0] and "sd21" in errors[0]
