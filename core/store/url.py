"""Which store URLs work, and the one-line error of a store that cannot be opened.

The store runs on SQLite (`sqlite:///PATH`, the default) or PostgreSQL (`postgresql+psycopg://...`):
the migrations, the write locks (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock) and the
partial unique index on job keys are written and tested for these two. Any other URL (`mysql://...`),
a URL that does not parse, a missing driver or a server that does not answer is a `StoreError` in one
line: the URL with its password hidden, what failed, and what to check. The CLI prints it and exits 2;
the dashboard shows it as one error on the page.
"""
from __future__ import annotations

import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.errors import StoreError

BACKENDS = ("sqlite", "postgresql")
EXAMPLES = "sqlite:///data/results.db or postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE"
WHERE = "--db or IGCS_DATABASE_URL"


def shown(url: str) -> str:
    """The URL as logs and errors show it: the password masked, even when the URL does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def check(url: str) -> None:
    """Refuse, before connecting, a URL that is not one of a supported backend."""
    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        raise StoreError(f"store: {shown(url)!r} is not a database URL; give {EXAMPLES} ({WHERE})") from None
    if backend not in BACKENDS:
        raise StoreError(f"store {shown(url)}: {backend} is not supported; the store runs on "
                         f"{' or '.join(BACKENDS)}: {EXAMPLES} ({WHERE})")


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line (SQLAlchemy appends the statement and a link)."""
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {lines[0].strip() if lines else ''}"


def driver_error(url: str, exc: BaseException) -> StoreError:
    return StoreError(f"store {shown(url)}: its database driver cannot be loaded ({first_line(exc)}); install the "
                      f"requirements (pip install -r requirements.txt) or give another URL ({WHERE})")


def unreachable(url: str, exc: BaseException) -> StoreError:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        hint = "check that the file's folder exists and is writable, and the path"
    else:
        hint = "check that the server runs and takes connections at that host and port, the user and password, " \
               "and that the database exists"
    return StoreError(f"store {shown(url)} cannot be opened: {first_line(exc)}; {hint} ({WHERE})")
