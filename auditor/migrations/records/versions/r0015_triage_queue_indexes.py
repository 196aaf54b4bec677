"""triage queue indexes: the queue page ranks, counts and filters cases in SQL

The queue's page is ranked and cut in the database (ORDER BY the triage order, LIMIT/OFFSET): the
count and highest risk of each case's findings come from (case_id, risk) alone; the cases of a rule
or a severity, and the rules and departments to choose from, are index probes, not scans.

Revision ID: r0015
Revises: r0014
Create Date: 2026-12-03 12:00:00.000000
"""
from alembic import op


revision = 'r0015'
down_revision = 'r0014'
branch_labels = None
depends_on = None

INDEXES = (('ix_case_findings_case_id_risk', 'case_findings', ['case_id', 'risk']),
           ('ix_case_findings_rule_case_id', 'case_findings', ['rule', 'case_id']),
           ('ix_case_findings_severity_case_id', 'case_findings', ['severity', 'case_id']),
           ('ix_workforce_department_user_id', 'workforce', ['department', 'user_id']))


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
