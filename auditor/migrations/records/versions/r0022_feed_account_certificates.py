"""feed_accounts.cert_sha256: a feed account may also be authenticated by its client certificate

A system that speaks mutual TLS (an ATNA secure node's habit) may present a client certificate to
`auditor serve --tls-cert ... --client-ca ...` instead of its bearer token: the SHA-256 of that
certificate (DER) is kept with the account, in its seal when given (an account without one keeps the
seal it had), and in the ledger of trusted rows (a column without a value changes no row's digest).

Revision ID: r0022
Revises: r0021
Create Date: 2026-12-06 14:50:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0022'
down_revision = 'r0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('feed_accounts') as batch:
        batch.add_column(sa.Column('cert_sha256', sa.LargeBinary(), nullable=True))
        batch.create_unique_constraint(op.f('uq_feed_accounts_cert_sha256'), ['cert_sha256'])


def downgrade() -> None:
    with op.batch_alter_table('feed_accounts') as batch:
        batch.drop_constraint(op.f('uq_feed_accounts_cert_sha256'), type_='unique')
        batch.drop_column('cert_sha256')
