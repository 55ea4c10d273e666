"""Issue 21, bug 3: a store that cannot be opened (server down, unsupported backend, driver missing) is one line
naming the URL (password hidden), what failed and what to check, and exit code 2, on every subcommand."""
from __future__ import annotations

import pytest

from core.cli.bench import main

DOWN = "postgresql+psycopg://u:secret@127.0.0.1:5999/x"
MYSQL = "mysql://x/y"
COMMANDS = (
    ["--list-runs"],
    ["--models", "sd21", "--weights", "tiny", "--prompt", "a cat", "--no-progress"],
    ["atlas", "--models", "sd21"],
    ["score", "--run", "1", "--metrics", "clip"],
    ["export", "generations", "--out", "x.csv"],
    ["db", "upgrade"],
    ["db", "current"],
)


def _one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_a_server_that_does_not_answer_is_one_line_and_exit_2(argv, capsys, monkeypatch):
    monkeypatch.setenv("IGCS_DATABASE_URL", DOWN)
    from core.settings import get_settings

    get_settings.cache_clear()
    assert main(argv) == 2
    line = _one_line(capsys)
    assert line.startswith("error: store postgresql+psycopg://u:***@127.0.0.1:5999/x cannot be opened")
    assert "secret" not in line and "check that the server runs" in line and "IGCS_DATABASE_URL" in line


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_an_unsupported_backend_is_one_line_and_exit_2(argv, capsys, monkeypatch):
    monkeypatch.setenv("IGCS_DATABASE_URL", MYSQL)
    from core.settings import get_settings

    get_settings.cache_clear()
    assert main(argv) == 2
    line = _one_line(capsys)
    assert line.startswith("error: store mysql://x/y: mysql is not supported") and "sqlite" in line


def test_db_flag_and_a_url_that_does_not_parse(capsys):
    assert main(["--list-runs", "--db", DOWN]) == 2
    assert "u:***@127.0.0.1:5999" in _one_line(capsys)
    assert main(["--list-runs", "--db", "postgresql+psycopg://u:pw@host:notaport/x"]) == 2
    line = _one_line(capsys)
    assert "not a database URL" in line and "pw" not in line
