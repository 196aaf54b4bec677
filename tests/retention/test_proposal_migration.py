"""Migration r0014 makes the purge proposals' table and the purge run's proposer as the models have
them (SQLite and PostgreSQL), keeps the r0004 triggers of the purge runs, and takes both away again."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from auditor import database
from auditor.vault import ledger


def test_r0014_makes_the_proposals_as_the_models_have_them(empty_records):
    engine, config = empty_records
    command.upgrade(config, "r0013")
    database.upgrade("records", engine)
    assert "retention_purge_proposals" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "retention_purge" in repr(d)] == []
    with engine.begin() as conn:
        conn.exec_driver_sql("insert into retention_purges (as_of, schedule, schedule_digest, approver, performer, "
                             "proposer, status, started_at) values ('2026-11-02', 'default', 'd', 'b', 'b', 'a', "
                             "'running', 0)")
    with pytest.raises(DBAPIError):  # a purge run is kept permanently still (r0004)
        with engine.begin() as conn:
            conn.exec_driver_sql("delete from retention_purges")
    command.downgrade(config, "r0013")
    assert "retention_purge_proposals" not in inspect(engine).get_table_names()
    assert "proposer" not in {c["name"] for c in inspect(engine).get_columns("retention_purges")}


def test_the_proposals_are_in_the_ledger():
    assert ledger.LEDGER["retention_purge_proposals"][1] == "id"
