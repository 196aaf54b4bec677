"""feed_accounts: the system accounts of the FHIR endpoint (auditor feeds add | list | revoke)

An EHR or an integration engine sends its AuditEvents to `POST /fhir/AuditEvent` with a bearer token;
only the token's SHA-256 is kept, with the account's scopes (feed, search) and an HMAC of the row
under a key derived from the keyring. The rows are in the ledger of trusted rows.

Revision ID: r0018
Revises: r0017
Create Date: 2026-12-03 17:40:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0018'
down_revision = 'r0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feed_accounts',
        sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('scopes', sa.String(length=32), nullable=False),
        sa.Column('token_hash', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('revoked_at', sa.BigInteger(), nullable=True),
        sa.Column('seal', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_accounts')),
        sa.UniqueConstraint('name', name=op.f('uq_feed_accounts_name')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_feed_accounts_token_hash')),
    )


def downgrade() -> None:
    op.drop_table('feed_accounts')
