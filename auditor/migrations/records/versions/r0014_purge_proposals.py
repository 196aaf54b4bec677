"""purge proposals: one records manager proposes the purge of a recorded plan, another approves it

A purge in the browser takes two people: the proposal is kept between the two requests, with who
proposed it, who approved it and the purge that carried it out; its rows are in the ledger of
trusted rows (auditor.vault.ledger), so a proposal written into records.db behind the gateway's back
is named by audit verify. The purge run names who proposed it, for its certificate.

Revision ID: r0014
Revises: r0012
Create Date: 2026-12-03 11:30:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0014'
down_revision = 'r0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('retention_purge_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('proposed_by', sa.String(length=64), nullable=False),
    sa.Column('proposed_at', sa.BigInteger(), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('approved_at', sa.BigInteger(), nullable=True),
    sa.Column('purge_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['retention_plans.id'],
                            name=op.f('fk_retention_purge_proposals_plan_id_retention_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_purge_proposals'))
    )
    op.create_index(op.f('ix_retention_purge_proposals_plan_id'), 'retention_purge_proposals', ['plan_id'],
                    unique=False)
    # A plain ADD COLUMN (no batch copy of the table, which would drop its r0004 triggers).
    op.add_column('retention_purges', sa.Column('proposer', sa.String(length=128), nullable=True))


def downgrade() -> None:
    op.drop_column('retention_purges', 'proposer')
    op.drop_index(op.f('ix_retention_purge_proposals_plan_id'), table_name='retention_purge_proposals')
    op.drop_table('retention_purge_proposals')
