"""release of information (auditor roi): requests and their history, authorizations, the disclosures
ledger and accounting suspensions

Revision ID: r0005
Revises: r0004
Create Date: 2026-11-25 14:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'r0005'
down_revision = 'r0004'
branch_labels = None
depends_on = None

# patient_id has no foreign key: the ledger outlives the purge of a patient's chart (164.530(j)).
# The request history and the disclosures ledger are append-only: the database refuses to rewrite them
# (45 CFR 164.528 and 164.530(j): the accounting must be reproducible for six years).
_APPEND_ONLY = ("roi_request_history", "disclosures")


def _triggers(dialect: str) -> list[str]:
    out = []
    for table in _APPEND_ONLY:
        if dialect == "sqlite":
            out += [f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
                    f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"]
        elif dialect == "postgresql":
            out += [f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                    f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$",
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"]
    return out


def upgrade() -> None:
    op.create_table('roi_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=False),
    sa.Column('requester_type', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('record_types', sa.Text(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=True),
    sa.Column('last_day', sa.Date(), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('legal_process', sa.String(length=16), nullable=True),
    sa.Column('state', sa.String(length=8), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('extended', sa.Boolean(), nullable=False),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.Column('requester', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roi_requests'))
    )
    with op.batch_alter_table('roi_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roi_requests_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_roi_requests_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_roi_requests_due_on'), ['due_on'], unique=False)

    op.create_table('roi_request_history',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('detail', sa.String(length=256), nullable=True),
    sa.Column('note', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['roi_requests.id'], name=op.f('fk_roi_request_history_request_id_roi_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roi_request_history')),
    sa.UniqueConstraint('request_id', 'position', name=op.f('uq_roi_request_history_request_id_position'))
    )
    with op.batch_alter_table('roi_request_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roi_request_history_request_id'), ['request_id'], unique=False)

    op.create_table('roi_authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('covers', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('revoked_on', sa.Date(), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['roi_requests.id'], name=op.f('fk_roi_authorizations_request_id_roi_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roi_authorizations'))
    )
    with op.batch_alter_table('roi_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roi_authorizations_request_id'), ['request_id'], unique=False)

    op.create_table('disclosures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=False),
    sa.Column('disclosed_at', sa.BigInteger(), nullable=False),
    sa.Column('requester_type', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('legal_basis', sa.String(length=128), nullable=False),
    sa.Column('accountable', sa.Boolean(), nullable=False),
    sa.Column('exemption', sa.String(length=128), nullable=True),
    sa.Column('description', sa.String(length=512), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.Column('recipient', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['roi_requests.id'], name=op.f('fk_disclosures_request_id_roi_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosures_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_disclosed_at'), ['disclosed_at'], unique=False)

    op.create_table('roi_accounting_suspensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=False),
    sa.Column('agency', sa.String(length=128), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('written', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roi_accounting_suspensions'))
    )
    with op.batch_alter_table('roi_accounting_suspensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roi_accounting_suspensions_patient_id'), ['patient_id'], unique=False)

    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    for table in ('roi_accounting_suspensions', 'disclosures', 'roi_authorizations', 'roi_request_history',
                  'roi_requests'):
        op.drop_table(table)
