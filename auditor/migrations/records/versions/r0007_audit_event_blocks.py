"""audit log: imported events stored a block at a time, and their (source, event id) keys

An ingest of ten million EHR events wrote ten million rows, each into four B-trees; it now writes one
row per batch of events (their values columnar, their leaf hashes and seals packed) and one narrow key
row per event. Events already in audit_events stay there; the log reads both.

Revision ID: r0007
Revises: r0006
Create Date: 2026-12-02 00:45:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0007'
down_revision = 'r0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event_blocks",
        sa.Column("first_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("first_at_us", sa.BigInteger(), nullable=False),
        sa.Column("last_at_us", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.LargeBinary(), nullable=False),
        sa.Column("leaves", sa.LargeBinary(), nullable=False),
        sa.Column("seals", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("first_seq", name=op.f("pk_audit_event_blocks")),
        sa.UniqueConstraint("last_seq", name=op.f("uq_audit_event_blocks_last_seq")),
    )
    op.create_table(
        "audit_imported_keys",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_event_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("source_row_hash", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("source", "source_event_id", name=op.f("pk_audit_imported_keys")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("audit_imported_keys")
    op.drop_table("audit_event_blocks")
