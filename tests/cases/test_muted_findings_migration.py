"""Migration r0019 makes muted_findings as the model has it (SQLite and PostgreSQL), and takes it away
again; the marks are in the ledger of trusted rows."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditor import database
from auditor.vault import ledger


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_r0019_makes_muted_findings_as_the_model_has_it(tmp_path, request, backend):
    url = (request.getfixturevalue("fresh_postgres_db")() if backend == "postgres"
           else f"sqlite:///{tmp_path / 'records.db'}")
    engine = database.connect(url, must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0018")
    assert "muted_findings" not in inspect(engine).get_table_names()
    database.upgrade("records", engine)
    assert {i["name"] for i in inspect(engine).get_indexes("muted_findings")} == {"ix_muted_findings_case_id"}
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "muted_findings" in repr(d)] == []
    command.downgrade(config, "r0018")
    assert "muted_findings" not in inspect(engine).get_table_names()
    engine.dispose()


def test_the_marks_are_in_the_ledger():
    assert ledger.LEDGER["muted_findings"][1] == "case_finding_id"
