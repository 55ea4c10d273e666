"""run.notes and run.tags: a run's annotations (core.run_notes), beside its name.

Runs stored before annotations existed have no notes and no tags (an empty list).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # ADD COLUMN on both backends (no table rebuild); existing runs get no tags
    op.add_column('run', sa.Column('notes', sa.Text(), nullable=True))
    op.add_column('run', sa.Column('tags', sa.JSON(), nullable=True, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table('run') as batch:
        batch.drop_column('tags')
        batch.drop_column('notes')
