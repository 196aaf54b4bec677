"""Every SQLite connection of a vault commits durably: the write-ahead log (readers never block the
writer) and synchronous=FULL (a commit is on disk before it returns, so an access shown to its user
never loses its audit event to a power cut). synchronous is a setting of each connection, not of the
file, so it is checked on several connections at once, as the pool hands them out, and on a vault
opened again."""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack

from sqlalchemy import Connection, text

from auditor.database import read_snapshot
from auditor.home import Vault

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _settings(conn: Connection) -> dict[str, object]:
    return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}


def _durable(engine) -> list[dict[str, object]]:
    """The settings of three connections held at once: two readers' (snapshots) and a writer's."""
    with ExitStack() as held:
        readers = [read_snapshot(held.enter_context(engine.connect())) for _ in range(2)]
        for reader in readers:
            reader.execute(text("select 1"))
        writer = held.enter_context(engine.begin())  # BEGIN IMMEDIATE: the readers do not block it
        held_now = [*readers, writer]
        assert len({id(c.connection.dbapi_connection) for c in held_now}) == 3
        return [_settings(c) for c in held_now]


def test_every_connection_of_a_vault_is_wal_and_synchronous_full(sqlite_vault, clock):
    want = {"journal_mode": "wal", "synchronous": FULL, "foreign_keys": 1, "busy_timeout": 60000}
    for engine in (sqlite_vault.records, sqlite_vault.keystore):
        assert _durable(engine) == [want] * 3, engine.url
    again = Vault.open(sqlite_vault.home, clock=clock)
    try:
        for engine in (again.records, again.keystore):
            assert _durable(engine) == [want] * 3, engine.url
    finally:
        again.close()


def test_the_database_files_themselves_are_in_wal_mode(sqlite_vault):
    sqlite_vault.close()
    for name in ("records.db", "keystore.db"):
        path = sqlite_vault.home / name
        assert path.read_bytes()[18:20] == b"\x02\x02", name  # file format: WAL for writing and reading
        with sqlite3.connect(path) as plain:  # any other tool opening the file sees WAL too
            assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
