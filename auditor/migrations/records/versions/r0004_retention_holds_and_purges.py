"""retention (auditor retention): legal holds and their history, purge runs, the patients each destroyed;
the audit log's archives (auditor audit archive) and the leaf hashes of archived events

Revision ID: r0004
Revises: r0003
Create Date: 2026-11-25 14:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'r0004'
down_revision = 'r0003'
branch_labels = None
depends_on = None

# A hold's history is append-only; a purge run and what it destroyed are kept permanently (the
# certificate of destruction): the database itself refuses to rewrite or delete them.
_APPEND_ONLY = ("retention_hold_history", "audit_archived_leaves", "audit_archives")
_NEVER_DELETED = ("retention_purges", "retention_purge_items")


def _sqlite_triggers() -> list[str]:
    out = []
    for table in _APPEND_ONLY:
        out.append(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    for table in _APPEND_ONLY + _NEVER_DELETED:
        out.append(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is kept permanently'); END")
    return out


def _postgres_triggers() -> list[str]:
    out = ["CREATE FUNCTION retention_kept() RETURNS trigger LANGUAGE plpgsql AS "
           "$$ BEGIN RAISE EXCEPTION '% is kept permanently', TG_TABLE_NAME; END $$"]
    for table in _APPEND_ONLY:
        out.append(f"CREATE TRIGGER {table}_kept BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION retention_kept()")
    for table in _NEVER_DELETED:
        out.append(f"CREATE TRIGGER {table}_kept BEFORE DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION retention_kept()")
    return out


def upgrade() -> None:
    # A suppression is the privacy office's record (164.530(j)) and outlives a purged patient: it names
    # the patient by internal id, like case findings and the audit log, without a foreign key.
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_suppressions_patient_id_patients', type_='foreignkey')

    op.create_table('retention_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=True),
    sa.Column('record_type', sa.String(length=32), nullable=True),
    sa.Column('covers_from', sa.Date(), nullable=True),
    sa.Column('covers_to', sa.Date(), nullable=True),
    sa.Column('authority', sa.String(length=256), nullable=False),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.LargeBinary(), nullable=False),
    sa.Column('placed_by', sa.String(length=128), nullable=False),
    sa.Column('placed_at', sa.BigInteger(), nullable=False),
    sa.Column('released_at', sa.BigInteger(), nullable=True),
    sa.Column('released_by', sa.String(length=128), nullable=True),
    sa.Column('release_reason', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_holds'))
    )
    with op.batch_alter_table('retention_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_holds_patient_id'), ['patient_id'], unique=False)

    op.create_table('retention_hold_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hold_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(['hold_id'], ['retention_holds.id'], name=op.f('fk_retention_hold_history_hold_id_retention_holds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_hold_history'))
    )
    with op.batch_alter_table('retention_hold_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_hold_history_hold_id'), ['hold_id'], unique=False)

    op.create_table('retention_purges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('schedule', sa.String(length=64), nullable=False),
    sa.Column('schedule_digest', sa.String(length=64), nullable=False),
    sa.Column('approver', sa.String(length=128), nullable=False),
    sa.Column('performer', sa.String(length=128), nullable=False),
    sa.Column('witness', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=False),
    sa.Column('finished_at', sa.BigInteger(), nullable=True),
    sa.Column('log_size', sa.BigInteger(), nullable=True),
    sa.Column('log_root', sa.String(length=64), nullable=True),
    sa.Column('certificate_html', sa.Text(), nullable=True),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_purges'))
    )
    with op.batch_alter_table('retention_purges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_purges_status'), ['status'], unique=False)

    op.create_table('retention_purge_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purge_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=False),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('record_types', sa.String(length=512), nullable=False),
    sa.Column('first_record', sa.Date(), nullable=True),
    sa.Column('last_record', sa.Date(), nullable=True),
    sa.Column('retain_until', sa.Date(), nullable=False),
    sa.Column('basis', sa.String(length=256), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=True),
    sa.Column('encounters', sa.Integer(), nullable=True),
    sa.Column('care_team', sa.Integer(), nullable=True),
    sa.Column('destroyed_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['purge_id'], ['retention_purges.id'], name=op.f('fk_retention_purge_items_purge_id_retention_purges')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_purge_items')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_retention_purge_items_patient_id'))
    )
    with op.batch_alter_table('retention_purge_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_purge_items_purge_id'), ['purge_id'], unique=False)

    op.create_table('audit_archived_leaves',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(), nullable=False),
    sa.Column('seal', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_archived_leaves'))
    )
    op.create_table('audit_archives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('before_us', sa.BigInteger(), nullable=False),
    sa.Column('file_name', sa.String(length=256), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_archives')),
    sa.UniqueConstraint('last_seq', name=op.f('uq_audit_archives_last_seq'))
    )

    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _sqlite_triggers(), "postgresql": _postgres_triggers()}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _APPEND_ONLY + _NEVER_DELETED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_kept ON {table}")
        op.execute("DROP FUNCTION IF EXISTS retention_kept()")
    op.drop_table('audit_archives')
    op.drop_table('audit_archived_leaves')
    for table, index in (('retention_purge_items', 'purge_id'), ('retention_purges', 'status'),
                         ('retention_hold_history', 'hold_id'), ('retention_holds', 'patient_id')):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_{index}'))
        op.drop_table(table)
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_suppressions_patient_id_patients', 'patients', ['patient_id'], ['id'])
