"""Run and generation ids are never handed out twice (SQLite AUTOINCREMENT).

Without AUTOINCREMENT SQLite gives a new row the largest id + 1, so deleting the newest run made the
next run take its id (and its output folder's bookkeeping). SQLite cannot add AUTOINCREMENT to a
table, so both tables are rebuilt in batch mode (copy, drop, rename) with their rows, indexes and
foreign key; the sequence starts at the largest id present. PostgreSQL's sequences never reuse a
number: nothing to do there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PARTIAL_INDEX = dict(sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("run", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass
    # The partial unique index is dropped and recreated by name: its WHERE clause must survive the copy.
    op.drop_index("ux_generation_job_ok", table_name="generation")
    with op.batch_alter_table("generation", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass
    op.create_index("ux_generation_job_ok", "generation", ["job_key"], unique=True, **PARTIAL_INDEX)


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
