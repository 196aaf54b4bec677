"""Every command run through the command line: success paths and one-line, exit-2 failures."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest

from auditor import database

from tests.cli.conftest import run_process
from tests.conftest import SYNTHEA

pytestmark = pytest.mark.skipif(not SYNTHEA.exists(), reason="../shared/data/synthea is not beside the checkout")


def one_line_error(result, code: int = 2) -> str:
    assert result.code == code, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


@pytest.fixture
def loaded(auditor, tmp_path):
    assert auditor("init").code == 0
    result = auditor("import", "synthea", str(SYNTHEA))
    assert result.code == 0, result.err
    return tmp_path / "home"


def a_patient_and_attending(home):
    """An MRN-free way to find a patient's attending: encounters hold internal ids only."""
    con = sqlite3.connect(home / "records.db")
    uid, pid = con.execute("select w.user_id, e.patient_id from encounters e join workforce w on w.id = e.attending_id "
                           "order by e.start desc limit 1").fetchone()
    return uid, pid


def test_init_creates_private_home_and_refuses_to_overwrite(auditor, tmp_path):
    result = auditor("init")
    assert result.code == 0 and "created vault home" in result.out
    keyring = tmp_path / "home" / "keyring.json"
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert "refusing to overwrite" in one_line_error(auditor("init"))


def test_init_with_passphrase_from_environment(auditor, monkeypatch):
    monkeypatch.setenv("AUDITOR_PASSPHRASE", "correct horse pewter sunrise")
    assert "passphrase-protected" in auditor("init").out
    assert auditor("keys", "status").code == 0
    monkeypatch.setenv("AUDITOR_PASSPHRASE", "wrong horse pewter sunrise")
    assert "wrong passphrase" in one_line_error(auditor("keys", "status"))
    monkeypatch.delenv("AUDITOR_PASSPHRASE")
    assert "protected by a passphrase" in one_line_error(auditor("keys", "status"))


def test_import_is_idempotent_and_records_show_reads_through_gateway(auditor, loaded):
    again = auditor("import", "synthea", str(SYNTHEA))
    assert "imported 0 patients, 0 workforce members, 0 encounters, 0 documents" in again.out
    from auditor.home import Vault
    from auditor.vault.gateway import AccessContext

    vault = Vault.open(loaded)
    uid, pid = a_patient_and_attending(loaded)
    mrn = vault.gateway.read_patients(AccessContext.service("report"), [pid])[pid].mrn
    vault.close()
    # years-old encounters: no treatment relationship today -> refused, audited
    assert "no treatment relationship" in one_line_error(auditor("records", "show", "--mrn", mrn, "--user", uid,
                                                                 "--purpose", "TREAT"))
    assert "break-glass needs a reason" in one_line_error(
        auditor("records", "show", "--mrn", mrn, "--user", uid, "--purpose", "TREAT", "--break-glass"))
    shown = auditor("records", "show", "--mrn", mrn, "--user", uid, "--purpose", "TREAT", "--break-glass",
                    "--reason", "unresponsive in the ED", "--format", "json")
    assert shown.code == 0, shown.err
    chart = json.loads(shown.out)
    assert chart["mrn"] == mrn and chart["access_basis"] == "break-glass" and chart["documents"]
    con = sqlite3.connect(loaded / "records.db")
    outcomes = con.execute("select outcome, break_glass, detail from audit_events where user_id = ? order by seq",
                           (uid,)).fetchall()
    assert [o[0] for o in outcomes] == ["denied", "denied", "success"]
    assert outcomes[-1][1] == 1
    reason = con.execute("select reason from audit_events where user_id = ? and outcome = 'success'", (uid,)).fetchone()[0]
    assert b"unresponsive" not in reason  # the typed reason is sealed too


def test_records_show_bad_input(auditor, loaded):
    uid, _ = a_patient_and_attending(loaded)
    assert "no such account syn-x" in one_line_error(
        auditor("records", "show", "--mrn", "NOPE", "--user", "syn-x", "--purpose", "TREAT"))
    assert "no patient with that MRN" in one_line_error(
        auditor("records", "show", "--mrn", "NOPE", "--user", uid, "--purpose", "TREAT"))
    assert "unknown purpose" in one_line_error(
        auditor("records", "show", "--mrn", "NOPE", "--user", uid, "--purpose", "SNOOP"))
    assert "Missing option" in one_line_error(auditor("records", "show", "--mrn", "X"))


def test_keys_status_and_rotate(auditor, loaded):
    status = auditor("keys", "status")
    assert "kek-1    primary" in status.out and "wraps 743 data keys" in status.out
    rotated = auditor("keys", "rotate")
    assert rotated.code == 0 and "retired kek-1" in rotated.out and "rewrapped 743" in rotated.out
    status = auditor("keys", "status")
    assert "kek-1    retired" in status.out and "kek-2    primary" in status.out
    assert auditor("audit", "verify").code == 0


def test_audit_verify_prove_and_detect_tampering(auditor, loaded, tmp_path):
    assert auditor("audit", "checkpoint").code == 0
    ok = auditor("audit", "verify")
    assert ok.code == 0 and "OK: the audit log verifies" in ok.out
    proof = auditor("audit", "prove", "7", "--out", str(tmp_path / "proof.json"))
    assert proof.code == 0
    checked = auditor("audit", "verify-proof", str(tmp_path / "proof.json"))
    assert checked.code == 0 and checked.out.startswith("OK: event 7 is included")
    forged = json.loads((tmp_path / "proof.json").read_text())
    forged["entry"] = forged["entry"].replace('"create"', '"delete"')
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert auditor("audit", "verify-proof", str(tmp_path / "forged.json")).code == 1
    (tmp_path / "junk.json").write_text("[1, 2]")
    assert "not an inclusion proof" in one_line_error(auditor("audit", "verify-proof", str(tmp_path / "junk.json")))
    con = sqlite3.connect(loaded / "records.db")
    (seq,) = con.execute("select max(seq) from audit_events where seq <= 42").fetchone()  # a row, not in a block
    assert con.execute("update audit_events set user_id = 'someone-else' where seq = ?", (seq,)).rowcount == 1
    con.commit()
    con.close()
    bad = auditor("audit", "verify")
    assert bad.code == 1 and f"first bad sequence number {seq}" in bad.out


def test_db_upgrade_is_a_no_op_on_a_current_home(auditor):
    auditor("init")
    result = auditor("db", "upgrade")
    heads = database.head_revision("records"), database.head_revision("keystore")
    assert result.code == 0 and heads[1] == "k0002"
    assert result.out.splitlines() == [f"records: already at {heads[0]}", f"keystore: already at {heads[1]}"]


def test_bad_homes_and_files_give_one_line(auditor, tmp_path, monkeypatch):
    assert "not a vault home" in one_line_error(auditor("keys", "status"))
    auditor("init")
    home = tmp_path / "home"
    os.chmod(home / "keyring.json", 0o644)
    assert "chmod 600" in one_line_error(auditor("keys", "status"))
    os.chmod(home / "keyring.json", 0o600)
    text = (home / "keyring.json").read_text()
    (home / "keyring.json").write_text(text.replace('"kek', '"kex', 1))
    assert "corrupted" in one_line_error(auditor("keys", "status"))
    (home / "keyring.json").write_text(text)
    assert "not a Synthea CSV export" in one_line_error(auditor("import", "synthea", str(tmp_path)))
    (home / "records.db").rename(tmp_path / "moved.db")
    assert "does not exist" in one_line_error(auditor("audit", "verify"))
    (tmp_path / "moved.db").rename(home / "records.db")
    con = sqlite3.connect(home / "records.db")
    con.execute("update alembic_version set version_num = 'r9999'")
    con.commit()
    con.close()
    assert "newer than this auditor" in one_line_error(auditor("keys", "status"))


def test_console_entry_point_and_demo(tmp_path):
    env = {**os.environ, "AUDITOR_HOME": str(tmp_path / "nohome")}
    help_text = run_process("--help", env=env)
    assert help_text.returncode == 0 and "records" in help_text.stdout
    missing = run_process("audit", "verify", env=env)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    demo = run_process("demo", "--out", str(tmp_path / "demo"), "--events", "4000", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "verifies against" in demo.stdout and "was refused" in demo.stdout
    assert "opened a chart through the gateway" in demo.stdout and "patient accesses" in demo.stdout
    lines = [line.strip() for line in demo.stdout.splitlines()]
    assert [line for line in lines if line.endswith((".html", ".pdf"))] == [
        str(tmp_path / "demo" / "report" / "report.html"), str(tmp_path / "demo" / "report" / "report.pdf")]
    assert lines[-4] == f"auditor serve --home {tmp_path / 'demo' / 'vault'}"  # the web app, one command away
    assert (tmp_path / "demo" / "report" / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "refusing" not in demo.stderr
    again = run_process("demo", "--out", str(tmp_path / "demo"), env=env)
    assert again.returncode == 2 and "not empty" in again.stderr


@pytest.mark.postgres
def test_init_on_postgresql_and_refuse_a_used_database(auditor, fresh_postgres_db, tmp_path, monkeypatch):
    records_url, keystore_url = fresh_postgres_db(), fresh_postgres_db()
    made = auditor("init", "--database-url", records_url, "--keystore-url", keystore_url)
    assert made.code == 0, made.err
    assert "postgresql+psycopg://postgres@" in made.out
    assert auditor("import", "synthea", str(SYNTHEA)).code == 0
    assert auditor("audit", "verify").code == 0
    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path / "second"))
    assert "is not empty" in one_line_error(auditor("init", "--database-url", records_url))
    assert not (tmp_path / "second" / "keyring.json").exists()  # nothing half-made
