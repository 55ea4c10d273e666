"""Bug 1 (issue 21): every JSON column takes non-finite floats on SQLite and PostgreSQL and reads them back,
and every family's tiny twin runs into PostgreSQL (PixArt, Sana and UniDiffuser hold -inf in their scheduler)."""
from __future__ import annotations

import math

from sqlalchemy import text

from core.cli.bench import main
from core.store.json_column import decode, encode
from core.registry import OPEN_MODELS
from core.store import AtlasEntry, Generation, Run, add_generation, add_run, put_atlas_entries, session_scope
from tests.backends import both_backends

ODD = {"lambda_min_clipped": -math.inf, "top": math.inf, "nested": [1.5, {"x": math.nan}], "word": "Infinity"}


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_encoding_round_trips_and_keeps_plain_strings():
    encoded = encode(ODD)
    assert encoded["lambda_min_clipped"] == {"$float": "-Infinity"} and encoded["word"] == "Infinity"
    assert _same(decode(encoded), ODD)
    assert decode({"$float": "banana"}) == {"$float": "banana"}  # not a tag: left as it is


@both_backends
def test_every_json_column_takes_non_finite_floats(db):
    with session_scope(db) as s:
        run = add_run(session=s, run=Run(params={"guidance": math.inf}))
        row = add_generation(session=s, generation=Generation(
            run_id=run.id, job_key="k", model_key="pixart-alpha", scheduler_config=ODD, extra={"a": -math.inf},
            profile={"p": [math.nan]}, api_params={"q": math.inf}))
        put_atlas_entries(session=s, entries=[AtlasEntry(key="a", model_key="m", detail={"d": -math.inf})])
    with session_scope(db, read_only=True) as s:
        got = s.get(Generation, row.id)
        assert _same(got.scheduler_config, ODD)
        assert got.extra == {"a": -math.inf} and math.isnan(got.profile["p"][0]) and got.api_params == {"q": math.inf}
        assert s.get(Run, run.id).params == {"guidance": math.inf}
        assert s.get(AtlasEntry, "a").detail == {"d": -math.inf}
        # what the database holds is valid JSON on both backends
        stored = s.execute(text("SELECT scheduler_config FROM generation")).scalar()
        assert "Infinity" in str(stored)


def test_every_family_runs_into_postgresql(pg_server, tmp_path, capsys):
    """Every open model's tiny twin: the text-to-image ones in one sweep, the edit models over one source image."""
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    edits = tmp_path / "one.jsonl"
    edits.write_text('{"image": "%s", "instruction": "Make the circle yellow."}\n'
                     % (repo / "data/edits/synthetic/scene00.png"))
    text_models = [s.key for s in OPEN_MODELS if "text-to-image" in s.tasks]
    edit_models = [s.key for s in OPEN_MODELS if "edit" in s.tasks]
    name = pg_server.create_database()
    try:
        url = pg_server.url(name)
        common = ["--weights", "tiny", "--steps", "2", "--db", url, "--out", str(tmp_path / "out"), "--no-progress"]
        rc = main(["--models", ",".join(text_models), "--prompt", "a cat", *common])
        out = capsys.readouterr()
        assert rc == 0, out.out[-3000:] + out.err[-3000:]
        rc = main(["--task", "edit", "--inputs", str(edits), "--models", ",".join(edit_models), *common])
        out = capsys.readouterr()
        assert rc == 0, out.out[-3000:] + out.err[-3000:]
        from core.store import make_engine
        engine = make_engine(url)
        with session_scope(engine, read_only=True) as s:
            rows = s.exec(text("SELECT model_key, status FROM generation")).all()
            pixart = s.exec(text("SELECT id FROM generation WHERE model_key = 'pixart-alpha'")).scalar()
            config = s.get(Generation, pixart).scheduler_config
        engine.dispose()
        assert sorted(rows) == sorted((key, "ok") for key in [*text_models, *edit_models])
        assert {key for key, _ in rows} == {spec.key for spec in OPEN_MODELS}  # every family's twin
        assert config["lambda_min_clipped"] == -math.inf
    finally:
        pg_server.drop_database(name)
