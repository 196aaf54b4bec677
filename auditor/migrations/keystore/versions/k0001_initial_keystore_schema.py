"""initial keystore schema

Revision ID: k0001
Revises: 
Create Date: 2026-11-25 03:49:52.699346
"""
from alembic import op
import sqlalchemy as sa


revision = 'k0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('kek_id', sa.Integer(), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=True),
    sa.Column('uses', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('destroyed_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_keys_kek_id'), ['kek_id'], unique=False)

    op.create_table('kek_usage',
    sa.Column('kek_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('wraps', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('kek_id')
    )


def downgrade() -> None:
    op.drop_table('kek_usage')
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_keys_kek_id'))

    op.drop_table('data_keys')
