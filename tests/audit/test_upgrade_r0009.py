"""A vault made before r0009 (no sealed block headers, no signed archives, no ledger of the rows the
engine trusts) is brought up by `auditor db upgrade`: its log is verified first, then its block
headers are sealed from their events and its rows recorded, after which `audit verify` holds it to
the same standard as a new vault. An upgrade never vouches for a log that does not verify.

The older vault is made by the older auditor itself: the package as it was at 6a11089 (the last
commit before r0009), taken from this repository's history and run in a child process."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from contextlib import closing
from pathlib import Path

import pytest

BEFORE_R0009 = "6a11089"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def older_auditor(tmp_path_factory) -> Path:
    """The package, policies and reports as they were before r0009, unpacked from git."""
    done = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", BEFORE_R0009, "auditor", "policies",
                           "reports"], capture_output=True)
    if done.returncode:
        pytest.skip(f"no git history here to take the older auditor from: {done.stderr.decode().strip()}")
    root = tmp_path_factory.mktemp("older")
    tarfile.open(fileobj=io.BytesIO(done.stdout)).extractall(root, filter="data")
    return root


@pytest.fixture(scope="module")
def older_vault(older_auditor, tmp_path_factory) -> Path:
    """A vault the older auditor made and filled: init, and a simulated month ingested."""
    root = tmp_path_factory.mktemp("older-vault")
    env = {**os.environ, "PYTHONPATH": str(older_auditor), "AUDITOR_HOME": str(root / "home")}
    env.pop("AUDITOR_PASSPHRASE", None)
    for args in (["simulate", "--out", str(root / "export"), "--seed", "3", "--events", "3000"], ["init"],
                 ["ingest", str(root / "export"), "--tz", "America/New_York"]):
        made = subprocess.run([sys.executable, "-m", "auditor", *args], env=env, cwd=root, capture_output=True,
                              text=True, timeout=300)
        assert made.returncode == 0, made.stderr
    return root / "home"


def _ingested(auditor, tmp_path, older_vault):
    """A copy of the older vault (its home.json names its own files: rewritten for the copy)."""
    home = tmp_path / "home"
    shutil.copytree(older_vault, home)
    settings = (home / "home.json").read_text().replace(str(older_vault), str(home))
    (home / "home.json").write_text(settings)
    return home


def test_an_older_vault_is_sealed_and_recorded_by_db_upgrade(auditor, tmp_path, older_vault):
    home = _ingested(auditor, tmp_path, older_vault)
    with closing(sqlite3.connect(home / "records.db")) as conn:  # a row an older version wrote (no ledger then)
        conn.execute("INSERT INTO care_team (patient_id, workforce_id, role, start) "
                     "SELECT (SELECT min(id) FROM patients), (SELECT min(id) FROM workforce), 'nurse', 0")
        conn.commit()
    assert auditor("audit", "verify").code == 2  # the schema is behind: one line, run db upgrade

    upgraded = auditor("db", "upgrade")
    assert upgraded.code == 0, upgraded.err
    assert "records: r0008 -> " in upgraded.out
    with closing(sqlite3.connect(home / "records.db")) as conn:
        rows = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                   for t in ("patients", "workforce", "encounters", "care_team", "documents", "suppressions",
                             "vault_settings"))
    assert f"recorded {rows} row(s) in the audit log's ledger" in upgraded.out  # the slipped-in row too
    sealed = int(upgraded.out.split("sealed ")[1].split(" block header")[0])
    assert sealed >= 1

    checked = auditor("audit", "verify")
    assert checked.code == 0, checked.out
    again = auditor("db", "upgrade")
    assert again.code == 0 and "sealed" not in again.out  # nothing more to vouch for


def test_an_upgrade_vouches_for_nothing_when_the_log_does_not_verify(auditor, tmp_path, older_vault):
    home = _ingested(auditor, tmp_path, older_vault)
    with closing(sqlite3.connect(home / "records.db")) as conn:
        conn.execute("UPDATE audit_events SET user_id = 'mallory' WHERE seq = 5")
        conn.commit()
    upgraded = auditor("db", "upgrade")
    assert upgraded.code == 2
    assert "does not verify" in upgraded.err and "sealed nothing" in upgraded.err
    with closing(sqlite3.connect(home / "records.db")) as conn:
        assert conn.execute("SELECT count(*) FROM audit_event_blocks WHERE header_seal IS NOT NULL").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM audit_events WHERE record_type LIKE 'table:%'").fetchone() == (0,)


def test_once_the_log_is_restored_the_upgrade_is_finished_by_running_it_again(auditor, tmp_path, older_vault):
    home = _ingested(auditor, tmp_path, older_vault)
    backup = (home / "records.db").read_bytes()
    with closing(sqlite3.connect(home / "records.db")) as conn:
        conn.execute("UPDATE audit_events SET user_id = 'mallory' WHERE seq = 5")
        conn.commit()
    assert auditor("db", "upgrade").code == 2
    (home / "records.db").write_bytes(backup)  # the backup, from before the upgrade
    assert auditor("db", "upgrade").code == 0
    assert auditor("audit", "verify").code == 0
