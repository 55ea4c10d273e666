"""Alembic's environment: run on the connection core.store.migrate hands over (config.attributes["connection"]).

Online only; SQLite alters tables in batch mode (copy, drop, rename), which Alembic renders when
autogenerating. Types render as plain SQLAlchemy ones, so revisions do not depend on sqlmodel.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from core import store  # noqa: F401 - registers the tables on SQLModel.metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("core/store/migrations runs through core.store.migrate (python -m core.bench db ...), not the alembic CLI")


def render_item(type_, obj, autogen_context):
    """sqlmodel's own types (AutoString, UTCDateTime) render as the SQLAlchemy type under them:
    sa.String(), sa.DateTime(timezone=True)."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False  # Alembic's default rendering


context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True, render_item=render_item)
with context.begin_transaction():  # a no-op inside core.store.migrate's own transaction
    context.run_migrations()
