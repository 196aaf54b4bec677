"""Retention in the browser: today's plan with its MRNs read as the records manager, legal holds placed
and released, and a purge by two people: one records manager proposes, another approves and it is
carried out; the proposer cannot approve their own proposal; the certificate names both."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from auditor.staff.accounts import StaffAccounts
from auditor.vault.records import PurgeProposal, PurgeRun
from tests.retention.hospital import build
from tests.staff.helpers import verified
from tests.web.conftest import PASSWORD, Staff, sign_in
from tests.web.desks import assert_download, browser, events_since, log_size, post


@pytest.fixture
def hospital(web_vault):
    build(web_vault)
    return web_vault


@pytest.fixture
def second(web_vault, staff):
    """Another records manager, who approves what the first proposes."""
    accounts = StaffAccounts(web_vault)
    admin = next(a for a in accounts.list() if a.user_name == "admin")
    enrolment = accounts.add("rita", "Rita Second", ("records_manager",), PASSWORD, admin)
    return Staff("rita", PASSWORD, enrolment.otpauth_uri)


def make_plan(desk) -> tuple[int, str]:
    page = post(desk, "/retention", "/retention/plan")
    assert page.status_code == 200, page.text
    return int(re.search(r"Plan (\d+): ", page.text).group(1)), page.text


def test_one_proposes_another_approves_and_the_certificate_names_both(hospital, staff, second, new_client, clock):
    proposer = browser(new_client, staff, clock, "records_manager")
    approver = sign_in(new_client(), second, clock)
    assert "No purge proposed." in proposer.get("/retention").text

    before = log_size(hospital)
    plan_id, page = make_plan(proposer)
    assert "OLD-1" in page and "PERM" not in page  # eligible shown with their MRNs; the permanent kept
    reads = [e for e in events_since(hospital, before) if e.detail == "MRN for a report"]
    assert reads and {(e.user_id, e.role, e.purpose) for e in reads} == {
        ("records_manager", "records_manager", "RECORDMGT")}

    proposed = post(proposer, "/retention", f"/retention/plans/{plan_id}/propose")
    assert proposed.status_code == 200 and f"plan {plan_id}: destroy the records of" in proposed.text
    again = post(approver, "/retention", f"/retention/plans/{plan_id}/propose")
    assert again.status_code == 400 and "already proposed (proposal 1)" in again.text

    assert "waiting for another records manager" in proposer.get("/retention").text
    refused = post(proposer, "/retention", "/retention/proposals/1/approve")
    assert refused.status_code == 400 and "proposal 1 is yours: another records manager approves it" in refused.text
    with hospital.records.connect() as conn:
        assert conn.scalar(select(PurgeRun.id)) is None  # nothing destroyed
        assert conn.execute(select(PurgeProposal.approved_by, PurgeProposal.purge_id)).one() == (None, None)

    done = post(approver, "/retention", "/retention/proposals/1/approve")
    assert done.status_code == 200 and "Purge 1 carried out" in done.text, done.text
    html = assert_download(approver.get("/retention/purges/1/certificate.html"),
                           "certificate-of-destruction-1.html", "text/html").decode()
    assert "<dt>Proposed by</dt><dd>Records_Manager Person (records_manager)</dd>" in html
    assert "<dt>Approved by</dt><dd>Rita Second (rita)</dd>" in html
    with hospital.records.connect() as conn:
        assert conn.execute(select(PurgeProposal.proposed_by, PurgeProposal.approved_by, PurgeProposal.purge_id)
                            ).one() == ("records_manager", "rita", 1)
    assert "Certificate of purge 1" in proposer.get("/retention").text
    twice = post(approver, "/retention", "/retention/proposals/1/approve")
    assert twice.status_code == 400 and "approved already, by rita" in twice.text
    assert verified(hospital).ok  # the proposal's rows are vouched for by their ledger events


def test_a_refused_approval_destroys_nothing_and_the_proposal_waits_again(hospital, staff, second, new_client,
                                                                          clock):
    proposer = browser(new_client, staff, clock, "records_manager")
    approver = sign_in(new_client(), second, clock)
    plan_id, _ = make_plan(proposer)
    assert post(proposer, "/retention", f"/retention/plans/{plan_id}/propose").status_code == 200
    post(proposer, "/retention", "/retention/holds", mrn="OLD-1", authority="General Counsel", reason="litigation")
    refused = post(approver, "/retention", "/retention/proposals/1/approve")
    assert refused.status_code == 400 and "the eligible patients changed since plan" in refused.text
    with hospital.records.connect() as conn:
        assert conn.scalar(select(PurgeRun.id)) is None
        assert conn.execute(select(PurgeProposal.approved_by, PurgeProposal.purge_id)).one() == (None, None)
    assert "Approve and carry out" in approver.get("/retention").text
    assert verified(hospital).ok


def test_a_proposal_written_behind_the_gateway_is_named_by_verify(hospital, staff, new_client, clock):
    desk = browser(new_client, staff, clock, "records_manager")
    plan_id, _ = make_plan(desk)
    with hospital.records.begin() as conn:  # someone with write access to records.db forges a proposal
        conn.execute(PurgeProposal.__table__.insert().values(plan_id=plan_id, proposed_by="ghost",
                                                             proposed_at=clock.at))
    assert "retention_purge_proposals" in str(verified(hospital).problems)


def test_a_legal_hold_keeps_a_patient_until_released(hospital, staff, new_client, clock):
    desk = browser(new_client, staff, clock, "records_manager")
    refused = post(desk, "/retention", "/retention/holds", authority="General Counsel", reason="litigation")
    assert refused.status_code == 400 and "a legal hold covers a patient" in refused.text
    placed = post(desk, "/retention", "/retention/holds", mrn="OLD-1", authority="General Counsel",
                  reason="litigation")
    assert (placed.status_code, placed.headers["location"]) == (303, "/retention")
    page = desk.get("/retention").text
    assert "litigation" in page and "in force" in page
    _, plan = make_plan(desk)
    assert re.search(r"<td>OLD-1</td><td>held</td>", plan)
    assert post(desk, "/retention", "/retention/holds/1/release", reason="case settled").status_code == 303
    page = desk.get("/retention").text
    assert "released" in page and "case settled" in page
    _, plan = make_plan(desk)
    assert re.search(r"<td>OLD-1</td><td>eligible</td>", plan)


def test_other_roles_are_refused_the_retention_pages(hospital, staff, new_client, clock):
    for role in ("privacy_officer", "investigator", "roi_coordinator", "viewer", "admin"):
        other = browser(new_client, staff, clock, role)
        assert other.get("/retention").status_code == 403
