"""A release request as the coordinator's desk shows it: its clear columns, its requester (sealed under
the request's own key: opened in a unit of work of the release desk and recorded as a read by whoever
runs it), the permissions on file (kind, coverage, dates: never their sealed contents) and its
history (when, what, by whom, its status after: never a note)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select

from auditor.errors import NotFound
from auditor.vault.gateway.release import ReleaseChange
from auditor.vault.records import ReleaseAuthorization, ReleaseRequest, ReleaseRequestHistory


@dataclass(frozen=True)
class RequestHeading:
    """The clear columns a page needs before it reads anything sealed: whose request, of which kind."""

    id: int
    patient_id: int
    requester_type: str
    kind: str
    status: str


@dataclass(frozen=True)
class PermissionOnFile:
    id: int
    kind: str
    covers: tuple[str, ...]
    source: str
    signed_on: date | None
    expires_on: date | None
    revoked_on: date | None


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    action: str
    by: str
    status: str
    detail: str | None


@dataclass(frozen=True)
class RequestFile:
    heading: RequestHeading
    record_types: tuple[str, ...]
    first_day: date | None
    last_day: date | None
    format: str
    legal_process: str | None
    state: str | None
    received_on: date
    due_on: date
    extended: bool
    requester_name: str
    requester_address: str
    permissions: tuple[PermissionOnFile, ...]
    history: tuple[HistoryLine, ...]


def heading(records: Engine, request_id: int) -> RequestHeading:
    """NotFound when there is no such request."""
    R = ReleaseRequest
    with records.connect() as conn:
        row = conn.execute(select(R.id, R.patient_id, R.requester_type, R.kind, R.status)
                           .where(R.id == request_id)).first()
    if row is None:
        raise NotFound(f"no release request {request_id}")
    return RequestHeading(row.id, row.patient_id, row.requester_type, row.kind, row.status)


def patients_of(records: Engine, request_ids: list[int]) -> dict[int, int]:
    """request id -> internal patient id."""
    if not request_ids:
        return {}
    with records.connect() as conn:
        return dict(conn.execute(select(ReleaseRequest.id, ReleaseRequest.patient_id)
                                 .where(ReleaseRequest.id.in_(request_ids))).all())


def read_request_file(change: ReleaseChange, request_id: int) -> RequestFile:
    """The request's file; its requester's name and address read (one "view" event of the request)."""
    request = change.session.get(ReleaseRequest, request_id)
    if request is None:
        raise NotFound(f"no release request {request_id}")
    requester = change.requester_of(request)
    change.record_request("view", request.id, request.patient_id, "requester read for the coordinator's desk",
                          fields=("requester",))
    A, H = ReleaseAuthorization, ReleaseRequestHistory
    permissions = tuple(PermissionOnFile(r.id, r.kind, tuple(json.loads(r.covers)), r.source, r.signed_on, r.expires_on,
                                         r.revoked_on)
                        for r in change.session.execute(select(A.id, A.kind, A.covers, A.source, A.signed_on,
                                                               A.expires_on, A.revoked_on)
                                                        .where(A.request_id == request_id).order_by(A.id)))
    history = tuple(HistoryLine(r.at, r.action, r.by, r.status, r.detail)
                    for r in change.session.execute(select(H.at, H.action, H.by, H.status, H.detail)
                                                    .where(H.request_id == request_id).order_by(H.position)))
    return RequestFile(RequestHeading(request.id, request.patient_id, request.requester_type, request.kind,
                                      request.status),
                       tuple(json.loads(request.record_types)), request.first_day, request.last_day, request.format,
                       request.legal_process, request.state, request.received_on, request.due_on, request.extended,
                       requester.get("name", ""), requester.get("address", ""), permissions, history)
