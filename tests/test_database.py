"""The records and key-store databases on SQLite: created private to their owner."""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import text

from auditor import database
from auditor.errors import ConfigurationError
from auditor.home import create_home


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_vault_s_database_files_are_readable_by_their_owner_only(tmp_path, clock):
    home = tmp_path / "vault"
    vault = create_home(home, passphrase="plum tuesday ladder quietly", clock=clock, scrypt_n=2**10)
    try:
        with vault.records.begin() as conn:  # the WAL and its index exist while a connection is open
            conn.execute(text("select 1"))
            files = sorted(p.name for p in home.iterdir() if p.name.startswith(("records.db", "keystore.db")))
            assert {"records.db", "records.db-wal", "records.db-shm", "keystore.db"} <= set(files)
            assert {name: _mode(home / name) for name in files} == {name: 0o600 for name in files}
    finally:
        vault.close()


def test_an_existing_database_file_keeps_its_mode(tmp_path):
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    database.connect(f"sqlite:///{path}", must_exist=False).dispose()
    assert _mode(path) == 0o640  # the operator's choice, not ours to change


def test_a_database_file_in_a_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot create database file .*No such file or directory"):
        database.connect(f"sqlite:///{tmp_path / 'missing' / 'records.db'}", must_exist=False)
