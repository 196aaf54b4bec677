"""case_timelines: the parts of each case's timeline, cut by the review that attached its findings

At 10 million events a month, showing a case's timeline from the log means decoding every block its
windows meet (about fifty, 1.5 s a page). The review that attaches findings to a case has already
judged every access of the period, so it keeps the member's accesses around those findings with the
case, sealed under the log's MAC key. Cases reviewed before this revision have no part: their page
reads the log as before, and reviewing their period again gives them one.

Revision ID: r0017
Revises: r0016
Create Date: 2026-12-03 14:40:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0017'
down_revision = 'r0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_timelines',
        sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.BigInteger(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('seal', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_timelines_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_timelines')),
    )
    op.create_index(op.f('ix_case_timelines_case_id'), 'case_timelines', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_case_timelines_case_id'), table_name='case_timelines')
    op.drop_table('case_timelines')
