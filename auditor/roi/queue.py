"""The coordinator's queue: open requests against their deadlines (clear columns only: no PHI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, select

from auditor.roi.deadlines import standing
from auditor.roi.workflow import OPEN
from auditor.vault.records import ReleaseRequest


@dataclass(frozen=True)
class QueueEntry:
    request_id: int
    requester_type: str
    kind: str
    status: str
    received_on: date
    due_on: date
    extended: bool
    days_left: int
    standing: str  # overdue, due, open


def queue(records: Engine, as_of: date, within: int = 7) -> list[QueueEntry]:
    """Open requests, overdue first, then by due date."""
    with records.connect() as conn:
        rows = conn.execute(select(ReleaseRequest.id, ReleaseRequest.requester_type, ReleaseRequest.kind,
                                   ReleaseRequest.status, ReleaseRequest.received_on, ReleaseRequest.due_on,
                                   ReleaseRequest.extended)
                            .where(ReleaseRequest.status.in_(OPEN)).order_by(ReleaseRequest.due_on, ReleaseRequest.id)).all()
    out = []
    for r in rows:
        s = standing(r.due_on, as_of)
        out.append(QueueEntry(r.id, r.requester_type, r.kind, r.status, r.received_on, r.due_on, r.extended,
                              s.days_left, s.label(within)))
    return out
