"""muted_findings: the findings of open cases that a suppression muted once it became active

A suppression added (or approved) after `auditor findings` has put its findings into a case used to
leave them there, unmarked and ranked. Each finding it mutes in a case that is not closed now gets a
row here naming the suppression; the ranking leaves these findings out. The rows are in the ledger
of trusted rows: a mark added or removed behind the gateway is named by `auditor audit verify`. A new
table starts empty: no vault has a row to record at upgrade.

Revision ID: r0019
Revises: r0018
Create Date: 2026-12-04 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0019'
down_revision = 'r0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'muted_findings',
        sa.Column('case_finding_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('suppression_id', sa.Integer(), nullable=False),
        sa.Column('muted_at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['case_finding_id'], ['case_findings.id'],
                                name=op.f('fk_muted_findings_case_finding_id_case_findings')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_muted_findings_case_id_cases')),
        sa.ForeignKeyConstraint(['suppression_id'], ['suppressions.id'],
                                name=op.f('fk_muted_findings_suppression_id_suppressions')),
        sa.PrimaryKeyConstraint('case_finding_id', name=op.f('pk_muted_findings')),
    )
    op.create_index(op.f('ix_muted_findings_case_id'), 'muted_findings', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_muted_findings_case_id'), table_name='muted_findings')
    op.drop_table('muted_findings')
