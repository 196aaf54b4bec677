"""initial records schema

Revision ID: r0001
Revises: 
Create Date: 2026-11-25 03:49:52.677078
"""
from alembic import op
import sqlalchemy as sa


revision = 'r0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at_us', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_event_id', sa.String(length=128), nullable=True),
    sa.Column('source_row_hash', sa.LargeBinary(), nullable=True),
    sa.Column('user_id', sa.String(length=128), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=True),
    sa.Column('record_type', sa.String(length=32), nullable=True),
    sa.Column('record_id', sa.String(length=64), nullable=True),
    sa.Column('fields', sa.String(length=512), nullable=True),
    sa.Column('purpose', sa.String(length=16), nullable=True),
    sa.Column('break_glass', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.LargeBinary(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=256), nullable=True),
    sa.Column('workstation', sa.String(length=128), nullable=True),
    sa.Column('leaf_hash', sa.LargeBinary(), nullable=False),
    sa.Column('seal', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('source', 'source_event_id', name=op.f('uq_audit_events_source_source_event_id'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_audit_events_user_time', ['user_id', 'at_us'], unique=False)

    op.create_table('audit_log_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('frontier', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log_head'))
    )
    op.create_table('patients',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.Column('mrn', sa.LargeBinary(), nullable=False),
    sa.Column('first_name', sa.LargeBinary(), nullable=True),
    sa.Column('last_name', sa.LargeBinary(), nullable=True),
    sa.Column('birth_date', sa.LargeBinary(), nullable=True),
    sa.Column('sex', sa.LargeBinary(), nullable=True),
    sa.Column('address_line', sa.LargeBinary(), nullable=True),
    sa.Column('city', sa.LargeBinary(), nullable=True),
    sa.Column('state', sa.LargeBinary(), nullable=True),
    sa.Column('postal_code', sa.LargeBinary(), nullable=True),
    sa.Column('phone', sa.LargeBinary(), nullable=True),
    sa.Column('mrn_bidx', sa.BigInteger(), nullable=False),
    sa.Column('name_dob_bidx', sa.BigInteger(), nullable=True),
    sa.Column('last_name_bidx', sa.BigInteger(), nullable=True),
    sa.Column('household_bidx', sa.BigInteger(), nullable=True),
    sa.Column('street_bidx', sa.BigInteger(), nullable=True),
    sa.Column('phone_bidx', sa.BigInteger(), nullable=True),
    sa.Column('vip', sa.Boolean(), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('deceased_on', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    sa.UniqueConstraint('mrn_bidx', name=op.f('uq_patients_mrn_bidx'))
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_household_bidx'), ['household_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_last_name_bidx'), ['last_name_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_name_dob_bidx'), ['name_dob_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_phone_bidx'), ['phone_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_street_bidx'), ['street_bidx'], unique=False)

    op.create_table('vault_settings',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_vault_settings'))
    )
    op.create_table('workforce',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.Column('first_name', sa.LargeBinary(), nullable=True),
    sa.Column('last_name', sa.LargeBinary(), nullable=True),
    sa.Column('birth_date', sa.LargeBinary(), nullable=True),
    sa.Column('address_line', sa.LargeBinary(), nullable=True),
    sa.Column('city', sa.LargeBinary(), nullable=True),
    sa.Column('state', sa.LargeBinary(), nullable=True),
    sa.Column('postal_code', sa.LargeBinary(), nullable=True),
    sa.Column('phone', sa.LargeBinary(), nullable=True),
    sa.Column('name_dob_bidx', sa.BigInteger(), nullable=True),
    sa.Column('last_name_bidx', sa.BigInteger(), nullable=True),
    sa.Column('household_bidx', sa.BigInteger(), nullable=True),
    sa.Column('street_bidx', sa.BigInteger(), nullable=True),
    sa.Column('phone_bidx', sa.BigInteger(), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('department', sa.String(length=128), nullable=True),
    sa.Column('hire_date', sa.Date(), nullable=True),
    sa.Column('termination_date', sa.Date(), nullable=True),
    sa.Column('shift_start', sa.String(length=5), nullable=True),
    sa.Column('shift_end', sa.String(length=5), nullable=True),
    sa.Column('patient_id', sa.BigInteger(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_workforce_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workforce')),
    sa.UniqueConstraint('user_id', name=op.f('uq_workforce_user_id'))
    )
    with op.batch_alter_table('workforce', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workforce_household_bidx'), ['household_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_workforce_last_name_bidx'), ['last_name_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_workforce_name_dob_bidx'), ['name_dob_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_workforce_phone_bidx'), ['phone_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_workforce_street_bidx'), ['street_bidx'], unique=False)

    op.create_table('care_team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=False),
    sa.Column('workforce_id', sa.BigInteger(), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=True),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('end', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_care_team_patient_id_patients')),
    sa.ForeignKeyConstraint(['workforce_id'], ['workforce.id'], name=op.f('fk_care_team_workforce_id_workforce')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_team'))
    )
    with op.batch_alter_table('care_team', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_team_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_team_workforce_id'), ['workforce_id'], unique=False)

    op.create_table('encounters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), nullable=False),
    sa.Column('department', sa.String(length=128), nullable=True),
    sa.Column('attending_id', sa.BigInteger(), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('end', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['attending_id'], ['workforce.id'], name=op.f('fk_encounters_attending_id_workforce')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_encounters_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_encounters')),
    sa.UniqueConstraint('source', 'source_id', name=op.f('uq_encounters_source_source_id'))
    )
    with op.batch_alter_table('encounters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_encounters_attending_id'), ['attending_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_encounters_patient_id'), ['patient_id'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=True),
    sa.Column('patient_id', sa.BigInteger(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=True),
    sa.Column('doc_type', sa.String(length=32), nullable=False),
    sa.Column('sensitivity', sa.String(length=32), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.LargeBinary(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounters.id'], name=op.f('fk_documents_encounter_id_encounters')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_documents_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('source', 'source_id', name=op.f('uq_documents_source_source_id'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_patient_id'), ['patient_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_patient_id'))

    op.drop_table('documents')
    with op.batch_alter_table('encounters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_encounters_patient_id'))
        batch_op.drop_index(batch_op.f('ix_encounters_attending_id'))

    op.drop_table('encounters')
    with op.batch_alter_table('care_team', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_team_workforce_id'))
        batch_op.drop_index(batch_op.f('ix_care_team_patient_id'))

    op.drop_table('care_team')
    with op.batch_alter_table('workforce', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workforce_street_bidx'))
        batch_op.drop_index(batch_op.f('ix_workforce_phone_bidx'))
        batch_op.drop_index(batch_op.f('ix_workforce_name_dob_bidx'))
        batch_op.drop_index(batch_op.f('ix_workforce_last_name_bidx'))
        batch_op.drop_index(batch_op.f('ix_workforce_household_bidx'))

    op.drop_table('workforce')
    op.drop_table('vault_settings')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_street_bidx'))
        batch_op.drop_index(batch_op.f('ix_patients_phone_bidx'))
        batch_op.drop_index(batch_op.f('ix_patients_name_dob_bidx'))
        batch_op.drop_index(batch_op.f('ix_patients_last_name_bidx'))
        batch_op.drop_index(batch_op.f('ix_patients_household_bidx'))

    op.drop_table('patients')
    op.drop_table('audit_log_head')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_user_time')
        batch_op.drop_index(batch_op.f('ix_audit_events_patient_id'))

    op.drop_table('audit_events')
