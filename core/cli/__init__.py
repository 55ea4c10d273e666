"""The command line, one module a command: `bench` (the parser of `python -m core.bench` and the dispatch to
the others), `run` (a sweep, --list-runs), `listing` (--list), `atlas`, `score`, `export`, `db`, `weights`.
The logic each one drives lives in core/ (sweep, runner, atlas, export, scoring, store, weights)."""
