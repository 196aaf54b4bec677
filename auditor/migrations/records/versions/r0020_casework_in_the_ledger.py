"""cases, their findings and history, legal holds and their history, the disclosures ledger and the
accounting suspensions join the ledger of trusted rows

The triage order, the review budget, the monthly report and `auditor evaluate` trust a case finding's
rule, severity and risk and a case's status and decision; a purge trusts the legal holds; the
accounting of disclosures trusts the disclosures and the suspensions. Someone who can write the
records database could otherwise demote a critical finding below the review budget, close a case, lift
a hold or drop a disclosure unseen. No column changes: `auditor db upgrade` records the rows these
tables already hold, once the audit log verifies (auditor.vault.integrity.adopt_tables), and every
write since is recorded by the gateway in its own transaction.

Revision ID: r0020
Revises: r0019
Create Date: 2026-12-04 03:00:00.000000
"""

revision = 'r0020'
down_revision = 'r0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the rows are recorded by `auditor db upgrade` after the migration (ledger.ADDED_BY_REVISION)


def downgrade() -> None:
    pass
