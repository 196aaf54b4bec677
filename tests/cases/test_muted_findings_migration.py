"""Migration r0019 makes muted_findings as the model has it (SQLite and PostgreSQL), and takes it away
again; the marks are in the ledger of trusted rows."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditor import database
from auditor.vault import ledger


def test_r0019_makes_muted_findings_as_the_model_has_it(empty_records):
    engine, config = empty_records
    command.upgrade(config, "r0018")
    assert "muted_findings" not in inspect(engine).get_table_names()
    database.upgrade("records", engine)
    assert {i["name"] for i in inspect(engine).get_indexes("muted_findings")} == {"ix_muted_findings_case_id"}
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "muted_findings" in repr(d)] == []
    command.downgrade(config, "r0018")
    assert "muted_findings" not in inspect(engine).get_table_names()


def test_the_marks_are_in_the_ledger():
    assert ledger.LEDGER["muted_findings"][1] == "case_finding_id"
