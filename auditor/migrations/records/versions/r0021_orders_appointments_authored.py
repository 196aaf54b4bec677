"""orders, appointments and authored_documents: the interchange contract's version-2 files

An EHR's log is explained by more than encounters and care teams: an order placed, an appointment
booked, a note signed (explanations 5 to 7 of ../shared/spec/interchange.md). These tables hold them
with internal ids only (the MRN and the user ids are resolved at ingest, as for encounters): no PHI.
They are in the ledger of trusted rows from the start: a row added behind the gateway would explain
a snooping access away. New tables start empty: `auditor db upgrade` has no row to record.

Revision ID: r0021
Revises: r0020
Create Date: 2026-12-05 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0021'
down_revision = 'r0020'
branch_labels = None
depends_on = None


def _keys(table: str, person: str, nullable: bool) -> list:
    """The columns every one of the three tables starts with, and their constraints."""
    return [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('source_id', sa.String(length=128), nullable=False),
        sa.Column('patient_id', sa.BigInteger(), nullable=False),
        sa.Column(person, sa.BigInteger(), nullable=nullable),
        sa.ForeignKeyConstraint([person], ['workforce.id'], name=op.f(f'fk_{table}_{person}_workforce')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f(f'fk_{table}_patient_id_patients')),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
        sa.UniqueConstraint('source', 'source_id', name=op.f(f'uq_{table}_source_source_id')),
    ]


def upgrade() -> None:
    op.create_table(
        'orders', *_keys('orders', 'ordering_id', True),
        sa.Column('performing_department', sa.String(length=128), nullable=True),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('placed_at', sa.BigInteger(), nullable=False),
        sa.Column('completed_at', sa.BigInteger(), nullable=True),
    )
    op.create_table(
        'appointments', *_keys('appointments', 'provider_id', True),
        sa.Column('department', sa.String(length=128), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('booked_at', sa.BigInteger(), nullable=False),
        sa.Column('scheduled_for', sa.BigInteger(), nullable=False),
    )
    op.create_table(
        'authored_documents', *_keys('authored_documents', 'author_id', False),
        sa.Column('record_type', sa.String(length=32), nullable=False),
        sa.Column('signed_at', sa.BigInteger(), nullable=False),
    )
    for table in ('orders', 'appointments', 'authored_documents'):
        op.create_index(op.f(f'ix_{table}_patient_id'), table, ['patient_id'], unique=False)


def downgrade() -> None:
    for table in ('authored_documents', 'appointments', 'orders'):
        op.drop_index(op.f(f'ix_{table}_patient_id'), table_name=table)
        op.drop_table(table)
