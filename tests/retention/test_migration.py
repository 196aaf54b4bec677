"""Migration r0004 goes down and up again: the retention tables, their triggers, and the suppressions'
foreign key to patients (dropped so that a suppression outlives a purged patient)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from auditor import database

TABLES = {"retention_holds", "retention_hold_history", "retention_purges", "retention_purge_items"}


def _state(engine):
    inspector = inspect(engine)
    fks = [fk["referred_table"] for fk in inspector.get_foreign_keys("suppressions")]
    return TABLES & set(inspector.get_table_names()), fks


def test_r0004_down_and_up(tmp_path):
    engine = database.connect(f"sqlite:///{tmp_path / 'records.db'}", must_exist=False)
    database.upgrade("records", engine)
    assert _state(engine) == (TABLES, [])
    command.downgrade(database._alembic_config("records", engine), "r0003")
    assert _state(engine) == (set(), ["patients"])
    database.upgrade("records", engine)
    assert _state(engine) == (TABLES, [])
    with engine.connect() as conn:
        triggers = {r[0] for r in conn.exec_driver_sql("select name from sqlite_master where type = 'trigger'")}
    assert {"retention_hold_history_no_update", "retention_purges_no_delete",
            "retention_purge_items_no_delete"} <= triggers
    engine.dispose()
