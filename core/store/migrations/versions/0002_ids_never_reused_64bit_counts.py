"""Run and generation ids are never handed out twice (SQLite AUTOINCREMENT); seeds and parameter counts
are 64-bit integers (BIGINT).

Without AUTOINCREMENT SQLite gives a new row the largest id + 1, so deleting the newest run made the
next run take its id. SQLite cannot add AUTOINCREMENT to a table, so `run` and `generation` are rebuilt
in batch mode (copy, drop, rename) with their rows, indexes and foreign key; the sequence starts at the
largest id present. PostgreSQL's sequences never reuse a number.

Seeds run to 2**32 - 1 and parameter counts past 2**31 (FLUX.1-dev: 16.9e9), beyond PostgreSQL's
INTEGER; SQLite's INTEGER already holds 64 bits, so only the declared type changes there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PARTIAL_INDEX = dict(sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))
WIDE = {"generation": ("seed", "params_total"),
        "atlasentry": ("params_total", "params_text_encode", "params_denoise", "params_decode")}


def _migrate(up: bool) -> None:
    new, old = (sa.BigInteger(), sa.Integer()) if up else (sa.Integer(), sa.BigInteger())
    if op.get_bind().dialect.name != "sqlite":
        for table, columns in WIDE.items():
            for column in columns:
                op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=True)
        return
    kwargs = {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": up}}
    with op.batch_alter_table("run", **kwargs):
        pass
    # The partial unique index is dropped and recreated by name: its WHERE clause must survive the copy.
    op.drop_index("ux_generation_job_ok", table_name="generation")
    with op.batch_alter_table("generation", **kwargs) as batch:
        for column in WIDE["generation"]:
            batch.alter_column(column, type_=new, existing_type=old, existing_nullable=True)
    op.create_index("ux_generation_job_ok", "generation", ["job_key"], unique=True, **PARTIAL_INDEX)
    with op.batch_alter_table("atlasentry") as batch:
        for column in WIDE["atlasentry"]:
            batch.alter_column(column, type_=new, existing_type=old, existing_nullable=True)


def upgrade() -> None:
    _migrate(up=True)


def downgrade() -> None:
    _migrate(up=False)
