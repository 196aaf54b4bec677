"""Migration r0015 makes the triage queue's indexes as the models have them (SQLite and PostgreSQL),
and takes them away again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditor import database

R0015 = {"case_findings": {"ix_case_findings_case_id_risk": ["case_id", "risk"],
                           "ix_case_findings_rule_case_id": ["rule", "case_id"],
                           "ix_case_findings_severity_case_id": ["severity", "case_id"]},
         "workforce": {"ix_workforce_department_user_id": ["department", "user_id"]}}


def _indexes(engine, table: str) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in inspect(engine).get_indexes(table) if i["name"] in R0015[table]}


def test_r0015_makes_the_queue_indexes_as_the_models_have_them(empty_records):
    engine, config = empty_records
    command.upgrade(config, "r0014")
    assert all(_indexes(engine, table) == {} for table in R0015)
    database.upgrade("records", engine)
    assert {table: _indexes(engine, table) for table in R0015} == R0015
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "case_findings" in repr(d) or "workforce" in repr(d)] == []
    command.downgrade(config, "r0014")
    assert all(_indexes(engine, table) == {} for table in R0015)
