"""Migration r0018 makes feed_accounts as the model has it (SQLite and PostgreSQL), and takes it away
again; the accounts are in the ledger of trusted rows."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditor import database
from auditor.vault import ledger


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_r0018_makes_feed_accounts_as_the_model_has_it(tmp_path, request, backend):
    url = (request.getfixturevalue("fresh_postgres_db")() if backend == "postgres"
           else f"sqlite:///{tmp_path / 'records.db'}")
    engine = database.connect(url, must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0017")
    assert "feed_accounts" not in inspect(engine).get_table_names()
    database.upgrade("records", engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "feed_accounts" in repr(d)] == []
    command.downgrade(config, "r0017")
    assert "feed_accounts" not in inspect(engine).get_table_names()
    engine.dispose()


def test_the_feed_accounts_are_in_the_ledger():
    assert ledger.LEDGER["feed_accounts"][1] == "id"
