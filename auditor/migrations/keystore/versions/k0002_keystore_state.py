"""keystore state: the keyring the key store belongs to, and the primary KEK under a lock row

Revision ID: k0002
Revises: k0001
Create Date: 2026-12-01 09:00:00.000000

The row itself is written by `auditor init` or, for a key store made before this revision, by
`auditor db upgrade`, which reads the keyring (a migration cannot).
"""
from alembic import op
import sqlalchemy as sa


revision = 'k0002'
down_revision = 'k0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('keystore_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('keyring_fingerprint', sa.String(length=80), nullable=False),
    sa.Column('primary_kek_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('keystore_state')
