"""Reads for reports: workforce display names and patient MRNs, nothing more (45 CFR 164.502(b),
minimum necessary), by one of the auditor's service accounts (svc:report unless a desk's own account
reads them: the retention plan's MRNs are read as svc:retention). Each read is one unit of work
(AccessGateway.unit_of_work): every patient and workforce member read yields one audit event, written
with the read."""

from __future__ import annotations

from sqlalchemy import select

from auditor.errors import DecryptionError
from auditor.vault.gateway.service_work import ServiceChange, ServiceDesk
from auditor.vault.records import Patient, WorkforceMember

_CHUNK = 900


def _workforce_names(change: ServiceChange, user_ids: list[str]) -> dict[str, str]:
    """user id -> 'J. Doe' (first initial and last name) for the members found."""
    W, envelope = WorkforceMember, change.gateway.envelope
    rows = []
    for i in range(0, len(user_ids), _CHUNK):
        rows += change.session.execute(select(W.id, W.user_id, W.data_key_id, W.first_name, W.last_name)
                                       .where(W.user_id.in_(user_ids[i : i + _CHUNK]))).all()
    envelope.preload(r.data_key_id for r in rows)
    names = {}
    for row in rows:
        try:
            v = envelope.open_fields("workforce", row.id, [("first_name", row.first_name), ("last_name", row.last_name)])
        except DecryptionError:  # an erased member: no name to show
            continue
        initial = f"{v['first_name'].strip()[:1]}. " if v["first_name"] else ""
        names[row.user_id] = f"{initial}{v['last_name'] or ''}".strip() or row.user_id
    change.record_each("workforce", "display name for a report", record_ids=list(names),
                       fields=("first_name", "last_name"))
    return names


def _patient_mrns(change: ServiceChange, patient_ids: list[int]) -> dict[int, str]:
    """internal patient id -> MRN, for the patients found whose key still exists."""
    envelope = change.gateway.envelope
    rows = []
    for i in range(0, len(patient_ids), _CHUNK):
        rows += change.session.execute(select(Patient.id, Patient.data_key_id, Patient.mrn)
                                       .where(Patient.id.in_(patient_ids[i : i + _CHUNK]))).all()
    envelope.preload(r.data_key_id for r in rows)
    mrns = {}
    for row in rows:
        try:
            mrns[row.id] = envelope.open(row.mrn, "patients", "mrn", row.id)
        except DecryptionError:  # crypto-shredded: the MRN is gone for good
            continue
    change.record_each("demographics", "MRN for a report", patient_ids=list(mrns), fields=("mrn",))
    return mrns


def _patient_names(change: ServiceChange, patient_ids: list[int]) -> dict[int, str]:
    """internal patient id -> 'Doe, Jane' for the patients found whose key still exists."""
    P, envelope = Patient, change.gateway.envelope
    rows = []
    for i in range(0, len(patient_ids), _CHUNK):
        rows += change.session.execute(select(P.id, P.data_key_id, P.first_name, P.last_name)
                                       .where(P.id.in_(patient_ids[i : i + _CHUNK]))).all()
    envelope.preload(r.data_key_id for r in rows)
    names = {}
    for row in rows:
        try:
            v = envelope.open_fields("patients", row.id, [("first_name", row.first_name), ("last_name", row.last_name)])
        except DecryptionError:  # crypto-shredded: the name is gone for good
            continue
        names[row.id] = ", ".join(p for p in (v["last_name"], v["first_name"]) if p) or "(no name)"
    change.record_each("demographics", "patient name for a report", patient_ids=list(names),
                       fields=("first_name", "last_name"))
    return names


class ReportDirectory(ServiceDesk[ServiceChange]):
    """Display names and MRNs for findings and reports, read as svc:report for operations (HOPERAT),
    or as the service account of the context given."""

    SERVICE = "report"

    def people(self, user_ids: list[str]) -> dict[str, str]:
        wanted = list(user_ids)
        return self.change("view", lambda change: _workforce_names(change, wanted)) if wanted else {}

    def mrns(self, patient_ids: list[int]) -> dict[int, str]:
        wanted = list(patient_ids)
        return self.change("view", lambda change: _patient_mrns(change, wanted)) if wanted else {}

    def patients(self, patient_ids: list[int]) -> dict[int, str]:
        """internal patient id -> 'Doe, Jane'."""
        wanted = list(patient_ids)
        return self.change("view", lambda change: _patient_names(change, wanted)) if wanted else {}
