"""The patient access report page: the MRN in a POST body only, the patient looked up through the
gateway as the signed-in person (their own audit event, purpose HCOMPL), every access with who and
why, printable; an unknown MRN or a bad day said without echoing the MRN."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from auditor.audit.schema import AuditEventRow as E
from auditor.review.patient_access import patient_access_report
from tests.web.conftest import csrf_of, sign_in


@pytest.fixture
def office(office_app):
    return office_app


def _a_patient_with_accesses(vault, mrns) -> tuple[str, int]:
    for mrn in sorted(mrns):
        n = len(patient_access_report(vault, mrn).accesses)
        if n:
            return mrn, n
    raise AssertionError("no patient with accesses")


def _ask(client, **form):
    csrf = csrf_of(client.get("/patient-access").text)
    return client.post("/patient-access", data={"csrf_token": csrf, **form})


def test_an_officer_sees_who_opened_a_chart_and_is_audited_for_it(office, caplog):
    copy, vault, clock, app = office
    mrn, accesses = _a_patient_with_accesses(vault, copy.phi.mrns)
    caplog.set_level(logging.INFO, logger="auditor")
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, copy.staff["privacy_officer"], clock)
        response = _ask(client, mrn=mrn)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    rows = re.findall(r"<tr><td>.*?</tr>", response.text, re.S)
    assert len(rows) == accesses + 1  # the officer's own look-up is an access to the record too, and shown
    assert "privacy_officer" in rows[-1] and "privacy office review" in rows[-1]
    assert f"MRN {mrn}" in response.text and f"{accesses + 1} access(es)" in response.text
    with vault.records.connect() as conn:
        last = conn.execute(select(E.user_id, E.role, E.action, E.purpose, E.outcome, E.patient_id, E.workstation)
                            .where(E.user_id == "privacy_officer").order_by(E.seq.desc()).limit(1)).one()
    assert last[:5] == ("privacy_officer", "privacy_officer", "search", "HCOMPL", "success")
    assert last.patient_id is not None and last.workstation.startswith("web session")
    assert not [r.getMessage() for r in caplog.records if copy.phi.found_in(r.getMessage())]
    assert '"POST /patient-access" 200' in " ".join(r.getMessage() for r in caplog.records)


def test_the_days_asked_for_bound_the_report(office):
    copy, vault, clock, app = office
    mrn, _ = _a_patient_with_accesses(vault, copy.phi.mrns)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, copy.staff["investigator"], clock)
        response = _ask(client, mrn=mrn, **{"from": "2026-11-01", "to": "2026-11-02"})
        assert response.status_code == 200 and "2026-11-01 to 2026-11-02" in response.text
        whens = re.findall(r"<tr><td>(\d{4}-\d{2}-\d{2})", response.text)
        assert all("2026-11-01" <= d <= "2026-11-02" for d in whens)
        wrong = _ask(client, mrn=mrn, **{"from": "2026-11-02", "to": "2026-11-01"})
        assert wrong.status_code == 400 and "before" in wrong.text
        bad = _ask(client, mrn=mrn, **{"from": "yesterday"})
        assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text and mrn not in bad.text


def test_an_unknown_mrn_is_said_without_echoing_it(office):
    copy, vault, clock, app = office
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, copy.staff["privacy_officer"], clock)
        response = _ask(client, mrn="NOPE-12345")
        assert response.status_code == 404 and "no patient with that MRN" in response.text
        assert "NOPE-12345" not in response.text
        assert _ask(client, mrn="  ").status_code == 400


def test_the_page_prints_the_report_alone(office):
    copy, vault, clock, app = office
    with TestClient(app, follow_redirects=False) as client:
        css = client.get("/static/web.css").text
    printed = css[css.index("@media print"):]
    assert ".bar" in printed and ".no-print" in printed and "display: none" in printed
