"""The release desk on both backends: a release is one transaction with its history, ledger entry and
audit events; the history and the ledger refuse rewrites; a refused fulfilment leaves nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text

from auditor.audit.schema import AuditEventRow
from auditor.audit.verify import verify_log
from auditor.errors import AuditWriteFailed, InputError
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


def test_release_through_the_gateway(vault, tmp_path):
    populate(vault)
    out = tmp_path / "packet"
    out.mkdir()
    desk = ReleaseDesk(vault.gateway)
    new = workflow.NewRequest("P-1", "public_health", "State Health Dept", "250 Washington St", date(2026, 10, 30),
                              ("lab",))
    rid = workflow.open_request(desk, POLICY, new, "R. Coordinator")
    with pytest.raises(InputError, match="start the review first"):
        fulfil(desk, POLICY, load_site(None), rid, "R", ON, out)
    workflow.review(desk, rid, "R")
    events_before = _count(vault, AuditEventRow.__table__)
    done = fulfil(desk, POLICY, load_site(None), rid, "R", ON, out)
    assert done.status == "partly_approved" and done.documents == 1 and set(done.withheld) == {"hiv"}
    packet = {"release-packet.html", "release-packet.pdf"}
    assert {p.name for p in done.paths} == {p.name for p in out.iterdir()} == packet
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
    ledger = desk.change("view", lambda change: change.ledger(change.patient_id("P-1"),
                                                              vault.clock.now().replace(year=2020)))
    assert [e["recipient"]["name"] for e in ledger] == ["State Health Dept"] and ledger[0]["accountable"]


def test_files_take_their_names_only_with_the_commit(vault, tmp_path):
    """The commit fails after the files were renamed into place: they are taken away again and the
    file they replaced is put back."""
    populate(vault)
    out = tmp_path / "letter"
    out.mkdir()
    desk = ReleaseDesk(vault.gateway)
    new = workflow.NewRequest("P-1", "patient", "Zoe Muller", "12 Main Street", date(2026, 10, 30))
    rid = workflow.open_request(desk, POLICY, new, "R")
    (out / "letter.html").write_text("the letter of an earlier run")
    with vault.records.connect() as conn:
        first = conn.execute(select(ReleaseRequestHistory).where(ReleaseRequestHistory.request_id == rid)).one()
    events = _count(vault, AuditEventRow.__table__)

    def work(change):
        request = change.request(rid)
        workflow.move(change, request, "denied", "R")
        change.stage(out, {"letter.html": "a new letter", "letter.pdf": b"%PDF-1.7"})
        # flushed only by the commit, after the rename: the database refuses a second history row 1
        change.session.add(ReleaseRequestHistory(id=first.id + 1, request_id=rid, position=1, at=change.at,
                                                 action="received", by="R", status="received", due_on=first.due_on))

    with pytest.raises(AuditWriteFailed):
        desk.change("update", work)
    assert sorted(p.name for p in out.iterdir()) == ["letter.html"]
    assert (out / "letter.html").read_text() == "the letter of an earlier run"
    assert _count(vault, AuditEventRow.__table__) == events
    paths = desk.change("update", lambda change: (workflow.move(change, change.request(rid), "denied", "R"),
                                                  change.stage(out, {"letter.html": "a new letter"}))[1])
    assert paths == [out / "letter.html"] and paths[0].read_text() == "a new letter"
    assert sorted(p.name for p in out.iterdir()) == ["letter.html"]  # nothing kept aside
