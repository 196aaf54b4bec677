"""Release of information through the gateway: the only code that reads the records a request releases,
the patient's name and address for the cover letter, and the sealed text of requests, permissions and
the disclosures ledger.

Everything is done as the service account svc:roi, in one transaction with its audit events
(AccessGateway._audited): a transition of a request, a release of records (action "disclose", the
request's purpose of use and id), and every read of the ledger. The files a change writes (a packet,
a letter, an accounting) are staged in it and take their names just before its commit, or not at all.
The requester's and recipients' names and addresses are sealed under the request's own data key (not
the patient's), so crypto-shredding a patient does not erase the disclosures ledger (45 CFR 164.528,
164.530(j))."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.crypto.envelope import new_key_id
from auditor.errors import DecryptionError, InputError
from auditor.phi_files import Outputs
from auditor.vault.gateway import sealing
from auditor.vault.gateway.context import AccessContext, Actor
from auditor.vault.gateway.core import AccessGateway
from auditor.vault.gateway.sealing import Document, PatientDemographics
from auditor.vault.records import (ROI_SEALED, ClinicalDocument, Disclosure, Patient, ReleaseAuthorization,
                                   ReleaseRequest, ReleaseRequestHistory)

T = TypeVar("T")
SERVICE = "roi"


@dataclass
class Release:
    """What one fulfilment read: the documents released and how many of each sensitivity were left out."""

    patient: PatientDemographics
    documents: list[Document]
    withheld: dict[str, int] = field(default_factory=dict)


@dataclass
class ReleaseChange:
    """One audited transaction of release-of-information work."""

    gateway: AccessGateway
    session: Session
    ctx: AccessContext
    actor: Actor
    at: datetime
    events: list[AuditEvent] = field(default_factory=list)
    outputs: Outputs = field(default_factory=Outputs)

    def record(self, action: str, request_id: int, patient_id: int | None, detail: str, *,
               purpose: str | None = None, fields: tuple[str, ...] = ()) -> None:
        """Queue an audit event (detail: ids, states, counts, element names; never a name or a note)."""
        ctx = self.ctx if purpose is None else AccessContext.service(SERVICE, purpose)
        self.events.append(self.gateway._event(ctx, self.actor, action, self.at, record_type="roi_request",
                                               record_id=str(request_id), patient_id=patient_id,
                                               fields=fields, detail=detail[:256]))

    def patient_id(self, mrn: str) -> int:
        found = self.gateway.patient_ids(self.session, [mrn])
        if mrn not in found:
            raise InputError("no patient with that MRN")  # never echo the MRN
        return found[mrn]

    def seal(self, key_id: int, table: str, column: str, row_id: int, value) -> bytes | None:
        if column not in ROI_SEALED.get(table, ()):
            raise ValueError(f"{table}.{column} is not a release-of-information column")
        text = value if value is None or isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        return self.gateway.envelope.seal(key_id, table, column, row_id, text)

    def open(self, sealed: bytes | None, table: str, column: str, row_id: int) -> str | None:
        if column not in ROI_SEALED.get(table, ()):
            raise ValueError(f"{table}.{column} is not a release-of-information column")
        try:
            return self.gateway.envelope.open(sealed, table, column, row_id)
        except DecryptionError:  # the key was destroyed at the end of retention
            return None

    def stage(self, folder: Path, files: dict[str, str | bytes]) -> list[Path]:
        """Write `files` into `folder` under temporary names; ReleaseDesk.change gives them their names
        just before this transaction commits and takes them away if it does not."""
        return [self.outputs.add(Path(folder) / name, content) for name, content in files.items()]

    def ledger(self, patient_id: int, since: datetime) -> list[dict]:
        """The patient's disclosures since `since`, recipients opened; one "view" event for the read."""
        rows = self.session.execute(select(Disclosure).where(Disclosure.patient_id == patient_id,
                                                             Disclosure.disclosed_at >= since)
                                    .order_by(Disclosure.disclosed_at, Disclosure.id)).scalars().all()
        out = []
        for row in rows:
            recipient = self.open(row.recipient, "disclosures", "recipient", row.id)
            out.append({"id": row.id, "request_id": row.request_id, "at": row.disclosed_at,
                        "recipient": json.loads(recipient) if recipient else {"name": "(erased)", "address": ""},
                        "requester_type": row.requester_type, "purpose": row.purpose,
                        "legal_basis": row.legal_basis, "accountable": row.accountable,
                        "exemption": row.exemption, "description": row.description})
        self.events.append(self.gateway._event(self.ctx, self.actor, "view", self.at, patient_id=patient_id,
                                               record_type="disclosures", fields=("recipient",),
                                               detail=f"{len(rows)} ledger entries read"))
        return out

    def demographics(self, patient_id: int) -> PatientDemographics:
        """The patient's name for an accounting (a "view" event)."""
        row = self.session.execute(select(*sealing.PATIENT_READ).where(Patient.id == patient_id)).one()
        self.events.append(self.gateway._event(self.ctx, self.actor, "view", self.at, patient_id=patient_id,
                                               record_type="demographics", fields=("first_name", "last_name"),
                                               detail="name read for an accounting of disclosures"))
        return sealing.open_patient(self.gateway.envelope, row)

    def new_request(self, requester: dict, **clear) -> ReleaseRequest:
        """Insert a request under a new data key of its own, the requester sealed."""
        request = ReleaseRequest(data_key_id=self.new_key(), created_at=self.at, **clear)
        self.session.add(request)
        self.session.flush()
        request.requester = self.seal(request.data_key_id, "roi_requests", "requester", request.id, requester)
        self.session.flush()
        return request

    def add_permission(self, request: ReleaseRequest, values: dict, **clear) -> ReleaseAuthorization:
        row = ReleaseAuthorization(request_id=request.id, created_at=self.at, **clear)
        self.session.add(row)
        self.session.flush()
        row.content = self.seal(request.data_key_id, "roi_authorizations", "content", row.id, values)
        self.session.flush()
        return row

    def requester_of(self, request: ReleaseRequest) -> dict:
        """The requester's name and address (sealed under the request's key)."""
        opened = self.open(request.requester, "roi_requests", "requester", request.id)
        return json.loads(opened) if opened else {"name": "(erased)", "address": ""}

    def permissions(self, request: ReleaseRequest) -> list[tuple[ReleaseAuthorization, dict]]:
        """The permissions on file for the request, each with the elements it was recorded with."""
        rows = self.session.execute(select(ReleaseAuthorization).where(ReleaseAuthorization.request_id == request.id)
                                    .order_by(ReleaseAuthorization.id)).scalars().all()
        return [(row, json.loads(self.open(row.content, "roi_authorizations", "content", row.id) or "{}"))
                for row in rows]

    def new_key(self) -> int:
        return self.gateway.envelope.create_key("roi-request")

    def request(self, request_id: int) -> ReleaseRequest:
        row = self.session.get(ReleaseRequest, request_id)
        if row is None:
            raise InputError(f"no release request {request_id}")
        return row

    def append_history(self, request: ReleaseRequest, action: str, by: str, detail: str | None = None,
                       note: str | None = None) -> None:
        """One append-only history row with the request's status and due date after the change."""
        position = (self.session.scalar(select(func.max(ReleaseRequestHistory.position))
                                        .where(ReleaseRequestHistory.request_id == request.id)) or 0) + 1
        row_id = new_key_id()
        self.session.add(ReleaseRequestHistory(
            id=row_id, request_id=request.id, position=position, at=self.at, action=action, by=by[:128],
            status=request.status, due_on=request.due_on, detail=(detail or "")[:256] or None,
            note=self.seal(request.data_key_id, "roi_request_history", "note", row_id, note)))
        self.session.flush()
        self.record("create" if action == "received" else "update", request.id, request.patient_id,
                    f"{action}: status {request.status}, due {request.due_on.isoformat()}; by {by}"
                    + (f"; {detail}" if detail else ""))

    def release(self, request: ReleaseRequest, purpose: str, types: tuple[str, ...], sensitivities: frozenset[str],
                first_day: date | None, last_day: date | None) -> Release:
        """Open the patient and the documents the request may receive (minimum necessary: only these
        types, dates and sensitivities), as one "disclose" event with the request's purpose and id."""
        patient = self.session.execute(select(*sealing.PATIENT_READ).where(Patient.id == request.patient_id)).one()
        query = select(ClinicalDocument).where(ClinicalDocument.patient_id == request.patient_id)
        if types:
            query = query.where(ClinicalDocument.doc_type.in_(types))
        if first_day:
            query = query.where(ClinicalDocument.recorded_at >= datetime.combine(first_day, time(), timezone.utc))
        if last_day:
            query = query.where(ClinicalDocument.recorded_at
                                < datetime.combine(last_day + timedelta(days=1), time(), timezone.utc))
        out = Release(sealing.open_patient(self.gateway.envelope, patient), [])
        for doc in self.session.execute(query.order_by(ClinicalDocument.recorded_at, ClinicalDocument.id)).scalars():
            if doc.sensitivity in sensitivities:
                out.documents.append(sealing.open_document(self.gateway.envelope, doc))
            else:
                out.withheld[doc.sensitivity] = out.withheld.get(doc.sensitivity, 0) + 1
        withheld = ", ".join(f"{n} {s}" for s, n in sorted(out.withheld.items()))
        self.record("disclose", request.id, request.patient_id,
                    f"{len(out.documents)} document(s) released" + (f"; withheld: {withheld}" if withheld else ""),
                    purpose=purpose, fields=("demographics", *sorted({d.doc_type for d in out.documents})))
        return out

    def add_disclosure(self, request: ReleaseRequest, recipient: dict, **clear) -> Disclosure:
        # The ledger refuses UPDATE, so the id (bound into the sealed recipient) is chosen before the insert.
        row_id = (self.session.scalar(select(func.max(Disclosure.id))) or 0) + 1
        row = Disclosure(id=row_id, request_id=request.id, patient_id=request.patient_id, disclosed_at=self.at,
                         requester_type=request.requester_type, data_key_id=request.data_key_id,
                         recipient=self.seal(request.data_key_id, "disclosures", "recipient", row_id, recipient), **clear)
        self.session.add(row)
        self.session.flush()
        self.record("create", request.id, request.patient_id, f"disclosures ledger entry {row.id}: "
                    f"{'accountable' if clear['accountable'] else 'exempt'}")
        return row


class ReleaseDesk:
    """Audited release-of-information transactions, as svc:roi (purpose HOPERAT unless a release says)."""

    def __init__(self, gateway: AccessGateway, ctx: AccessContext | None = None) -> None:
        self.gateway = gateway
        self.ctx = ctx or AccessContext.service(SERVICE)

    def change(self, action: str, work: Callable[[ReleaseChange], T]) -> T:
        """Run `work` in one transaction with the audit events it records (or none of it). The files it
        stages are renamed into place just before the commit and taken away if the commit fails, so a
        packet and the ledger entry it goes with exist together or not at all."""
        outputs = Outputs()
        committed: list[bool] = []

        def audited(session: Session, events: list[AuditEvent]) -> T:
            at = self.gateway.clock.now()
            actor = self.gateway._require(session, self.ctx, events, action, at)
            result = work(ReleaseChange(self.gateway, session, self.ctx, actor, at, events, outputs))
            if outputs.paths:  # after the audit events are appended, as the last step before COMMIT
                event.listen(session, "before_commit", lambda _: outputs.commit(), once=True)
                event.listen(session, "after_commit", lambda _: committed.append(True), once=True)
            return result

        try:
            result = self.gateway._audited(audited)
        except BaseException:
            if committed:  # a failure after the commit (e.g. the key store's usage counts): the files stand
                outputs.finish()
            else:
                outputs.undo()
                outputs.discard()
            raise
        outputs.finish()
        return result

    def patient(self, change: ReleaseChange, request: ReleaseRequest) -> PatientDemographics:
        """The patient's name and address for a letter (a "view" event for the request)."""
        row = change.session.execute(select(*sealing.PATIENT_READ).where(Patient.id == request.patient_id)).one()
        change.record("view", request.id, request.patient_id, "demographics read for a letter", fields=("demographics",))
        return sealing.open_patient(self.gateway.envelope, row)
