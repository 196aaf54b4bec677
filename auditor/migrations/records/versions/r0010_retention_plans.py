"""retention plans (auditor retention plan): the patients a plan found eligible and their digest, and
the plan each purge carries out

A purge destroys exactly the patients of a plan that was printed and reviewed; the plan's digest is
also in its audit event. Plans are append-only: the database refuses to rewrite or delete them.

Revision ID: r0010
Revises: r0009
Create Date: 2026-12-03 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'r0010'
down_revision = 'r0009'
branch_labels = None
depends_on = None

_PLANS = ("retention_plans", "retention_plan_patients")


def _triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                for table in _PLANS for verb in ("UPDATE", "DELETE")]
    if dialect == "postgresql":  # retention_kept() comes with r0004
        return [f"CREATE TRIGGER {table}_kept BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION retention_kept()" for table in _PLANS]
    return []


def upgrade() -> None:
    op.create_table('retention_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('schedule', sa.String(length=64), nullable=False),
    sa.Column('schedule_digest', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('eligible', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_plans'))
    )
    op.create_table('retention_plan_patients',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('data_key_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['retention_plans.id'], name=op.f('fk_retention_plan_patients_plan_id_retention_plans')),
    sa.PrimaryKeyConstraint('plan_id', 'patient_id', name=op.f('pk_retention_plan_patients'))
    )
    # A plain ADD COLUMN (no batch copy of the table, which would drop its r0004 triggers).
    op.add_column('retention_purges', sa.Column('plan_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_retention_purges_plan_id'), 'retention_purges', ['plan_id'], unique=False)
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _PLANS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_kept ON {table}")
    op.drop_index(op.f('ix_retention_purges_plan_id'), table_name='retention_purges')
    op.drop_column('retention_purges', 'plan_id')
    op.drop_table('retention_plan_patients')
    op.drop_table('retention_plans')
