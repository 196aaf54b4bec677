"""Migration r0012 makes the staff tables as the models have them, and takes them away again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditor import database
from auditor.vault import ledger


def test_r0012_makes_the_staff_tables_as_the_models_have_them(tmp_path):
    engine = database.connect(f"sqlite:///{tmp_path / 'old.db'}", must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0011")
    database.upgrade("records", engine)
    assert {"staff_accounts", "staff_sessions"} <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "staff" in repr(d)] == []
    command.downgrade(config, "r0011")
    assert not {"staff_accounts", "staff_sessions"} & set(inspect(engine).get_table_names())
    engine.dispose()


def test_the_accounts_are_in_the_ledger_and_the_sessions_are_not():
    assert ledger.LEDGER["staff_accounts"][1] == "id"
    assert "staff_sessions" not in ledger.LEDGER  # touched at every request; sealed instead (auditor.staff.seals)
