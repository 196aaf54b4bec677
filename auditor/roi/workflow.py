"""The life of a release request: received -> in_review -> (waiting_for_information) -> approved /
partly_approved / denied -> fulfilled -> closed. Every change is one transaction through the gateway's
ReleaseDesk with an append-only history row and its audit event; a refused change changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from auditor.errors import InputError
from auditor.roi import deadlines
from auditor.roi.permissions import Permission, defects
from auditor.roi.policy import RoiPolicy
from auditor.vault.gateway.release import ReleaseChange, ReleaseDesk
from auditor.vault.records import ReleaseRequest

FORMATS = ("paper", "pdf", "fhir")
TRANSITIONS = {
    "received": {"in_review", "denied"},
    "in_review": {"waiting_for_information", "approved", "partly_approved", "denied"},
    "waiting_for_information": {"in_review", "denied"},
    "approved": {"fulfilled"},
    "partly_approved": {"fulfilled"},
    "denied": {"closed"},
    "fulfilled": {"closed"},
    "closed": set(),
}
OPEN = ("received", "in_review", "waiting_for_information", "approved", "partly_approved")


@dataclass(frozen=True)
class NewRequest:
    mrn: str
    requester_type: str
    requester_name: str
    requester_address: str
    received_on: date | None  # None: today (auditor.review.release.open_request)
    record_types: tuple[str, ...] = ()
    first_day: date | None = None
    last_day: date | None = None
    format: str = "pdf"
    legal_process: str | None = None
    state: str | None = None
    accounting: bool = False  # the patient asks for an accounting of disclosures (164.528)


def move(change: ReleaseChange, request: ReleaseRequest, to: str, by: str, detail: str | None = None,
         note: str | None = None) -> None:
    if to not in TRANSITIONS[request.status]:
        allowed = ", ".join(sorted(TRANSITIONS[request.status])) or "nothing (it is closed)"
        raise InputError(f"request {request.id} is {request.status}: it can move to {allowed}, not {to}")
    request.status = to
    change.append_history(request, to, by, detail, note)


def open_request(desk: ReleaseDesk, policy: RoiPolicy, new: NewRequest, by: str) -> int:
    if new.requester_type not in policy.requesters:
        raise InputError(f"unknown requester type {new.requester_type!r}; one of {', '.join(policy.requesters)}")
    rule = policy.requesters[new.requester_type]
    if new.accounting and rule.kind != "access":
        raise InputError("only the patient or a personal representative may ask for an accounting of disclosures")
    if new.format not in FORMATS:
        raise InputError(f"unknown format {new.format!r}; one of {', '.join(FORMATS)}")
    if new.first_day and new.last_day and new.first_day > new.last_day:
        raise InputError("the date range ends before it starts")
    if new.requester_type == "attorney" and new.legal_process not in ("subpoena", "court_order"):
        raise InputError("an attorney's request names its legal process: --legal-process subpoena or court_order")
    if new.received_on is None:
        raise InputError("a request needs the day it was received")
    kind = "accounting" if new.accounting else rule.kind
    deadline = policy.deadline(kind, new.state)

    def work(change: ReleaseChange) -> int:
        request = change.new_request(
            {"name": new.requester_name, "address": new.requester_address}, patient_id=change.patient_id(new.mrn),
            requester_type=new.requester_type, kind=kind, status="received",
            record_types=json.dumps(sorted(set(new.record_types))), first_day=new.first_day, last_day=new.last_day,
            format=new.format, legal_process=new.legal_process, state=(new.state or None),
            received_on=new.received_on, due_on=deadlines.first_due(new.received_on, deadline), extended=False)
        change.append_history(request, "received", by, f"{new.requester_type} {kind} request; {deadline.citation}")
        return request.id

    return desk.change("create", work)


def review(desk: ReleaseDesk, request_id: int, by: str, waiting_for: str | None = None) -> str:
    """received -> in_review; in_review -> waiting_for_information (with what is awaited); back again."""

    def work(change: ReleaseChange) -> str:
        request = change.request(request_id)
        to = "waiting_for_information" if waiting_for else "in_review"
        move(change, request, to, by, note=waiting_for)
        return to

    return desk.change("update", work)


def attach_permission(desk: ReleaseDesk, policy: RoiPolicy, request_id: int, permission: Permission, by: str,
                      on: date) -> int:
    """Record a permission for the request; a defective one is refused with every defect named."""
    found = defects(permission, policy, on)
    if found:
        raise InputError(f"the {permission.kind.replace('_', ' ')} is defective: " + "; ".join(map(str, found)))

    def work(change: ReleaseChange) -> int:
        request = change.request(request_id)
        if request.status not in OPEN:
            raise InputError(f"request {request_id} is {request.status}: no permission can be added")
        row = change.add_permission(request, permission.values, kind=permission.kind,
                                    covers=json.dumps(list(permission.covers)), source=permission.source,
                                    signed_on=permission.signed_on, expires_on=permission.expires_on,
                                    revoked_on=permission.revoked_on)
        change.append_history(request, "permission_recorded", by,
                              f"{permission.kind} {row.id} ({permission.source}) covering {', '.join(permission.covers)}")
        return row.id

    return desk.change("update", work)


def extend(desk: ReleaseDesk, policy: RoiPolicy, request_id: int, notice_on: date, reason: str, by: str) -> date:
    """One extension, with the written notice's date and reason (164.524(b)(2)(ii), 164.528(c)(2))."""
    if not reason.strip():
        raise InputError("an extension needs the reason given in the written notice")

    def work(change: ReleaseChange) -> date:
        request = change.request(request_id)
        if request.status not in OPEN:
            raise InputError(f"request {request_id} is {request.status}: it cannot be extended")
        deadline = policy.deadline(request.kind, request.state)
        request.due_on = deadlines.extended_due(request.received_on, request.due_on, request.extended, notice_on,
                                                deadline)
        request.extended = True
        change.append_history(request, "extended", by, f"written notice of {notice_on.isoformat()}; "
                              f"{deadline.citation}", note=reason)
        return request.due_on

    return desk.change("update", work)


def close(desk: ReleaseDesk, request_id: int, by: str) -> None:
    desk.change("update", lambda change: move(change, change.request(request_id), "closed", by))


def permissions_of(change: ReleaseChange, request: ReleaseRequest) -> list[Permission]:
    return [Permission(row.kind, tuple(json.loads(row.covers)), values, row.signed_on, row.expires_on, row.revoked_on,
                       row.source) for row, values in change.permissions(request)]
