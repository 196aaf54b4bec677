"""Migration r0021 makes orders, appointments and authored_documents as the models have them (SQLite and
PostgreSQL), and takes them away again; the three tables are in the ledger of trusted rows."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditor import database
from auditor.vault import ledger

TABLES = ("orders", "appointments", "authored_documents")


def test_r0021_makes_the_tables_as_the_models_have_them(empty_records):
    engine, config = empty_records
    command.upgrade(config, "r0020")
    assert not set(TABLES) & set(inspect(engine).get_table_names())
    database.upgrade("records", engine)
    for table in TABLES:
        assert f"ix_{table}_patient_id" in {i["name"] for i in inspect(engine).get_indexes(table)}
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if any(t in repr(d) for t in TABLES)] == []
    command.downgrade(config, "r0020")
    assert not set(TABLES) & set(inspect(engine).get_table_names())


def test_the_tables_are_in_the_ledger_from_their_revision():
    assert all(ledger.LEDGER[t][1] == "id" for t in TABLES)
    assert ledger.ADDED_BY_REVISION["r0021"] == TABLES
