"""auditor retention schedules | plan | purge | certificate | holds, run through the CLI in-process."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.retention.schedules import load_schedules
from auditor.home import Vault
from auditor.vault.settings import set_organisation_timezone
from auditor.vault.gateway import AccessContext
from tests.conftest import FAST_SCRYPT
from tests.retention.hospital import build
from tests.signed_in import PASSWORD, sign_in, totp_code


@pytest.fixture
def ids(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    try:
        return build(vault)
    finally:
        vault.close()


def _count(tmp_path, table):
    con = sqlite3.connect(tmp_path / "home" / "records.db")
    try:
        return con.execute(f"select count(*) from {table}").fetchone()[0]
    finally:
        con.close()


def test_schedules_are_listed_and_a_bad_folder_is_every_problem(auditor, tmp_path):
    ok = auditor("retention", "schedules")
    assert ok.code == 0 and "NC: North Carolina hospitals" in ok.out and "minors until 18 + 12 years" in ok.out
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.yaml").write_text("id: x\nstate: TX\ntitle: t\nadult_years: 4\nminors: {}\n")
    bad = auditor("retention", "schedules", "--schedules", str(tmp_path / "bad"))
    assert bad.code == 2 and "x.yaml:4: 4 years is below the 5-year Medicare floor" in bad.err
    assert len(bad.err.strip().splitlines()) == 3  # the floor and the two missing minors settings


def test_plan_holds_purge_and_certificate(auditor, ids, tmp_path, clock):
    placed = auditor("retention", "holds", "place", "--mrn", "IMG", "--reason", "Doe v. Hospital",
                     "--authority", "General Counsel", clock=clock, user="records")
    assert placed.code == 0 and placed.out.strip() == "legal hold 1 placed"
    listed = auditor("retention", "holds", "list", clock=clock, user="records")
    assert listed.code == 0 and f"1 [in force] patient {ids['IMG']}; General Counsel" in listed.out
    assert "Doe v. Hospital" in listed.out

    plan = auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records")
    assert plan.code == 0, plan.err
    assert plan.out.startswith("retention plan on 2026-11-02 under default (default): 4 eligible, 1 held, 2 retained, "
                               "1 permanent, 0 referenced, 0 no records")
    assert f"held: patient {ids['IMG']} MRN IMG" in plan.out and "hold 1 (General Counsel: patient" in plan.out
    digest = re.search(r"^plan 1 recorded: 4 patient\(s\) to destroy, patients sha256 ([0-9a-f]{64})$", plan.out, re.M)[1]
    assert plan.out.rstrip().endswith("review it, then: auditor retention purge --plan 1")
    data = json.loads(auditor("retention", "plan", "--as-of", "2026-11-02", "--format", "json", clock=clock, user="records").out)
    assert sorted(p["mrn"] for p in data["patients"] if p["status"] == "eligible") == ["OLD-1", "OLD-2", "OLD-3",
                                                                                        "TEEN-DONE"]
    assert data["plan"] == {"id": 2, "digest": digest, "eligible": 4}  # the same patients, the same digest

    purge = auditor("retention", "purge", "--plan", "1", "--witness", "witness", "--witness-password-stdin",
                    "--witness-totp", totp_code(None, "witness", clock.at), "--no-pdf", "--yes", clock=clock,
                    user="records", input=PASSWORD + "\n")
    assert purge.code == 0, purge.err
    assert purge.out.startswith(f"plan 1: destroy the records of 4 patient(s) eligible on 2026-11-02 under default "
                                f"(patients sha256 {digest})\n")
    assert "purge 1 finished: 4 patient(s) destroyed by crypto-shredding" in purge.out
    path = tmp_path / "home" / "certificates" / "certificate-of-destruction-1.html"
    assert f"certificate (html): {path}" in purge.out and path.stat().st_mode & 0o777 == 0o600
    assert _count(tmp_path, "patients") == 4 and f"plan 1, recorded" in path.read_text() and digest in path.read_text()
    signed = re.sub(r"\s+", " ", path.read_text())
    assert ("<dt>Approved by</dt><dd>records</dd>" in signed and "<dt>Performed by</dt><dd>records</dd>" in signed
            and "<dt>Witnessed by</dt><dd>witness</dd>" in signed)

    shown = auditor("retention", "certificate", "1", clock=clock, user="records")
    assert shown.code == 0 and shown.out.rstrip("\n") == path.read_text().rstrip("\n")
    again = auditor("retention", "purge", "--plan", "1", "--no-pdf", "--yes", clock=clock, user="records")
    assert again.code == 2 and again.err == "auditor: plan 1 was carried out by purge 1: record and review a new plan\n"
    stale = auditor("retention", "purge", "--plan", "2", "--no-pdf", "--yes", clock=clock, user="records")
    assert stale.code == 2 and "the eligible patients changed since plan 2 was recorded (4 no longer eligible" in stale.err
    assert "no patient is eligible: no plan recorded" in auditor("retention", "plan", "--as-of", "2026-11-02",
                                                                 clock=clock, user="records").out

    released = auditor("retention", "holds", "release", "1", "--reason", "settled", clock=clock, user="records")
    assert released.code == 0 and "legal hold 1 released" in released.out
    assert "[released]" in auditor("retention", "holds", "list", clock=clock, user="records").out
    verify = auditor("audit", "verify", clock=clock)
    assert verify.code == 0, verify.out


def test_a_purge_without_a_terminal_needs_yes(auditor, ids, tmp_path, clock):
    assert auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records").code == 0
    refused = auditor("retention", "purge", "--plan", "1", "--no-pdf", clock=clock, user="records")
    assert refused.code == 2 and refused.out.startswith("plan 1: destroy the records of 5 patient(s)")
    assert refused.err == ("auditor: nothing destroyed: a purge asks for confirmation at a terminal; add --yes to "
                           "confirm from a script\n")
    named = auditor("retention", "purge", "--plan", "1", "--approver", "Dr. A. Approver", "--yes", clock=clock,
                    user="records")
    assert named.code == 2 and named.err == ("auditor: --approver is gone: the signed-in records manager approves and "
                                             "performs a purge: auditor login USER\n")
    assert _count(tmp_path, "patients") == 8 and _count(tmp_path, "retention_purges") == 0


def _at_a_terminal(args: list[str], answer: bytes, home: Path) -> tuple[int, str]:
    """`auditor ARGS` in a child process on a pseudo-terminal (the system clock), answering the prompt."""
    env = dict(os.environ, AUDITOR_HOME=str(home), PYTHONPATH=str(Path(__file__).parents[2]))
    env.pop("AUDITOR_PASSPHRASE", None)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "auditor", *args], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out, answered, deadline = b"", False, time.monotonic() + 120
    try:
        while time.monotonic() < deadline and (proc.poll() is None or select.select([master], [], [], 0)[0]):
            if not select.select([master], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            out += chunk
            if not answered and b"Destroy them? [y/N]" in out:
                os.write(master, answer)
                answered = True
        return proc.wait(timeout=30), out.decode().replace("\r\n", "\n")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_at_a_terminal_a_purge_asks_and_no_destroys_nothing(auditor, ids, tmp_path, clock):
    assert auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records").code == 0
    args = ["retention", "purge", "--plan", "1", "--no-pdf"]
    sign_in(None, "records")  # the child process runs on the system clock
    code, out = _at_a_terminal(args, b"n\n", tmp_path / "home")
    assert code == 1 and "plan 1: destroy the records of 5 patient(s) eligible on 2026-11-02" in out, out
    assert "Destroy them? [y/N]: n\nnot confirmed: nothing destroyed" in out
    assert _count(tmp_path, "patients") == 8 and _count(tmp_path, "retention_purges") == 0
    code, out = _at_a_terminal(args, b"y\n", tmp_path / "home")
    assert code == 0 and "purge 1 finished: 5 patient(s) destroyed by crypto-shredding" in out, out
    assert _count(tmp_path, "patients") == 3


def test_a_day_to_come_is_refused_in_the_organisation_s_time_zone(auditor, ids, tmp_path):
    vault = Vault.open(tmp_path / "home")
    set_organisation_timezone(vault.gateway, ZoneInfo("America/New_York"))
    vault.close()
    evening = FixedClock(datetime(2026, 11, 3, 3, 0, tzinfo=timezone.utc))  # 2026-11-02, 22:00 in New York
    sign_in(None, "records", evening.at)  # its events before the count
    events = _count(tmp_path, "audit_events")
    for args in (("retention", "plan", "--as-of", "2026-11-03"), ("retention", "plan", "--as-of", "2040-01-01")):
        refused = auditor(*args, clock=evening, user="records")
        assert refused.code == 2 and refused.err == (f"auditor: {args[-1]} is after today (2026-11-02): records go only "
                                                     "once their retention has run out, so a plan is made for today or a "
                                                     "day before\n")
    assert _count(tmp_path, "audit_events") == events and _count(tmp_path, "retention_plans") == 0
    assert auditor("retention", "plan", "--as-of", "2026-11-02", clock=evening, user="records").code == 0


def test_purge_as_of_is_refused_with_the_commands_to_run(auditor, ids, tmp_path, clock):
    refused = auditor("retention", "purge", "--as-of", "2040-01-01", "--yes", clock=clock, user="records")
    assert refused.code == 2 and refused.err == ("auditor: a purge carries out a reviewed plan: run auditor retention "
                                                 "plan --as-of DAY (today or a day before), review it, then auditor "
                                                 "retention purge --plan ID\n")
    neither = auditor("retention", "purge", "--yes", clock=clock, user="records")
    assert neither.code == 2 and "give --plan ID, the plan printed by: auditor retention plan --as-of DAY" in neither.err
    assert _count(tmp_path, "patients") == 8 and _count(tmp_path, "retention_purges") == 0


def test_a_purge_begun_for_a_day_to_come_before_plans_is_finished_without_the_retained(auditor, ids, tmp_path, clock):
    """An older auditor's `purge --as-of 2040-01-01`, killed before it destroyed anything: run again,
    it destroys only the patients eligible today and withdraws the others."""
    with sqlite3.connect(tmp_path / "home" / "records.db") as con:
        keys = dict(con.execute("select id, data_key_id from patients"))
        con.execute("insert into retention_purges (id, as_of, schedule, schedule_digest, approver, performer, status, "
                    "started_at) values (1, '2040-01-01', 'default', ?, 'X', 'X', 'running', 0)",
                    (load_schedules()["default"].digest,))
        for mrn in ("OLD-1", "RECENT", "KID"):
            con.execute("insert into retention_purge_items (purge_id, patient_id, data_key_id, state, record_types, "
                        "retain_until, basis) values (1, ?, ?, 'pending', 'encounter', '2030-01-01', 'b')",
                        (ids[mrn], keys[ids[mrn]]))
    other = auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records")
    assert other.code == 0
    blocked = auditor("retention", "purge", "--plan", "1", "--yes", "--no-pdf", clock=clock, user="records")
    assert blocked.code == 2 and blocked.err == ("auditor: purge 1 is unfinished: finish it first with: auditor "
                                                 "retention purge --as-of 2040-01-01 (schedule default)\n")
    done = auditor("retention", "purge", "--as-of", "2040-01-01", "--yes", "--no-pdf", clock=clock, user="records")
    assert done.code == 0, done.err
    assert "purge 1 resumed and finished: 1 patient(s) destroyed by crypto-shredding, 2 withdrawn" in done.out
    assert _count(tmp_path, "patients") == 7


def test_certificate_out_is_private_and_an_unwritable_out_is_one_line(auditor, ids, tmp_path, clock):
    auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records")
    assert auditor("retention", "purge", "--plan", "1", "--no-pdf", "--yes", clock=clock, user="records").code == 0
    out = tmp_path / "copy.html"
    written = auditor("retention", "certificate", "1", "--out", str(out), clock=clock, user="records")
    assert written.code == 0 and out.stat().st_mode & 0o777 == 0o600 and "<h1>Certificate of destruction" in out.read_text()
    for bad, reason in ((tmp_path / "missing" / "c.html", "no such folder"), (tmp_path, "is a directory"), (out / "c.html", "no such folder")):
        refused = auditor("retention", "certificate", "1", "--out", str(bad), clock=clock, user="records")
        assert refused.code == 2 and reason in refused.err and refused.err.count("\n") == 1


def test_a_full_disk_leaves_no_certificate_and_the_same_command_finishes(auditor, ids, tmp_path, clock, full_disk):
    home = tmp_path / "home"
    (home / "certificates").symlink_to(full_disk, target_is_directory=True)
    auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records")
    purge = ("retention", "purge", "--plan", "1", "--yes")
    failed = auditor(*purge, clock=clock, user="records")
    assert failed.code == 2 and "No space left on device" in failed.err and failed.err.count("\n") == 1
    assert [p.name for p in full_disk.iterdir() if "certificate" in p.name] == []
    assert _count(tmp_path, "patients") == 3  # destroyed; the run is open until its certificate is written
    (home / "certificates").unlink()
    finished = auditor(*purge, clock=clock, user="records")
    assert finished.code == 0 and "purge 1 resumed and finished: 5 patient(s) destroyed" in finished.out
    assert sorted(p.name for p in (home / "certificates").iterdir()) == ["certificate-of-destruction-1.html",
                                                                         "certificate-of-destruction-1.pdf"]


@pytest.mark.parametrize("args, message", [
    (("retention", "plan", "--as-of", "2026-13-01"), "--as-of '2026-13-01' is not a YYYY-MM-DD date"),
    (("retention", "plan", "--as-of", "2026-11-02", "--state", "TX"), "no retention schedule for state 'TX' (schedules: CA, NC, default)"),
    (("retention", "plan", "--as-of", "2026-11-03"), "2026-11-03 is after today (2026-11-02)"),
    (("retention", "purge", "--plan", "1", "--yes"), "no retention plan 1"),
    (("retention", "purge", "--plan", "x"), "Invalid value for '--plan': 'x' is not a valid integer"),
    (("retention", "holds", "place", "--reason", "r", "--authority", "a"), "a legal hold covers a patient"),
    (("retention", "holds", "place", "--mrn", "NOBODY", "--reason", "r", "--authority", "a"),
     "no patient with that MRN"),
    (("retention", "holds", "release", "9", "--reason", "r"), "no legal hold 9"),
    (("retention", "certificate", "9"), "no purge 9"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(auditor, ids, tmp_path, clock, args, message):
    result = auditor(*args, clock=clock, user="records")
    assert result.code == 2 and result.err.startswith(f"auditor: {message}") and result.err.count("\n") == 1
    assert _count(tmp_path, "patients") == 8 and _count(tmp_path, "retention_holds") == 0
    assert _count(tmp_path, "retention_purges") == 0


def test_findings_and_the_log_after_a_purge(auditor, tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    try:
        build(vault)
        vault.gateway.read_chart(AccessContext("dr.long", "TREAT", reason="emergency", break_glass=True), "OLD-2")
    finally:
        vault.close()
    assert auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records").code == 0
    assert auditor("retention", "purge", "--plan", "1", "--no-pdf", "--yes", clock=clock, user="records").code == 0
    result = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json",
                     "--out", str(tmp_path / "f.json"), clock=clock, user="officer")
    assert result.code == 0, result.err
    findings = json.loads((tmp_path / "f.json").read_text())
    assert [(f["rule"], f["mrn"]) for f in findings] == [("break-glass-review", None)]  # the MRN is destroyed
    assert auditor("audit", "verify", clock=clock).code == 0


def test_only_a_records_manager_acts_and_the_holds_name_the_account(auditor, ids, tmp_path, clock):
    for user, args, message in (
            (None, ("retention", "plan", "--as-of", "2026-11-02"), "not signed in: run auditor login USER"),
            ("officer", ("retention", "plan", "--as-of", "2026-11-02"), "officer does not hold the role records_manager"),
            ("viewer", ("retention", "holds", "list"), "viewer does not hold the role records_manager"),
            ("coordinator", ("retention", "holds", "place", "--mrn", "IMG", "--reason", "r", "--authority", "a"),
             "coordinator does not hold the role records_manager"),
            ("records", ("retention", "holds", "place", "--mrn", "IMG", "--reason", "r", "--authority", "a", "--by",
                         "Someone Else"), "--by is gone: sign in with auditor login USER"),
            ("records", ("retention", "purge", "--plan", "1", "--performer", "Someone Else", "--yes"),
             "--performer is gone: the signed-in records manager approves and performs a purge: auditor login USER")):
        refused = auditor(*args, clock=clock, user=user)
        assert (refused.code, refused.out, refused.err) == (2, "", f"auditor: {message}\n"), args
    assert _count(tmp_path, "retention_plans") == 0 and _count(tmp_path, "retention_holds") == 0
    assert auditor("retention", "holds", "place", "--mrn", "IMG", "--reason", "r", "--authority", "a", clock=clock,
                   user="records").code == 0
    assert auditor("retention", "holds", "release", "1", "--reason", "settled", clock=clock, user="witness").code == 0
    (hold,) = json.loads(auditor("retention", "holds", "list", "--format", "json", clock=clock, user="records").out)
    assert (hold["placed_by"], hold["released_by"]) == ("records", "witness")


def test_a_witness_is_another_account_that_signs_in_or_nothing_is_destroyed(auditor, ids, tmp_path, clock):
    assert auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records").code == 0
    purge = ("retention", "purge", "--plan", "1", "--yes", "--no-pdf", "--witness-password-stdin")
    code = totp_code(None, "witness", clock.at)
    for witness, password, message in (
            ("records", PASSWORD, "records cannot also be the witness of the purge: another account confirms it"),
            ("witness", "not the password", "sign-in refused: the user name, password or code is wrong"),
            ("nobody", PASSWORD, "sign-in refused: the user name, password or code is wrong")):
        refused = auditor(*purge, "--witness", witness, "--witness-totp", code, clock=clock, user="records",
                          input=password + "\n")
        assert refused.code == 2 and refused.err.count("\n") == 1 and message in refused.err, (witness, refused)
    lone = auditor("retention", "purge", "--plan", "1", "--yes", "--witness-totp", code, clock=clock, user="records")
    assert lone.code == 2 and "--witness-password-stdin and --witness-totp go with --witness USER" in lone.err
    assert _count(tmp_path, "patients") == 8 and _count(tmp_path, "retention_purges") == 0
