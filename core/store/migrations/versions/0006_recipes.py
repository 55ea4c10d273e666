"""generation.recipe (the speed recipe of the row, indexed), compile_s, psnr_db and ssim (core.recipes).

Rows stored before recipes existed ran plain diffusers: recipe 'eager'.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PARTIAL_INDEX = dict(sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))


def upgrade() -> None:
    # ADD COLUMN on both backends (no table rebuild); existing rows get 'eager'
    op.add_column('generation', sa.Column('recipe', sa.String(), nullable=False, server_default='eager'))
    op.add_column('generation', sa.Column('compile_s', sa.Float(), nullable=True))
    op.add_column('generation', sa.Column('psnr_db', sa.Float(), nullable=True))
    op.add_column('generation', sa.Column('ssim', sa.Float(), nullable=True))
    op.create_index('ix_generation_recipe', 'generation', ['recipe'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_generation_recipe', table_name='generation')
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:  # the rebuild below must not lose the partial index's WHERE clause
        op.drop_index('ux_generation_job_ok', table_name='generation')
    with op.batch_alter_table('generation') as batch:
        for column in ('ssim', 'psnr_db', 'compile_s', 'recipe'):
            batch.drop_column(column)
    if sqlite:
        op.create_index('ux_generation_job_ok', 'generation', ['job_key'], unique=True, **PARTIAL_INDEX)
