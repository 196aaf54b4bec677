"""A signed-in member of the office runs a desk's "view" work as themselves (the names and MRNs a page
shows, a request's requester): each read is an audit event in their own name and role, within their
staff role's actions and purposes; any other work of a desk stays the service accounts'."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.audit.log import EVENTS
from auditor.errors import AccessDenied
from auditor.staff.accounts import StaffAccounts
from auditor.vault.gateway import AccessContext
from auditor.vault.gateway.directory import ReportDirectory

PASSWORD = "plum-sky-7-river"


@pytest.fixture
def office(population):
    accounts = StaffAccounts(population)
    accounts.add("root.admin", "Root Admin", ("admin",), PASSWORD, None)
    by = next(a for a in accounts.list() if a.user_name == "root.admin")
    accounts.add("pat.officer", "Pat Officer", ("privacy_officer",), PASSWORD, by)
    accounts.add("val.viewer", "Val Viewer", ("viewer",), PASSWORD, by)
    return population


def _events(vault, after: int):
    with vault.records.connect() as conn:
        return conn.execute(select(EVENTS.c.user_id, EVENTS.c.role, EVENTS.c.outcome, EVENTS.c.purpose,
                                   EVENTS.c.patient_id, EVENTS.c.detail).where(EVENTS.c.seq > after)
                            .order_by(EVENTS.c.seq)).all()


def _size(vault) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(EVENTS.c.seq).order_by(EVENTS.c.seq.desc()).limit(1))


def test_an_officer_reads_names_in_their_own_name(office):
    vault, before = office, _size(office)
    with Session(vault.records) as session:
        ids = sorted(vault.gateway.patient_ids(session, ["MRN-1", "MRN-3"]).values())
    reader = AccessContext.of_staff("pat.officer", "privacy_officer", "HCOMPL", workstation="web session 4")
    names = ReportDirectory(vault.gateway, reader).patients(ids)
    assert sorted(names.values()) == ["Müller, Zoë", "Star, Rex"]
    events = _events(vault, before)
    assert [(e.user_id, e.role, e.outcome, e.purpose) for e in events] == [("pat.officer", "privacy_officer", "success",
                                                                           "HCOMPL")] * 2
    assert {e.patient_id for e in events} == set(ids)


@pytest.mark.parametrize("ctx, action, why", [
    (AccessContext.of_staff("val.viewer", "viewer", "HCOMPL"), "view", "staff role viewer may not view"),
    (AccessContext.of_staff("pat.officer", "privacy_officer", "TREAT"), "view", "may not view for purpose TREAT"),
    (AccessContext.of_staff("pat.officer", "privacy_officer", "HCOMPL"), "create", "not one of the auditor's service"),
    (AccessContext.of_staff("pat.officer", "records_manager", "RECORDMGT"), "view", "no such account pat.officer"),
])
def test_a_staff_context_does_no_other_work(office, ctx, action, why):
    vault, before = office, _size(office)
    with pytest.raises(AccessDenied, match=why):
        vault.gateway.unit_of_work(ctx, action, lambda change: change.record("demographics", None, "never"))
    (denied,) = _events(vault, before)
    assert (denied.user_id, denied.outcome) == (ctx.user_id, "denied")
