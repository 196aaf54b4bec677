"""Break-the-glass reasons, sealed in the audit log, are read through the gateway by the privacy
office's staff only, as themselves: each reason opened is a "view" event naming the patient in the
reader's name; a viewer's role opens none (denied, recorded); no one else reads them at all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from auditor.audit.log import EVENTS
from auditor.errors import AccessDenied
from auditor.staff.accounts import StaffAccounts
from auditor.vault.gateway import AccessContext
from tests.reporting.report_data import hospital_month

PASSWORD = "plum-sky-7-river"


@pytest.fixture
def glass(vault):
    hospital_month(vault)
    accounts = StaffAccounts(vault)
    admin = accounts.add("root.admin", "Root Admin", ("admin",), PASSWORD, None).account
    accounts.add("pat.officer", "Pat Officer", ("privacy_officer",), PASSWORD, admin)
    accounts.add("val.viewer", "Val Viewer", ("viewer",), PASSWORD, admin)
    with vault.records.connect() as conn:
        seqs = dict(conn.execute(select(EVENTS.c.source_event_id, EVENTS.c.seq)
                                 .where(EVENTS.c.source_event_id.in_(["ehr-7", "ehr-8"]))).all())
    return vault, seqs


def _reads(vault, user: str) -> list[tuple]:
    with vault.records.connect() as conn:
        return [tuple(r) for r in conn.execute(select(EVENTS.c.outcome, EVENTS.c.record_type, EVENTS.c.record_id)
                                               .where(EVENTS.c.user_id == user).order_by(EVENTS.c.seq))]


def test_an_officer_reads_a_reason_in_her_own_name(glass):
    vault, seqs = glass
    ctx = AccessContext.of_staff("pat.officer", "privacy_officer", "HCOMPL")
    assert vault.gateway.read_access_reasons(ctx, [seqs["ehr-7"], seqs["ehr-8"]]) == {
        seqs["ehr-7"]: "unconscious in the ED"}  # ehr-8 broke the glass without a reason: nothing to read
    assert _reads(vault, "pat.officer") == [("success", "access_reason", str(seqs["ehr-7"]))]


def test_a_viewer_and_a_service_read_no_reason(glass):
    vault, seqs = glass
    viewer = AccessContext.of_staff("val.viewer", "viewer", "HCOMPL")
    assert vault.gateway.read_access_reasons(viewer, [seqs["ehr-7"]]) == {}
    assert _reads(vault, "val.viewer") == [("denied", "access_reason", str(seqs["ehr-7"]))]
    with pytest.raises(AccessDenied, match="only the privacy office's staff"):
        vault.gateway.read_access_reasons(AccessContext.service("report"), [seqs["ehr-7"]])
    with pytest.raises(AccessDenied):
        vault.gateway.read_access_reasons(AccessContext("dr.lee", "TREAT", role="physician"), [seqs["ehr-7"]])
