"""The consequence of staff reading as themselves: an officer's reads through the gateway are events
the rules watch. Reading a patient that one of the office's cases names is explained (case review);
opening any other patient is not, and the officer is found like anyone."""

from __future__ import annotations

from datetime import timedelta

from auditor.review.period import month_period, review_period
from auditor.staff.accounts import StaffAccounts
from auditor.vault.gateway import AccessContext
from tests.policy.vault_data import populate

PASSWORD = "plum-sky-7-river"


def _officer(vault) -> AccessContext:
    accounts = StaffAccounts(vault)
    accounts.add("root.admin", "Root Admin", ("admin",), PASSWORD, None)
    admin = next(a for a in accounts.list() if a.user_name == "root.admin")
    accounts.add("pat.officer", "Pat Officer", ("privacy_officer",), PASSWORD, admin)
    return AccessContext.of_staff("pat.officer", "privacy_officer", "HCOMPL", workstation="web session 1")


def test_an_officer_reviewing_a_case_is_explained_and_a_snooping_one_is_found(vault, policy, clock):
    ids = populate(vault)
    november = month_period("2026-11", vault.timezone)
    first = review_period(vault, november, policy)
    assert {f.mrn for f in first.findings} >= {"P-FAM"} and "P-OK" not in {f.mrn for f in first.findings}
    officer = _officer(vault)
    clock.at += timedelta(hours=3)  # 17:00 UTC on 2 November: after the case named P-FAM
    vault.gateway.read_patients(officer, [ids["P-FAM"]])  # the case's patient
    vault.gateway.read_patients(officer, [ids["P-OK"]])  # a patient no case names
    again = review_period(vault, november, policy)
    accesses = again.detection.context.accesses
    theirs = accesses[accesses["user_id"] == "pat.officer"].set_index("patient_id")
    assert str(theirs.at[ids["P-FAM"], "explained_by"]) == "case_review"
    assert not bool(theirs.at[ids["P-OK"], "explained"])
    found = [(f.rule, f.mrn) for f in again.findings if f.user_id == "pat.officer"]
    assert found == [("no-treatment-relationship", "P-OK")]
    assert "case_review" in str(again.detection.context.accesses["explained_by"].cat.categories.tolist())
