"""suppressions and cases (auditor suppressions, auditor cases): muted findings and the privacy office's casework

Revision ID: r0003
Revises: r0002
Create Date: 2026-11-25 13:55:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'r0003'
down_revision = 'r0002'
branch_labels = None
depends_on = None

# Case history is append-only: the database itself refuses to rewrite or delete it.
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER case_history_no_update BEFORE UPDATE ON case_history "
    "BEGIN SELECT RAISE(ABORT, 'case history is append-only'); END",
    "CREATE TRIGGER case_history_no_delete BEFORE DELETE ON case_history "
    "BEGIN SELECT RAISE(ABORT, 'case history is append-only'); END",
]
_POSTGRES_TRIGGERS = [
    "CREATE FUNCTION case_history_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'case history is append-only'; END $$",
    "CREATE TRIGGER case_history_append_only BEFORE UPDATE OR DELETE ON case_history "
    "FOR EACH ROW EXECUTE FUNCTION case_history_append_only()",
]


def upgrade() -> None:
    op.create_table('suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=True),
    sa.Column('patient_id', sa.BigInteger(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('approver', sa.String(length=128), nullable=False),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.Column('revoked_by', sa.String(length=128), nullable=True),
    sa.Column('revoke_reason', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_suppressions_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions'))
    )
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suppressions_rule'), ['rule'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.BigInteger(), nullable=False),
    sa.Column('closed_at', sa.BigInteger(), nullable=True),
    sa.Column('disposition', sa.String(length=32), nullable=True),
    sa.Column('sanction', sa.String(length=32), nullable=True),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_closed_at'), ['closed_at'], unique=False)

    op.create_table('case_findings',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('finding_key', sa.String(length=64), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('risk', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=True),
    sa.Column('event_ids', sa.Text(), nullable=False),
    sa.Column('first_at', sa.BigInteger(), nullable=False),
    sa.Column('last_at', sa.BigInteger(), nullable=False),
    sa.Column('added_at', sa.BigInteger(), nullable=False),
    sa.Column('explanation', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_findings_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_findings')),
    sa.UniqueConstraint('finding_key', name=op.f('uq_case_findings_finding_key'))
    )
    with op.batch_alter_table('case_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_findings_case_id'), ['case_id'], unique=False)

    op.create_table('case_history',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disposition', sa.String(length=32), nullable=True),
    sa.Column('sanction', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.String(length=256), nullable=True),
    sa.Column('note', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_history_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_history')),
    sa.UniqueConstraint('case_id', 'position', name=op.f('uq_case_history_case_id_position'))
    )
    with op.batch_alter_table('case_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_history_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_history_at'), ['at'], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_history_append_only ON case_history")
        op.execute("DROP FUNCTION IF EXISTS case_history_append_only()")
    with op.batch_alter_table('case_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_history_at'))
        batch_op.drop_index(batch_op.f('ix_case_history_case_id'))
    op.drop_table('case_history')
    with op.batch_alter_table('case_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_findings_case_id'))
    op.drop_table('case_findings')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_closed_at'))
        batch_op.drop_index(batch_op.f('ix_cases_opened_at'))
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_user_id'))
    op.drop_table('cases')
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suppressions_rule'))
    op.drop_table('suppressions')
