"""audit log: block headers sealed, archive records signed

A block's header (its sequence numbers, source and span of times) steered the engine while nothing
checked it: moving the span made a month's events vanish from the findings and the report while the
log still verified. The header now carries an HMAC under the log's MAC key, which the engine checks
before it selects by the header, and which `audit verify` checks against the block's events.

An archive record (events moved to a file after six years) is now signed with the keyring's signing
key, over its range, its cut-off day, the file's SHA-256 and the root signed for its last event: leaves
in `audit_archived_leaves` that no signed record covers are events deleted, not archived.

Blocks and archives made before this revision are sealed and signed by `auditor db upgrade` once it
has checked them against the log (auditor.vault.integrity).

Revision ID: r0009
Revises: r0008
Create Date: 2026-12-03 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0009'
down_revision = 'r0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event_blocks") as batch:
        batch.add_column(sa.Column("header_seal", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("audit_archives") as batch:
        batch.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_archives") as batch:
        batch.drop_column("signature")
    with op.batch_alter_table("audit_event_blocks") as batch:
        batch.drop_column("header_seal")
