"""ingest runs and quarantine (auditor ingest: interchange rows that could not be read)

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-25 11:55:25.649587
"""
from alembic import op
import sqlalchemy as sa


revision = 'r0002'
down_revision = 'r0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=False),
    sa.Column('finished_at', sa.BigInteger(), nullable=True),
    sa.Column('summary', sa.String(length=2048), nullable=True),
    sa.Column('quarantine_key_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_runs'))
    )
    op.create_table('quarantine',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('file', sa.String(length=64), nullable=False),
    sa.Column('line', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=512), nullable=False),
    sa.Column('row_digest', sa.BigInteger(), nullable=False),
    sa.Column('raw_row', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['ingest_runs.id'], name=op.f('fk_quarantine_run_id_ingest_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine')),
    sa.UniqueConstraint('source', 'file', 'line', 'row_digest', name=op.f('uq_quarantine_source_file_line_row_digest'))
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_run_id'))

    op.drop_table('quarantine')
    op.drop_table('ingest_runs')
