"""Initial schema: the tables of the release before migrations (run, generation, flopcount, devicepeak,
atlasentry) with their indexes, the partial unique index ux_generation_job_ok included.

A store that release wrote is stamped at this revision (core.store.migrate) and upgraded from here.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('atlasentry',
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('model_key', sa.String(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('steps', sa.Integer(), nullable=True),
    sa.Column('negative_prompt', sa.Boolean(), nullable=False),
    sa.Column('guidance', sa.Float(), nullable=True),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('params_total', sa.Integer(), nullable=True),
    sa.Column('params_text_encode', sa.Integer(), nullable=True),
    sa.Column('params_denoise', sa.Integer(), nullable=True),
    sa.Column('params_decode', sa.Integer(), nullable=True),
    sa.Column('flops_text_encode', sa.Float(), nullable=True),
    sa.Column('flops_denoise', sa.Float(), nullable=True),
    sa.Column('flops_decode', sa.Float(), nullable=True),
    sa.Column('flops_per_image', sa.Float(), nullable=True),
    sa.Column('macs_per_image', sa.Float(), nullable=True),
    sa.Column('denoise_calls', sa.Integer(), nullable=True),
    sa.Column('flops_per_denoise_call', sa.Float(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('count_s', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('atlasentry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_atlasentry_model_key'), ['model_key'], unique=False)

    op.create_table('devicepeak',
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('peak_tflops', sa.Float(), nullable=False),
    sa.Column('dtype', sa.String(), nullable=False),
    sa.Column('matmul_n', sa.Integer(), nullable=False),
    sa.Column('torch_version', sa.String(), nullable=True),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('flopcount',
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('model_key', sa.String(), nullable=False),
    sa.Column('component', sa.String(), nullable=False),
    sa.Column('shapes', sa.String(), nullable=False),
    sa.Column('flops', sa.Float(), nullable=False),
    sa.Column('macs', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('flopcount', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flopcount_model_key'), ['model_key'], unique=False)

    op.create_table('run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('mode', sa.String(), nullable=False),
    sa.Column('weights', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=True),
    sa.Column('output_dir', sa.String(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('jobs_total', sa.Integer(), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('hostname', sa.String(), nullable=True),
    sa.Column('device', sa.String(), nullable=True),
    sa.Column('gpu_name', sa.String(), nullable=True),
    sa.Column('gpu_count', sa.Integer(), nullable=False),
    sa.Column('driver_version', sa.String(), nullable=True),
    sa.Column('cuda_version', sa.String(), nullable=True),
    sa.Column('python_version', sa.String(), nullable=True),
    sa.Column('torch_version', sa.String(), nullable=True),
    sa.Column('diffusers_version', sa.String(), nullable=True),
    sa.Column('transformers_version', sa.String(), nullable=True),
    sa.Column('git_revision', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_status'), ['status'], unique=False)

    op.create_table('generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('job_key', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('model_key', sa.String(), nullable=False),
    sa.Column('provider', sa.String(), nullable=True),
    sa.Column('weights', sa.String(), nullable=False),
    sa.Column('prompt', sa.String(), nullable=False),
    sa.Column('negative_prompt', sa.String(), nullable=True),
    sa.Column('category', sa.String(), nullable=True),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('steps', sa.Integer(), nullable=True),
    sa.Column('guidance', sa.Float(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('image_index', sa.Integer(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.Column('image_path', sa.String(), nullable=True),
    sa.Column('device', sa.String(), nullable=True),
    sa.Column('load_s', sa.Float(), nullable=True),
    sa.Column('total_s', sa.Float(), nullable=True),
    sa.Column('text_encode_s', sa.Float(), nullable=True),
    sa.Column('denoise_s', sa.Float(), nullable=True),
    sa.Column('decode_s', sa.Float(), nullable=True),
    sa.Column('prior_s', sa.Float(), nullable=True),
    sa.Column('decoder_s', sa.Float(), nullable=True),
    sa.Column('first_call', sa.Boolean(), nullable=False),
    sa.Column('peak_mem_gb', sa.Float(), nullable=True),
    sa.Column('params_total', sa.Integer(), nullable=True),
    sa.Column('flops_text_encode', sa.Float(), nullable=True),
    sa.Column('flops_denoise', sa.Float(), nullable=True),
    sa.Column('flops_decode', sa.Float(), nullable=True),
    sa.Column('flops_total', sa.Float(), nullable=True),
    sa.Column('macs_total', sa.Float(), nullable=True),
    sa.Column('tflops_per_s', sa.Float(), nullable=True),
    sa.Column('mfu', sa.Float(), nullable=True),
    sa.Column('profile', sa.JSON(), nullable=True),
    sa.Column('request_id', sa.String(), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('api_params', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('generation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_generation_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_generation_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_generation_job_key'), ['job_key'], unique=False)
        batch_op.create_index('ix_generation_model_created', ['model_key', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_generation_model_key'), ['model_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_generation_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_generation_status'), ['status'], unique=False)
        batch_op.create_index('ux_generation_job_ok', ['job_key'], unique=True, sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('generation', schema=None) as batch_op:
        batch_op.drop_index('ux_generation_job_ok', sqlite_where=sa.text("status = 'ok'"), postgresql_where=sa.text("status = 'ok'"))
        batch_op.drop_index(batch_op.f('ix_generation_status'))
        batch_op.drop_index(batch_op.f('ix_generation_run_id'))
        batch_op.drop_index(batch_op.f('ix_generation_model_key'))
        batch_op.drop_index('ix_generation_model_created')
        batch_op.drop_index(batch_op.f('ix_generation_job_key'))
        batch_op.drop_index(batch_op.f('ix_generation_created_at'))
        batch_op.drop_index(batch_op.f('ix_generation_category'))

    op.drop_table('generation')
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_status'))
        batch_op.drop_index(batch_op.f('ix_run_kind'))
        batch_op.drop_index(batch_op.f('ix_run_created_at'))

    op.drop_table('run')
    with op.batch_alter_table('flopcount', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flopcount_model_key'))

    op.drop_table('flopcount')
    op.drop_table('devicepeak')
    with op.batch_alter_table('atlasentry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_atlasentry_model_key'))

    op.drop_table('atlasentry')
