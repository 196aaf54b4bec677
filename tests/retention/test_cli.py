"""auditor retention schedules | plan | purge | certificate | holds, run through the CLI in-process."""

from __future__ import annotations

import json
import sqlite3

import pytest

from auditor.home import create_home
from auditor.vault.gateway import AccessContext
from tests.conftest import FAST_SCRYPT
from tests.retention.hospital import build


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


def test_plan_holds_purge_and_certificate(auditor, ids, tmp_path):
    placed = auditor("retention", "holds", "place", "--mrn", "IMG", "--reason", "Doe v. Hospital",
                     "--authority", "General Counsel", "--by", "R. Coordinator")
    assert placed.code == 0 and placed.out.strip() == "legal hold 1 placed"
    listed = auditor("retention", "holds", "list")
    assert listed.code == 0 and f"1 [in force] patient {ids['IMG']}; General Counsel" in listed.out
    assert "Doe v. Hospital" in listed.out

    plan = auditor("retention", "plan", "--as-of", "2026-11-02")
    assert plan.code == 0, plan.err
    assert plan.out.startswith("retention plan on 2026-11-02 under default (default): 4 eligible, 1 held, 2 retained, "
                               "1 permanent, 0 referenced, 0 no records")
    assert f"held: patient {ids['IMG']} MRN IMG" in plan.out and "hold 1 (General Counsel: patient" in plan.out
    data = json.loads(auditor("retention", "plan", "--as-of", "2026-11-02", "--format", "json").out)
    assert sorted(p["mrn"] for p in data["patients"] if p["status"] == "eligible") == ["OLD-1", "OLD-2", "OLD-3",
                                                                                        "TEEN-DONE"]

    purge = auditor("retention", "purge", "--as-of", "2026-11-02", "--approver", "Dr. A. Approver",
                    "--witness", "W. Witness", "--no-pdf")
    assert purge.code == 0, purge.err
    assert "purge 1 finished: 4 patient(s) destroyed by crypto-shredding" in purge.out
    path = tmp_path / "home" / "certificates" / "certificate-of-destruction-1.html"
    assert f"certificate (html): {path}" in purge.out and path.stat().st_mode & 0o777 == 0o600
    assert _count(tmp_path, "patients") == 4

    shown = auditor("retention", "certificate", "1")
    assert shown.code == 0 and shown.out.rstrip("\n") == path.read_text().rstrip("\n")
    again = auditor("retention", "purge", "--as-of", "2026-11-02", "--approver", "Dr. A. Approver", "--no-pdf")
    assert again.code == 0 and "nothing to purge on 2026-11-02 under default" in again.out

    released = auditor("retention", "holds", "release", "1", "--reason", "settled", "--by", "R. Coordinator")
    assert released.code == 0 and "legal hold 1 released" in released.out
    assert "[released]" in auditor("retention", "holds", "list").out
    verify = auditor("audit", "verify")
    assert verify.code == 0, verify.out


@pytest.mark.parametrize("args, message", [
    (("retention", "plan", "--as-of", "2026-13-01"), "--as-of '2026-13-01' is not a YYYY-MM-DD date"),
    (("retention", "plan", "--as-of", "2026-11-02", "--state", "TX"), "no retention schedule for state 'TX' (schedules: CA, NC, default)"),
    (("retention", "purge", "--as-of", "2026-11-02", "--approver", " "), "a purge needs an approver"),
    (("retention", "holds", "place", "--reason", "r", "--authority", "a", "--by", "b"), "a legal hold covers a patient"),
    (("retention", "holds", "place", "--mrn", "NOBODY", "--reason", "r", "--authority", "a", "--by", "b"),
     "no patient with that MRN"),
    (("retention", "holds", "release", "9", "--reason", "r", "--by", "b"), "no legal hold 9"),
    (("retention", "certificate", "9"), "no purge 9"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(auditor, ids, tmp_path, args, message):
    result = auditor(*args)
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
    assert auditor("retention", "purge", "--as-of", "2026-11-02", "--approver", "A", "--no-pdf").code == 0
    result = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json",
                     "--out", str(tmp_path / "f.json"))
    assert result.code == 0, result.err
    findings = json.loads((tmp_path / "f.json").read_text())
    assert [(f["rule"], f["mrn"]) for f in findings] == [("break-glass-review", None)]  # the MRN is destroyed
    assert auditor("audit", "verify").code == 0
