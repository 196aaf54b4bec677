"""audit_event_blocks: a covering index of the block headers; audit_events: by user and time

The engine chooses the blocks a window of time needs by their headers (span of times and its seal).
In SQLite a column added after the blobs (header_seal, r0009) is read by walking each row's overflow
pages, i.e. the whole log: 0.3 s at 10 million events for every read of a window, however small. An
index holding the header's columns answers that query alone (0.6 ms). In PostgreSQL the blobs are
stored apart (TOAST), and the index is an index-only scan. The events kept as rows (the vault's own, a month's worth of reads by the office and
its services) are found by user and time for the case page's timeline, not by a scan of them all.

Revision ID: r0016
Revises: r0015
Create Date: 2026-12-03 12:30:00.000000
"""
from alembic import op


revision = 'r0016'
down_revision = 'r0015'
branch_labels = None
depends_on = None

COLUMNS = ['first_seq', 'last_seq', 'source', 'first_at_us', 'last_at_us', 'header_seal']


def upgrade() -> None:
    op.create_index('ix_audit_event_blocks_header', 'audit_event_blocks', COLUMNS)
    op.create_index('ix_audit_events_user_at', 'audit_events', ['user_id', 'at_us'])


def downgrade() -> None:
    op.drop_index('ix_audit_events_user_at', table_name='audit_events')
    op.drop_index('ix_audit_event_blocks_header', table_name='audit_event_blocks')
