"""Where a generation was made: generation.host, generation.gpu_ids and generation.gpu_count.

A sweep on Ray runs on several GPUs and machines; each row says which host and which GPUs (physical ids,
comma-separated) made it, and how many GPUs the model held (the count MFU is measured against). Rows
stored before this revision have none of them (NULL).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PARTIAL_INDEX = dict(sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))
COLUMNS = (('host', sa.String()), ('gpu_ids', sa.String()), ('gpu_count', sa.Integer()))


def upgrade() -> None:
    for name, type_ in COLUMNS:  # ADD COLUMN on both backends (no table rebuild)
        op.add_column('generation', sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:  # the rebuild below must not lose the partial index's WHERE clause
        op.drop_index('ux_generation_job_ok', table_name='generation')
    with op.batch_alter_table('generation') as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
    if sqlite:
        op.create_index('ux_generation_job_ok', 'generation', ['job_key'], unique=True, **PARTIAL_INDEX)
