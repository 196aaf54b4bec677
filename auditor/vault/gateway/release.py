"""Release of information through the gateway: the only code that reads the records a request releases,
the patient's name and address for the cover letter, and the sealed text of requests, permissions and
the disclosures ledger.

Everything is done as the service account svc:roi, in one unit of work with its audit events
(AccessGateway.unit_of_work): a transition of a request, a release of records (action "disclose", the
request's purpose of use and id), and every read of the ledger. The files a change writes (a packet,
a letter, an accounting) are staged in it and take their names just before its commit, or not at all.
The requester's and recipients' names and addresses are sealed under the request's own data key (not
the patient's), so crypto-shredding a patient does not erase the disclosures ledger (45 CFR 164.528,
164.530(j))."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select

from auditor.crypto.envelope import new_key_id
from auditor.errors import InputError
from auditor.vault.gateway import sealing
from auditor.vault.gateway.sealing import Document, PatientDemographics
from auditor.vault.gateway.service_work import ServiceChange, ServiceDesk
from auditor.vault.records import (ROI_SEALED, ClinicalDocument, Disclosure, Patient, ReleaseAuthorization,
                                   ReleaseRequest, ReleaseRequestHistory)

SERVICE = "roi"


@dataclass
class Release:
    """What one fulfilment read: the documents released and how many of each sensitivity were left out."""

    patient: PatientDemographics
    documents: list[Document]
    withheld: dict[str, int] = field(default_factory=dict)


class ReleaseChange(ServiceChange):
    """One unit of release-of-information work."""

    SEALED = ROI_SEALED
    KIND = "release-of-information"

    def record_request(self, action: str, request_id: int, patient_id: int | None, detail: str, *,
                       purpose: str | None = None, fields: tuple[str, ...] = ()) -> None:
        """Queue an audit event about a request (detail: ids, states, counts, element names; never a
        name or a note)."""
        self.record("roi_request", request_id, detail, action=action, patient_id=patient_id, fields=fields,
                    purpose=purpose)

    def patient_id(self, mrn: str) -> int:
        found = self.gateway.patient_ids(self.session, [mrn])
        if mrn not in found:
            raise InputError("no patient with that MRN")  # never echo the MRN
        return found[mrn]

    def seal(self, key_id: int, table: str, column: str, row_id: int, value) -> bytes | None:
        """`value` sealed as text (a dict or list as JSON)."""
        text = value if value is None or isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        return super().seal(key_id, table, column, row_id, text)

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
        self.record("disclosures", None, f"{len(rows)} ledger entries read", action="view", patient_id=patient_id,
                    fields=("recipient",))
        return out

    def ledger_entries(self, start: datetime, end: datetime, patient_id: int | None = None) -> list[dict]:
        """The ledger's entries disclosed in [start, end) (of one patient), in ledger order, each with
        who fulfilled its request and without its recipient (left sealed); a "view" event per patient."""
        D, H = Disclosure, ReleaseRequestHistory
        query = (select(D.id, D.request_id, D.patient_id, D.disclosed_at, D.requester_type, D.purpose, D.legal_basis,
                        D.accountable, D.exemption, D.description, D.documents, H.by)
                 .outerjoin(H, (H.request_id == D.request_id) & (H.action == "fulfilled") & (H.at == D.disclosed_at))
                 .where(D.disclosed_at >= start, D.disclosed_at < end)
                 .where(*([D.patient_id == patient_id] if patient_id is not None else [])).order_by(D.id))
        out = [{"id": r.id, "request_id": r.request_id, "patient_id": r.patient_id, "at": r.disclosed_at,
                "requester_type": r.requester_type, "purpose": r.purpose, "legal_basis": r.legal_basis,
                "accountable": r.accountable, "exemption": r.exemption, "description": r.description,
                "documents": r.documents, "released_by": r.by} for r in self.session.execute(query)]
        for pid, n in sorted(Counter(e["patient_id"] for e in out).items()):
            self.record("disclosures", None, f"{n} ledger entries read for an AuditEvent export", action="view",
                        patient_id=pid)
        return out

    def demographics(self, patient_id: int) -> PatientDemographics:
        """The patient's name for an accounting (a "view" event)."""
        row = self.session.execute(select(*sealing.PATIENT_READ).where(Patient.id == patient_id)).one()
        self.record("demographics", None, "name read for an accounting of disclosures", action="view",
                    patient_id=patient_id, fields=("first_name", "last_name"))
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

    def new_key(self, purpose: str = "roi-request") -> int:
        return super().new_key(purpose)

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
        self.record_request("create" if action == "received" else "update", request.id, request.patient_id,
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
        self.record_request("disclose", request.id, request.patient_id,
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
        self.wrote("disclosures", "create", [row.id])
        self.record_request("create", request.id, request.patient_id, f"disclosures ledger entry {row.id}: "
                    f"{'accountable' if clear['accountable'] else 'exempt'}")
        return row


class ReleaseDesk(ServiceDesk[ReleaseChange]):
    """Release-of-information units of work, as svc:roi (purpose HOPERAT unless a release says). The
    files a change stages (ReleaseChange.stage) exist with its commit or not at all."""

    CHANGE = ReleaseChange
    SERVICE = SERVICE

    def patient(self, change: ReleaseChange, request: ReleaseRequest) -> PatientDemographics:
        """The patient's name and address for a letter (a "view" event for the request)."""
        row = change.session.execute(select(*sealing.PATIENT_READ).where(Patient.id == request.patient_id)).one()
        change.record_request("view", request.id, request.patient_id, "demographics read for a letter",
                              fields=("demographics",))
        return sealing.open_patient(self.gateway.envelope, row)
