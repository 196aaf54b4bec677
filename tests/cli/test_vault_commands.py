"""auditor init | db upgrade | keys rotate through the command line: database URLs that cannot work,
older homes brought up to date, rotation's reminder to back the keyring up."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from auditor import database
from auditor.home import create_home
from tests.cli.test_cli import one_line_error

PASSWORD = "s3cret-pw"


@pytest.mark.parametrize("url, why", [
    (f"postgresql+psycopg://u:{PASSWORD}@db.example:abc/records", "the database URL's port is not a number"),
    (f"postgresql+psycopg://u:{PASSWORD}@db.example:70000/records", "port 70000 is out of range"),
    (f"postgresql+psycopg://u:{PASSWORD}@db.example/", "the database URL names no database"),
    (f"postgres://u:{PASSWORD}@db.example/records", "unsupported database backend 'postgres': write postgresql+psycopg://"),
    (f"mysql://u:{PASSWORD}@db.example/records", "unsupported database backend 'mysql'"),
    (f"postgresql+nodriver://u:{PASSWORD}@db.example/records", "unknown database driver 'postgresql+nodriver'"),
    (f"u:{PASSWORD}@db.example/records", "the database URL is not a URL of the form backend://"),
    ("sqlite://", "a SQLite database URL must name a file"),
])
@pytest.mark.parametrize("option", ["--database-url", "--keystore-url"])
def test_init_with_a_malformed_url_says_what_is_wrong_and_makes_nothing(auditor, tmp_path, url, why, option):
    error = one_line_error(auditor("init", option, url))
    assert why in error and PASSWORD not in error
    assert not (tmp_path / "home").exists()


def test_init_on_postgresql_without_the_driver_names_the_pip_install(tmp_path):
    home = tmp_path / "home"
    # Python's own way to say a module is not installed: None in sys.modules makes its import fail
    program = "import sys; sys.modules['psycopg'] = None; from auditor.cli import main; main(sys.argv[1:])"
    url = f"postgresql+psycopg://auditor:{PASSWORD}@db.example/records"
    done = subprocess.run([sys.executable, "-c", program, "init", "--database-url", url], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "AUDITOR_HOME": str(home)})
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "driver 'psycopg' for postgresql+psycopg:// is not installed; run: pip install 'auditor[postgres]'" in done.stderr
    assert PASSWORD not in done.stderr and not home.exists()


def test_init_names_a_relative_sqlite_path_from_the_current_folder(auditor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert auditor("init", "--database-url", "sqlite:///elsewhere.db").code == 0
    settings = json.loads((tmp_path / "home" / "home.json").read_text())
    assert settings["database_url"] == f"sqlite:///{tmp_path.resolve() / 'elsewhere.db'}"
    assert settings["keystore_url"] == "sqlite:///keystore.db"  # in the home: relative to it
    monkeypatch.chdir(tmp_path / "home")
    assert auditor("keys", "status").code == 0


def test_keys_rotate_says_to_back_the_keyring_up_again(auditor, tmp_path):
    auditor("init")
    rotated = auditor("keys", "rotate")
    assert rotated.code == 0 and "retired kek-1" in rotated.out
    keyring = (tmp_path / "home" / "keyring.json").resolve()
    assert f"{keyring} changed: back it up again now" in rotated.out


# -- older homes -----------------------------------------------------------------------------------------

def _as_made_before_this_version(home) -> None:
    """What an older auditor left: absolute SQLite paths, no binding, key store at k0001, files 0644."""
    settings = json.loads((home / "home.json").read_text())
    settings.update(database_url=f"sqlite:///{home / 'records.db'}", keystore_url=f"sqlite:///{home / 'keystore.db'}")
    (home / "home.json").write_text(json.dumps(settings))
    os.chmod(home / "home.json", 0o600)
    for name, change in (("records.db", ["delete from vault_settings where name = 'keyring_fingerprint'"]),
                         ("keystore.db", ["drop table keystore_state",
                                          "update keystore_alembic_version set version_num = 'k0001'"])):
        con = sqlite3.connect(home / name)
        for statement in change:
            con.execute(statement)
        con.commit()
        con.close()  # the last connection gone, SQLite removes the -wal and -shm files
    for name in ("records.db", "keystore.db"):
        os.chmod(home / name, 0o644)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_db_upgrade_brings_an_older_home_up_to_date(auditor, tmp_path):
    auditor("init")
    home = (tmp_path / "home").resolve()
    _as_made_before_this_version(home)
    assert "the keystore database schema is at k0001" in one_line_error(auditor("keys", "status"))
    reader = sqlite3.connect(home / "records.db")  # an open WAL database: its -wal and -shm exist, 0644 too
    try:
        reader.execute("select count(*) from audit_events").fetchall()
        files = ["records.db", "records.db-wal", "records.db-shm", "keystore.db"]
        assert {name: _mode(home / name) for name in files} == dict.fromkeys(files, 0o644)
        upgraded = auditor("db", "upgrade")
        assert upgraded.code == 0, upgraded.err
        assert {name: _mode(home / name) for name in files} == dict.fromkeys(files, 0o600)
    finally:
        reader.close()
    lines = upgraded.out.splitlines()
    assert f"{home / 'home.json'}: SQLite files in the home named relative to it (a copy uses its own)" in lines
    for name in files:
        assert f"{home / name}: mode 0644 -> 0600 (readable by its owner only)" in lines
    assert f"records: already at {database.head_revision('records')}" in lines and "keystore: k0001 -> k0002" in lines
    assert lines[-1].startswith(f"records database and key store bound to keyring {home / 'keyring.json'} (sha256:")
    settings = json.loads((home / "home.json").read_text())
    assert (settings["database_url"], settings["keystore_url"]) == ("sqlite:///records.db", "sqlite:///keystore.db")

    assert auditor("keys", "status").code == 0 and auditor("keys", "rotate").code == 0
    again = auditor("db", "upgrade")
    assert again.code == 0 and len(again.out.splitlines()) == 2  # "already at" twice: nothing else to do


def test_db_upgrade_does_not_bind_a_keyring_from_another_vault(auditor, tmp_path, clock):
    auditor("init")
    home = (tmp_path / "home").resolve()
    create_home(tmp_path / "other", clock=clock).close()
    _as_made_before_this_version(home)
    ours = (home / "keyring.json").read_bytes()
    (home / "keyring.json").write_bytes((tmp_path / "other" / "keyring.json").read_bytes())
    error = one_line_error(auditor("db", "upgrade"))
    assert f"keyring {home / 'keyring.json'} cannot open the audit-log key" in error and "nothing was bound" in error
    (home / "keyring.json").write_bytes(ours)
    assert "bound to keyring" in auditor("db", "upgrade").out
    assert auditor("keys", "status").code == 0
