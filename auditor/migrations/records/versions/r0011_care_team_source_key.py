"""care team: rows read from an export are known by their source and their start as the file writes it

An ingest recognised a care-team row it had loaded by (patient, member, start in UTC); the UTC start
depends on the time zone the file is read in, so the same export ingested with another `--tz` doubled
the care team (605 rows became 1,210), widening the windows that explain accesses. Rows loaded before
this revision keep no key (NULL: distinct under the constraint) and are recognised by their UTC start;
the next ingest in the zone they were loaded in gives them their key.

Revision ID: r0011
Revises: r0010
Create Date: 2026-12-03 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'r0011'
down_revision = 'r0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('care_team', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_start', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_care_team_source_patient_id_workforce_id_source_start'),
                                          ['source', 'patient_id', 'workforce_id', 'source_start'])


def downgrade() -> None:
    with op.batch_alter_table('care_team', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_care_team_source_patient_id_workforce_id_source_start'), type_='unique')
        batch_op.drop_column('source_start')
        batch_op.drop_column('source')
