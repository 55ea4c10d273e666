"""`python -m core.bench db ...` (or `python -m core.cli.db ...`): the store's schema migrations.

    upgrade              migrate the store to the newest revision (every start does this too)
    current              the store's revision and the newest one
    history              every revision, newest first
    revision -m MESSAGE  autogenerate a revision from the models, against a scratch SQLite store (developers)
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError

from core.settings import get_settings
from core.store import db_url, make_engine, migrate
from core.store import url as store_url


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench db", description="Schema migrations of the store.")
    p.add_argument("--db", metavar="URL", type=db_url, help="database URL or SQLite path (default: IGCS_DATABASE_URL)")
    sub = p.add_subparsers(dest="action", required=True, metavar="{upgrade,current,history,revision}")
    sub.add_parser("upgrade", help="migrate the store to the newest revision (every start does this too)")
    sub.add_parser("current", help="print the store's revision and the newest one")
    sub.add_parser("history", help="list every revision, newest first")
    rev = sub.add_parser("revision", help="autogenerate a revision from the models (developers)")
    rev.add_argument("-m", "--message", required=True, help="what the revision changes")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.action == "history":
        for script in ScriptDirectory.from_config(migrate.config()).walk_revisions():
            print(f"{script.revision}  {script.doc.splitlines()[0]}{'  (head)' if script.is_head else ''}")
        return 0
    if args.action == "revision":
        print(f"wrote {migrate.autogenerate(args.message)}: read it, add a test if it moves data, commit it")
        return 0
    url = args.db or db_url(get_settings().database_url)
    # upgrade: make_engine sets the store's connection options (SQLite's BEGIN IMMEDIATE) and migrates;
    # current: a plain engine, so that looking does not migrate
    store_url.check(url)
    engine = make_engine(url) if args.action == "upgrade" else create_engine(url)
    try:
        with engine.connect() as conn:
            rev = migrate.current(conn)
    except DBAPIError as exc:
        raise store_url.unreachable(url, exc) from exc
    finally:
        engine.dispose()
    print(f"store at {rev or 'no revision (empty, or written before migrations)'}; head is {migrate.head()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
