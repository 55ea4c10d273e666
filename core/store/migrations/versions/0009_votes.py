"""The vote table: blind A/B judgements from the Arena page (core.arena), with the voter and both generations.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'vote',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('voter', sa.String(), nullable=False),
        sa.Column('generation_a_id', sa.Integer(), nullable=False),
        sa.Column('generation_b_id', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(), nullable=False),
        sa.ForeignKeyConstraint(['generation_a_id'], ['generation.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['generation_b_id'], ['generation.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_vote_created_at', 'vote', ['created_at'], unique=False)
    op.create_index('ix_vote_voter', 'vote', ['voter'], unique=False)
    op.create_index('ix_vote_generation_a_id', 'vote', ['generation_a_id'], unique=False)
    op.create_index('ix_vote_generation_b_id', 'vote', ['generation_b_id'], unique=False)


def downgrade() -> None:
    for name in ('ix_vote_generation_b_id', 'ix_vote_generation_a_id', 'ix_vote_voter', 'ix_vote_created_at'):
        op.drop_index(name, table_name='vote')
    op.drop_table('vote')
