"""Migration r0017 makes case_timelines as the model has it (SQLite and PostgreSQL), and takes it
away again; a case reviewed before it has no part, and its page reads the log (tests/review/test_timeline.py)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditor import database


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_r0017_makes_case_timelines_as_the_model_has_it(tmp_path, request, backend):
    url = (request.getfixturevalue("fresh_postgres_db")() if backend == "postgres"
           else f"sqlite:///{tmp_path / 'records.db'}")
    engine = database.connect(url, must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0016")
    assert "case_timelines" not in inspect(engine).get_table_names()
    database.upgrade("records", engine)
    assert {i["name"] for i in inspect(engine).get_indexes("case_timelines")} == {"ix_case_timelines_case_id"}
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "case_timelines" in repr(d)] == []
    command.downgrade(config, "r0016")
    assert "case_timelines" not in inspect(engine).get_table_names()
    engine.dispose()
