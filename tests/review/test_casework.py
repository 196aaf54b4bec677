"""Casework as use cases: suppressions dated by the organisation's today, listed with their MRNs and
reasons, and a case reviewed, noted and closed through the vault."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from auditor.cases.settings import CaseSettings
from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.policy.suppressions import SuppressionRefused, SuppressionRequest
from auditor.review import casework as office
from auditor.review.period import month_period, review_period
from tests.conftest import FAST_SCRYPT
from tests.policy.vault_data import populate

SETTINGS = CaseSettings(30)


@pytest.fixture
def late_evening(tmp_path):
    """A vault whose clock reads 03:00 UTC on 2 November: still 1 November in New York."""
    vault = create_home(tmp_path / "home", clock=FixedClock(datetime(2026, 11, 2, 3, tzinfo=timezone.utc)),
                        scrypt_n=FAST_SCRYPT)
    populate(vault)
    yield vault
    vault.close()


def test_a_suppression_is_dated_by_the_organisations_today_and_listed_whole(late_evening, policy):
    vault = late_evening
    with pytest.raises(SuppressionRefused, match="already past"):
        office.add_suppression(vault, SuppressionRequest("family-access", "her guardian", date(2026, 10, 31), "CPO",
                                                         "n.muller", "P-FAM"), set(policy.rules))
    sid = office.add_suppression(vault, SuppressionRequest("family-access", "her guardian", date(2026, 11, 1), "CPO",
                                                           "n.muller", "P-FAM"), set(policy.rules))
    (listed,) = office.list_suppressions(vault)
    assert (listed.id, listed.status, listed.mrn, listed.reason) == (sid, "active", "P-FAM", "her guardian")
    assert list(listed.to_dict()) == ["id", "status", "rule", "user_id", "mrn", "expires", "approver", "created_at",
                                      "revoked_at", "revoked_by", "reason", "proposed_by"]
    assert listed.to_dict()["proposed_by"] is None  # added whole by an officer: nobody proposed it
    office.revoke_suppression(vault, sid, "guardianship ended", "CPO")
    (revoked,) = office.list_suppressions(vault)
    assert revoked.status == "revoked" and revoked.revoked_by == "CPO" and revoked.to_dict()["expires"] == "2026-11-01"


def test_a_case_is_listed_opened_reviewed_noted_and_closed(vault, policy):
    populate(vault)
    review = review_period(vault, month_period("2026-11", vault.timezone), policy)
    (case_id,) = review.attachment.opened
    (summary,) = office.list_cases(vault, SETTINGS, status="open")
    assert summary.id == case_id and summary.findings == len(review.open_findings)
    office.start_review(vault, case_id, "J. Privacy", "looking into it")
    office.add_note(vault, case_id, "J. Privacy", "interviewed the nurse about Zoë Müller's chart")
    office.close_case(vault, case_id, "confirmed_violation", "education", "J. Privacy")
    file = office.case_file(vault, case_id, SETTINGS)
    assert file.case.status == "closed" and file.case.sanction == "education"
    assert {f.mrn for f in file.findings} >= {"P-FAM"} and all(f.explanation for f in file.findings)
    assert [(h.action, h.note) for h in file.history][1:] == [
        ("review_started", "looking into it"), ("note", "interviewed the nurse about Zoë Müller's chart"),
        ("closed", None)]
    assert office.list_cases(vault, SETTINGS, status="open") == []
