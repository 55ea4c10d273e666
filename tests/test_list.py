"""Issue 21, bug 10: `--list` says what runs here with which weights, keeps its columns whatever the key length,
and names each price's date once."""
from __future__ import annotations

import re

from core.cli.bench import main


def _listing(capsys) -> str:
    assert main(["--list"]) == 0
    return capsys.readouterr().out


def test_list_says_which_weights_run_here(capsys):
    out = _listing(capsys)
    row = next(line for line in out.splitlines() if line.startswith("sd21 "))
    assert "tiny, random; pretrained: missing" in row  # no download here, no IGCS_MODELS_DIR
    api = next(line for line in out.splitlines() if line.startswith("gpt-image-2 "))
    assert "no key" in api


def test_list_columns_line_up_with_long_keys(capsys):
    out = _listing(capsys)
    models = out.split("\n\n")[0].splitlines()
    head, rows = models[0], [r for r in models[1:-1]]
    assert any(len(r.split()[0]) > 16 for r in rows)  # keys longer than the old 16-character column
    size_end = head.index("size") + len("size")
    for r in rows:  # every size ends under its header: the columns did not shift
        assert re.fullmatch(r"\d+x\d+", r[size_end - 9:size_end].strip()), r
    catalog = out.split("API models today: status and list price\n")[1].split("\n\n")[0].splitlines()
    usd_end = catalog[0].index("USD/image") + len("USD/image")
    for r in catalog[1:]:
        assert re.fullmatch(r"\d+\.\d{3}|\?", r[usd_end - 9:usd_end].strip()), r


def test_list_dates_are_not_doubled(capsys):
    out = _listing(capsys)
    assert not re.search(r"\(\d{4}-\d{2}\) \(\d{4}-\d{2}-\d{2}\)", out)
    assert not re.search(r"(\d{4}-\d{2}-\d{2})\) \(\1\)", out)  # "read 2026-12-02) (2026-12-02)"
