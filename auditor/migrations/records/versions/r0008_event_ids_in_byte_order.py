"""audit log: a source's event ids compare byte by byte on PostgreSQL (collation "C")

An ingest finds the events already loaded by one range of event ids, bounded by the batch's least and
greatest id in byte order (Arrow's). Under a database's language collation the range was another one
("a1" sorts before "B2"; its bytes after), so a rerun could miss loaded events, and be refused by the
key's uniqueness instead of adding nothing. SQLite compares text by bytes already: nothing to do there.
The indexes on the column are rebuilt by PostgreSQL with it.

Revision ID: r0008
Revises: r0007
Create Date: 2026-12-02 13:45:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0008'
down_revision = 'r0007'
branch_labels = None
depends_on = None

COLUMNS = (("audit_events", True), ("audit_imported_keys", False))  # (table, nullable)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, nullable in COLUMNS:
            op.alter_column(table, "source_event_id", type_=sa.String(128, collation="C"),
                            existing_type=sa.String(128), existing_nullable=nullable)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, nullable in COLUMNS:
            op.alter_column(table, "source_event_id", type_=sa.String(128),
                            existing_type=sa.String(128, collation="C"), existing_nullable=nullable)
