"""Reproducibility: each generation's dtype, scheduler and its config, weights revision, attention backend
and the traceback of a failure; each run's git-dirty flag. Rows stored before keep NULLs (unknown).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PARTIAL_INDEX = dict(sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))
GENERATION_COLUMNS = ('error_detail', 'dtype', 'scheduler', 'scheduler_config', 'weights_revision', 'attention_backend')


def upgrade() -> None:
    # ADD COLUMN on both backends: no table rebuild
    op.add_column('generation', sa.Column('error_detail', sa.String(), nullable=True))
    op.add_column('generation', sa.Column('dtype', sa.String(), nullable=True))
    op.add_column('generation', sa.Column('scheduler', sa.String(), nullable=True))
    op.add_column('generation', sa.Column('scheduler_config', sa.JSON(), nullable=True))
    op.add_column('generation', sa.Column('weights_revision', sa.String(), nullable=True))
    op.add_column('generation', sa.Column('attention_backend', sa.String(), nullable=True))
    op.add_column('run', sa.Column('git_dirty', sa.Boolean(), nullable=True))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:  # the rebuild below must not lose the partial index's WHERE clause
        op.drop_index('ux_generation_job_ok', table_name='generation')
    with op.batch_alter_table('generation') as batch:
        for name in GENERATION_COLUMNS:
            batch.drop_column(name)
    if sqlite:
        op.create_index('ux_generation_job_ok', 'generation', ['job_key'], unique=True, **PARTIAL_INDEX)
    with op.batch_alter_table('run') as batch:
        batch.drop_column('git_dirty')
