"""generation.repeat (timed repeats of a job) and the score table (core.scoring).

Both landed before migrations existed, so a store made between that change and this revision already
has them (it is stamped at 0001 like every store without `alembic_version`): each is added only where
it is missing. Rows stored before repeats existed are repeat 0.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PARTIAL_INDEX = dict(sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table('score'):
        op.create_table(
            'score',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('generation_id', sa.Integer(), nullable=False),
            sa.Column('metric', sa.String(), nullable=False),
            sa.Column('value', sa.Float(), nullable=False),
            sa.Column('scorer_id', sa.String(), nullable=False),
            sa.Column('scorer_revision', sa.String(), nullable=False),
            sa.Column('weights', sa.String(), nullable=False),
            sa.Column('seconds', sa.Float(), nullable=True),
            sa.Column('batch_size', sa.Integer(), nullable=True),
            sa.Column('device', sa.String(), nullable=True),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(['generation_id'], ['generation.id'], ondelete='CASCADE'),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('generation_id', 'metric', 'scorer_revision',
                                name='ux_score_generation_metric_revision'),
        )
        op.create_index('ix_score_created_at', 'score', ['created_at'], unique=False)
        op.create_index('ix_score_generation_id', 'score', ['generation_id'], unique=False)
        op.create_index('ix_score_metric', 'score', ['metric'], unique=False)
    if 'repeat' not in {c['name'] for c in inspector.get_columns('generation')}:
        # an ADD COLUMN on both backends (no table rebuild); existing rows get 0
        op.add_column('generation', sa.Column('repeat', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:  # the rebuild below must not lose the partial index's WHERE clause
        op.drop_index('ux_generation_job_ok', table_name='generation')
    with op.batch_alter_table('generation') as batch:
        batch.drop_column('repeat')
    if sqlite:
        op.create_index('ux_generation_job_ok', 'generation', ['job_key'], unique=True, **PARTIAL_INDEX)
    op.drop_table('score')
