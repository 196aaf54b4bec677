"""audit log: drop the (user_id, at_us) index no query uses

Every event an ingest appends paid for an insert into it at a random place (events arrive in time
order, users do not), the costliest part of appending ten million events; the engine reads a month
by time and the patient report by patient, neither by user.

Revision ID: r0006
Revises: r0005
Create Date: 2026-12-01 22:15:00.000000
"""
from alembic import op


revision = 'r0006'
down_revision = 'r0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_user_time", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_user_time", "audit_events", ["user_id", "at_us"])
