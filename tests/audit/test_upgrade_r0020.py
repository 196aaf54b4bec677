"""A vault made before r0020 holds cases, findings, their history and legal holds that no ledger event
vouches for: `auditor db upgrade` records them once the log verifies, after which `audit verify` holds
them to the same standard as a new vault's, and an upgrade never vouches for them over a log that
does not verify.

The older vault is made by the older auditor itself: the package as it was at c870e7d (the last
commit before r0020), taken from this repository's history and run in a child process."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from auditor.vault.ledger import ADDED_BY_REVISION

BEFORE_R0020 = "c870e7d"
REPO = Path(__file__).resolve().parents[2]
TABLES = ("cases", "case_findings", "case_history", "retention_holds", "retention_hold_history", "disclosures",
          "roi_accounting_suspensions")
SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from auditor.cli import main
    from tests.signed_in import sign_in

    root, home = Path(sys.argv[1]), Path(os.environ["AUDITOR_HOME"])

    def run(*args):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            assert exc.code == 0, (args, exc.code)

    run("simulate", "--out", root / "export", "--seed", "3", "--events", "3000")
    run("init")
    run("ingest", root / "export", "--tz", "America/New_York")
    sign_in(home, "analyst")
    run("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json", "--out", root / "f.json")
    sign_in(home, "records")
    run("retention", "holds", "place", "--record-type", "encounter", "--reason", "Doe v. Hospital",
        "--authority", "General Counsel")
""")


@pytest.fixture(scope="module")
def older_vault(tmp_path_factory) -> Path:
    """A vault the older auditor made: a simulated month ingested, its findings in cases, a legal hold."""
    done = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", BEFORE_R0020, "auditor", "policies",
                           "reports", "pyproject.toml", "tests/__init__.py",
                           "tests/signed_in.py"], capture_output=True)
    if done.returncode:
        pytest.skip(f"no git history here to take the older auditor from: {done.stderr.decode().strip()}")
    older = tmp_path_factory.mktemp("older")
    tarfile.open(fileobj=io.BytesIO(done.stdout)).extractall(older, filter="data")
    root = tmp_path_factory.mktemp("older-vault")
    (root / "run").mkdir(mode=0o700)
    env = {**os.environ, "PYTHONPATH": str(older), "AUDITOR_HOME": str(root / "home"),
           "XDG_RUNTIME_DIR": str(root / "run")}
    env.pop("AUDITOR_PASSPHRASE", None)
    made = subprocess.run([sys.executable, "-c", SCRIPT, str(root)], env=env, cwd=root, capture_output=True,
                          text=True, timeout=600)
    assert made.returncode == 0, made.stderr
    return root / "home"


def _copy(tmp_path, older_vault) -> Path:
    home = tmp_path / "home"
    shutil.copytree(older_vault, home)
    (home / "home.json").write_text((home / "home.json").read_text().replace(str(older_vault), str(home)))
    return home


def _rows(home) -> int:
    with closing(sqlite3.connect(home / "records.db")) as conn:
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)


def test_the_casework_an_older_vault_holds_is_recorded_by_db_upgrade(auditor, tmp_path, older_vault):
    home = _copy(tmp_path, older_vault)
    rows = _rows(home)
    assert rows > 10
    upgraded = auditor("db", "upgrade")
    assert upgraded.code == 0, upgraded.err
    assert "records: r0019 -> r0" in upgraded.out  # to r0020 or a later head
    joined = {t for revision, tables in ADDED_BY_REVISION.items() if revision > "r0019" for t in tables}
    assert set(TABLES) <= joined  # (later revisions' tables, such as r0021's, start empty)
    assert f"recorded {rows} row(s) of {', '.join(sorted(joined))} in the audit log's ledger" in upgraded.out
    assert auditor("audit", "verify").code == 0
    again = auditor("db", "upgrade")
    assert again.code == 0 and "recorded" not in again.out

    with closing(sqlite3.connect(home / "records.db")) as conn:  # from now on, held to the ledger
        # a severity other than the row's own (its id is drawn at random: the first may already be low)
        conn.execute("UPDATE case_findings SET severity = CASE severity WHEN 'low' THEN 'high' ELSE 'low' END "
                     "WHERE id = (SELECT min(id) FROM case_findings)")
        conn.commit()
    checked = auditor("audit", "verify")
    assert checked.code == 1 and "row-edited: case_findings row" in checked.out


def test_the_upgrade_vouches_for_no_casework_when_the_log_does_not_verify(auditor, tmp_path, older_vault):
    home = _copy(tmp_path, older_vault)
    backup = (home / "records.db").read_bytes()
    with closing(sqlite3.connect(home / "records.db")) as conn:
        conn.execute("UPDATE audit_events SET user_id = 'mallory' WHERE seq = (SELECT max(seq) FROM audit_events)")
        conn.commit()
    upgraded = auditor("db", "upgrade")
    assert upgraded.code == 2 and upgraded.err.count("\n") == 1
    assert "does not verify" in upgraded.err and "recorded no row of" in upgraded.err
    (home / "records.db").write_bytes(backup)  # the backup, from before the upgrade
    upgraded = auditor("db", "upgrade")
    assert upgraded.code == 0 and "recorded" in upgraded.out, upgraded.err
    assert auditor("audit", "verify").code == 0
