"""The release desk on both backends: a release is one transaction with its history, ledger entry and
audit events; the history and the ledger refuse rewrites; a refused fulfilment leaves nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text

from auditor.audit.schema import AuditEventRow
from auditor.audit.verify import verify_log
from auditor.errors import InputError
from auditor.reporting.templates import load_site
from auditor.roi import workflow
from auditor.roi.fulfilment import fulfil
from auditor.roi.policy import load_roi_policy
from auditor.vault.gateway.release import ReleaseDesk
from auditor.vault.records import Disclosure, ReleaseRequestHistory
from tests.roi.conftest import populate

POLICY = load_roi_policy()
ON = date(2026, 11, 2)


def _count(vault, table) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_release_through_the_gateway(vault):
    populate(vault)
    desk = ReleaseDesk(vault.gateway)
    new = workflow.NewRequest("P-1", "public_health", "State Health Dept", "250 Washington St", date(2026, 10, 30),
                              ("lab",))
    rid = workflow.open_request(desk, POLICY, new, "R. Coordinator")
    with pytest.raises(InputError, match="start the review first"):
        fulfil(desk, POLICY, load_site(None), rid, "R", ON)
    workflow.review(desk, rid, "R")
    events_before = _count(vault, AuditEventRow.__table__)
    done = fulfil(desk, POLICY, load_site(None), rid, "R", ON)
    assert done.status == "partly_approved" and done.documents == 1 and set(done.withheld) == {"hiv"}
    assert set(done.packet.files) == {"release-packet.html", "release-packet.pdf"}
    assert _count(vault, Disclosure) == 1
    with vault.records.connect() as conn:
        statuses = conn.execute(select(ReleaseRequestHistory.status).where(ReleaseRequestHistory.request_id == rid)
                                .order_by(ReleaseRequestHistory.position)).scalars().all()
        disclose = conn.execute(select(AuditEventRow.purpose, AuditEventRow.detail)
                                .where(AuditEventRow.action == "disclose")).one()
    assert statuses == ["received", "in_review", "partly_approved", "fulfilled"]
    assert disclose.purpose == "PUBHLTH" and "withheld: 1 hiv" in disclose.detail
    assert _count(vault, AuditEventRow.__table__) > events_before
    for statement in ("UPDATE disclosures SET accountable = false", "DELETE FROM roi_request_history"):
        with pytest.raises(Exception, match="append-only"):
            with vault.records.begin() as conn:
                conn.execute(text(statement))
    assert verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok
    _, ledger = desk.ledger("P-1", vault.clock.now().replace(year=2020))
    assert [e["recipient"]["name"] for e in ledger] == ["State Health Dept"] and ledger[0]["accountable"]
