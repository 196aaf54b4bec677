"""The privacy office's staff read through the gateway as themselves (AccessContext.of_staff): the
account and the role come from the staff accounts, never from the caller; they read demographics only,
for their roles' purposes; every read is an audit event in their own name and role, which the rules
then watch like any workforce member's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from auditor.audit.log import EVENTS
from auditor.errors import AccessDenied
from auditor.staff.accounts import StaffAccounts
from auditor.vault.gateway import AccessContext

PASSWORD = "plum-sky-7-river"


@pytest.fixture
def office(population):
    accounts = StaffAccounts(population)
    admin = accounts.add("root.admin", "Root Admin", ("admin",), PASSWORD, None)
    by = next(a for a in accounts.list() if a.user_name == "root.admin")
    accounts.add("pat.officer", "Pat Officer", ("privacy_officer",), PASSWORD, by)
    accounts.add("val.viewer", "Val Viewer", ("viewer",), PASSWORD, by)
    assert admin.otpauth_uri.startswith("otpauth://")
    return population, accounts, by


def _last_event(vault):
    with vault.records.connect() as conn:
        return conn.execute(select(EVENTS.c.user_id, EVENTS.c.role, EVENTS.c.outcome, EVENTS.c.patient_id,
                                   EVENTS.c.purpose, EVENTS.c.detail).order_by(EVENTS.c.seq.desc()).limit(1)).one()


def test_an_officer_reads_demographics_in_their_own_name(office):
    vault, _, _ = office
    ctx = AccessContext.of_staff("pat.officer", "privacy_officer", "HCOMPL", workstation="web session 1")
    chart = vault.gateway.read_chart(ctx, "MRN-2")  # restricted: the office investigates every patient
    assert chart.demographics.last_name == "Lee" and chart.documents == []
    user, role, outcome, patient, purpose, detail = _last_event(vault)
    assert (user, role, outcome, purpose) == ("pat.officer", "privacy_officer", "success", "HCOMPL")
    assert detail.startswith("privacy office (privacy_officer)")


@pytest.mark.parametrize("ctx, why", [
    (AccessContext.of_staff("pat.officer", "privacy_officer", "TREAT"), "may not view for purpose TREAT"),
    (AccessContext.of_staff("pat.officer", "admin", "HCOMPL"), "no such account pat.officer"),  # a role not held
    (AccessContext.of_staff("val.viewer", "viewer", "HCOMPL"), "may not view"),
    (AccessContext.of_staff("nobody", "privacy_officer", "HCOMPL"), "no such account nobody"),
    (AccessContext("pat.officer", "HCOMPL"), "no such account pat.officer"),  # not typed as staff: a workforce lookup
])
def test_what_a_caller_says_of_itself_is_not_taken(office, ctx, why):
    vault, _, _ = office
    with pytest.raises(AccessDenied, match=why):
        vault.gateway.read_chart(ctx, "MRN-1")
    assert _last_event(vault)[2] == "denied"


def test_a_disabled_account_reads_nothing(office):
    vault, accounts, admin = office
    accounts.disable("pat.officer", admin)
    with pytest.raises(AccessDenied, match="no such account"):
        vault.gateway.read_chart(AccessContext.of_staff("pat.officer", "privacy_officer", "HCOMPL"), "MRN-1")


def test_a_staff_context_names_its_role():
    with pytest.raises(ValueError, match="names the role"):
        AccessContext("x", "HCOMPL", staff=True)
