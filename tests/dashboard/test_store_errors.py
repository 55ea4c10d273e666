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
