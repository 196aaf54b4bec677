"""`auditor report patient`: who accessed my record and why."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pypdf

from auditor.clock import FixedClock


def test_every_access_with_its_reason(run, month_home, tmp_path):
    code, out, err = run("report", "patient", "--mrn", "P-OK", "--from", "2026-10-01", "--to", "2026-11-30",
                         "--out", tmp_path / "r")
    assert code == 0, err
    assert "5 access(es) by 4 user(s), 4 not explained, 2026-10-01 to 2026-11-30" in out
    html = (tmp_path / "r" / "access-report.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d \d\d:\d\d)</td>", html)
    assert rows == sorted(rows) and len(rows) == 5
    assert "Kay, Otto" in html and "P-OK" in html
    assert "works in the department treating the patient" in html  # n.muller, Cardiology, 2026-11-02
    assert "billing, coding, registration or records work" not in html  # rule 4 never explains psychotherapy notes
    assert "emergency treatment (emergency override)" in html
    assert html.count("no treatment relationship on record") == 4
    assert "2026-11-02 10:15" in html  # 15:15 UTC is 10:15 in New York
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "r" / "access-report.pdf").pages)
    assert "Who accessed my record and why" in text and "Page 1 of" in text
    assert (tmp_path / "r" / "access-report.pdf").stat().st_mode & 0o777 == 0o600


def test_an_investigator_may_and_a_records_manager_may_not(run, month_home, tmp_path):
    for user, message in ((None, "not signed in: run auditor login USER"),
                          ("records", "records does not hold the role privacy_officer or investigator")):
        refused = run("report", "patient", "--mrn", "P-OK", "--out", tmp_path / "r", "--no-pdf", user=user)
        assert (refused.code, refused.out, refused.err) == (2, "", f"auditor: {message}\n")
    assert not (tmp_path / "r").exists()
    allowed = run("report", "patient", "--mrn", "P-OK", "--out", tmp_path / "i", "--no-pdf", user="investigator")
    assert allowed.code == 0 and (tmp_path / "i" / "access-report.html").exists(), allowed.err


def test_unknown_patient_is_one_line_without_the_mrn(run, month_home, tmp_path):
    code, _, err = run("report", "patient", "--mrn", "P-NOBODY", "--out", tmp_path / "r")
    assert code == 2 and err.strip() == "auditor: no patient with that MRN"
    assert not (tmp_path / "r").exists()


def test_an_unexplained_access_says_only_what_the_office_has_done_about_it(run, month_home, tmp_path):
    """Issue 18, section 5: "reviewed by the privacy office" only once a case holding it is closed."""
    at = lambda hour: FixedClock(datetime(2026, 12, 1, hour, tzinfo=timezone.utc))  # noqa: E731  (sign-ins go forward)

    def said(name, hour):
        code, _, err = run("report", "patient", "--mrn", "P-OK", "--from", "2026-10-01", "--to", "2026-11-30",
                           "--out", tmp_path / name, "--no-pdf", clock=at(hour))
        assert code == 0, err
        html = (tmp_path / name / "access-report.html").read_text(encoding="utf-8")
        return sorted(re.findall(r"no treatment relationship on record[^<]*", html))

    assert said("before", 10) == ["no treatment relationship on record"] * 4  # no case holds them yet
    found = run("findings", "--from", "2026-10-01", "--to", "2026-11-30", "--out", tmp_path / "f.json", clock=at(11))
    assert found.code == 0, found.err
    cases = {f["case"] for f in json.loads((tmp_path / "f.json").read_text()) if f["mrn"] == "P-OK"}
    opened = said("opened", 12)
    assert set(opened) <= {"no treatment relationship on record",
                           "no treatment relationship on record: in a case the privacy office has yet to review"}
    assert "no treatment relationship on record: in a case the privacy office has yet to review" in opened
    for case in cases:
        assert run("cases", "review", str(case), clock=at(13)).code == 0
    assert "no treatment relationship on record: the privacy office is reviewing it" in said("reviewing", 14)
    for case in cases:
        assert run("cases", "close", str(case), "--disposition", "not_a_violation", "--sanction", "none",
                   clock=at(15)).code == 0
    closed = said("closed", 16)
    assert "no treatment relationship on record: reviewed by the privacy office" in closed
    assert not any("yet to review" in line or "is reviewing" in line for line in closed)
