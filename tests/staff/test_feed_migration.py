"""Migration r0018 makes feed_accounts as the model has it (SQLite and PostgreSQL), and takes it away
again; the accounts are in the ledger of trusted rows. r0022 adds a client certificate's hash, and an
account made before it keeps its seal."""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, insert, inspect, select

from auditor import database
from auditor.staff.seals import StaffSeals
from auditor.vault import ledger


def test_r0018_makes_feed_accounts_as_the_model_has_it(empty_records):
    engine, config = empty_records
    command.upgrade(config, "r0017")
    assert "feed_accounts" not in inspect(engine).get_table_names()
    database.upgrade("records", engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "feed_accounts" in repr(d)] == []
    command.downgrade(config, "r0017")
    assert "feed_accounts" not in inspect(engine).get_table_names()


def test_the_feed_accounts_are_in_the_ledger():
    assert ledger.LEDGER["feed_accounts"][1] == "id"


def test_r0022_adds_the_client_certificate_hash_and_an_older_account_keeps_its_seal(empty_records):
    engine, config = empty_records
    command.upgrade(config, "r0021")
    seals = StaffSeals(b"k" * 32)
    values = {"id": 7, "name": "epic", "scopes": "feed", "token_hash": b"h" * 32, "revoked_at": None,
              "created_at": datetime(2026, 12, 1, tzinfo=timezone.utc), "created_by": "admin"}
    before = Table("feed_accounts", MetaData(), autoload_with=engine)
    assert "cert_sha256" not in before.c
    with engine.begin() as conn:
        conn.execute(insert(before).values(**{**values, "created_at": 1_796_083_200_000_000}, seal=seals.feed(values)))
    database.upgrade("records", engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
        row = conn.execute(select(database.RecordsBase.metadata.tables["feed_accounts"])).one()
    assert [d for d in differences if "feed_accounts" in repr(d)] == []
    assert row.cert_sha256 is None and seals.matches(seals.feed(row._mapping), row.seal)  # still its seal
    assert seals.feed({**row._mapping, "cert_sha256": b"c" * 32}) != row.seal  # a hash added breaks it
    command.downgrade(config, "r0021")
    assert "cert_sha256" not in {c["name"] for c in inspect(engine).get_columns("feed_accounts")}
