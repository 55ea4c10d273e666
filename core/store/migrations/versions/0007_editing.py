"""Editing and the configuration's last axes on every row: generation.task (indexed), input_images and mask_image
(the edit's source images, copies kept beside the output, with their sha256), batch_size and images_per_call.

Rows stored before: task 'text-to-image', no inputs; batch_size from `profile.batch_size` (1 where absent);
images_per_call unknown (NULL: views read it as 1).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PARTIAL_INDEX = dict(sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))


def upgrade() -> None:
    op.add_column('generation', sa.Column('task', sa.String(), nullable=False, server_default='text-to-image'))
    op.add_column('generation', sa.Column('input_images', sa.JSON(), nullable=True))
    op.add_column('generation', sa.Column('mask_image', sa.JSON(), nullable=True))
    op.add_column('generation', sa.Column('batch_size', sa.Integer(), nullable=False, server_default='1'))
    op.add_column('generation', sa.Column('images_per_call', sa.Integer(), nullable=True))
    op.create_index('ix_generation_task', 'generation', ['task'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("UPDATE generation SET batch_size = CAST(json_extract(profile, '$.batch_size') AS INTEGER) "
                   "WHERE json_extract(profile, '$.batch_size') IS NOT NULL")
    else:
        op.execute("UPDATE generation SET batch_size = CAST(profile->>'batch_size' AS INTEGER) "
                   "WHERE profile->>'batch_size' IS NOT NULL")


def downgrade() -> None:
    op.drop_index('ix_generation_task', table_name='generation')
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:  # the rebuild below must not lose the partial index's WHERE clause
        op.drop_index('ux_generation_job_ok', table_name='generation')
    with op.batch_alter_table('generation') as batch:
        for column in ('images_per_call', 'batch_size', 'mask_image', 'input_images', 'task'):
            batch.drop_column(column)
    if sqlite:
        op.create_index('ux_generation_job_ok', 'generation', ['job_key'], unique=True, **PARTIAL_INDEX)
