"""Migration r0017 makes case_timelines as the model has it (SQLite and PostgreSQL), and takes it
away again; a case reviewed before it has no part, and its page reads the log (tests/review/test_timeline.py)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditor import database


def test_r0017_makes_case_timelines_as_the_model_has_it(empty_records):
    engine, config = empty_records
    command.upgrade(config, "r0016")
    assert "case_timelines" not in inspect(engine).get_table_names()
    database.upgrade("records", engine)
    assert {i["name"] for i in inspect(engine).get_indexes("case_timelines")} == {"ix_case_timelines_case_id"}
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "case_timelines" in repr(d)] == []
    command.downgrade(config, "r0016")
    assert "case_timelines" not in inspect(engine).get_table_names()
