"""suppressions: a suppression proposed from a case ("false positive") mutes nothing until a privacy
officer other than the proposer approves it

`proposed_by` names the account that proposed it and `approved_at` the moment an officer approved it;
a row with a proposer and no approval is pending. Rows added before this revision, or added whole by
`auditor suppressions add` (which names its approver), have no proposer and are approved as before.
Both columns are nullable, so no ledger digest of an existing row changes (auditor.vault.ledger).

Revision ID: r0013
Revises: r0012
Create Date: 2026-12-03 11:30:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0013'
down_revision = 'r0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('approved_at', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.drop_column('approved_at')
        batch_op.drop_column('proposed_by')
