"""The plaintext shapes of records, and how they become sealed rows and back. Only the gateway uses it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from auditor.crypto.blind_index import BlindIndexer
from auditor.crypto.envelope import Envelope
from auditor.errors import InputError
from auditor.vault.records import DOCUMENT_SEALED, PATIENT_SEALED, ROLES, SENSITIVITIES, WORKFORCE_SEALED, Patient


def _iso(value: date | str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InputError(f"{what} is not a YYYY-MM-DD date") from None


@dataclass(frozen=True)
class PatientDemographics:
    mrn: str
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | str | None = None
    sex: str | None = None
    address_line: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    vip: bool = False
    restricted: bool = False
    deceased_on: date | None = None

    def __post_init__(self) -> None:
        if not self.mrn or not self.mrn.strip():
            raise InputError("a patient needs a medical record number")


@dataclass(frozen=True)
class WorkforceRecord:
    user_id: str
    role: str
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | str | None = None
    department: str | None = None
    hire_date: date | None = None
    termination_date: date | None = None
    address_line: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    shift_start: str | None = None
    shift_end: str | None = None
    patient_mrn: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InputError(f"unknown role {self.role!r} for user {self.user_id}")


@dataclass(frozen=True)
class DocumentRecord:
    mrn: str
    doc_type: str
    recorded_at: datetime
    title: str | None = None
    body: str | None = None
    sensitivity: str = "general"
    encounter_id: int | None = None
    source: str = "vault"
    source_id: str | None = None

    def __post_init__(self) -> None:
        if self.sensitivity not in SENSITIVITIES:
            raise InputError(f"unknown sensitivity {self.sensitivity!r}")


@dataclass
class Document:
    id: int
    doc_type: str
    sensitivity: str
    recorded_at: datetime
    title: str | None
    body: str | None


@dataclass
class Chart:
    """What a reader saw: demographics, the documents they may see, and how many were withheld."""

    patient_id: int
    demographics: PatientDemographics
    documents: list[Document] = field(default_factory=list)
    withheld: int = 0
    basis: str = ""


def seal_patient(envelope: Envelope, indexer: BlindIndexer, pid: int, key_id: int, p: PatientDemographics) -> dict:
    values = {
        "mrn": p.mrn.strip(), "first_name": p.first_name, "last_name": p.last_name,
        "birth_date": _iso(p.birth_date, "birth date"), "sex": p.sex, "address_line": p.address_line, "city": p.city,
        "state": p.state, "postal_code": p.postal_code, "phone": p.phone,
    }
    row = {c: envelope.seal(key_id, "patients", c, pid, values[c] or None) for c in PATIENT_SEALED}
    row.update(
        id=pid, data_key_id=key_id, vip=bool(p.vip), restricted=bool(p.restricted), deceased_on=p.deceased_on,
        mrn_bidx=indexer.mrn(p.mrn), name_dob_bidx=indexer.name_dob(p.first_name, p.last_name, values["birth_date"]),
        last_name_bidx=indexer.last_name(p.last_name), household_bidx=indexer.household(p.address_line, p.postal_code),
        street_bidx=indexer.street(p.address_line, p.postal_code), phone_bidx=indexer.phone(p.phone),
    )
    return row


# What the gateway selects to read a patient: the clear columns, then the sealed ones in order.
PATIENT_READ = (Patient.id, Patient.data_key_id, Patient.restricted, Patient.vip, Patient.deceased_on,
                *(getattr(Patient, c) for c in PATIENT_SEALED))
_FIRST_SEALED = 5


def open_patient(envelope: Envelope, row) -> PatientDemographics:
    """`row`: a result row of PATIENT_READ."""
    values = envelope.open_fields("patients", row[0], zip(PATIENT_SEALED, row[_FIRST_SEALED:]))
    return PatientDemographics(vip=row[3], restricted=row[2], deceased_on=row[4], **values)


def seal_workforce(envelope: Envelope, indexer: BlindIndexer, wid: int, key_id: int, w: WorkforceRecord) -> dict:
    values = {
        "first_name": w.first_name, "last_name": w.last_name, "birth_date": _iso(w.birth_date, "birth date"),
        "address_line": w.address_line, "city": w.city, "state": w.state, "postal_code": w.postal_code,
        "phone": w.phone,
    }
    row = {c: envelope.seal(key_id, "workforce", c, wid, values[c] or None) for c in WORKFORCE_SEALED}
    row.update(
        id=wid, user_id=w.user_id, data_key_id=key_id, role=w.role, department=w.department, hire_date=w.hire_date,
        termination_date=w.termination_date, shift_start=w.shift_start, shift_end=w.shift_end,
        name_dob_bidx=indexer.name_dob(w.first_name, w.last_name, values["birth_date"]),
        last_name_bidx=indexer.last_name(w.last_name), household_bidx=indexer.household(w.address_line, w.postal_code),
        street_bidx=indexer.street(w.address_line, w.postal_code), phone_bidx=indexer.phone(w.phone),
    )
    return row


def seal_document(envelope: Envelope, doc_id: int, key_id: int, patient_id: int, d: DocumentRecord) -> dict:
    row = {c: envelope.seal(key_id, "documents", c, doc_id, getattr(d, c)) for c in DOCUMENT_SEALED}
    row.update(id=doc_id, patient_id=patient_id, encounter_id=d.encounter_id, doc_type=d.doc_type, source=d.source,
               source_id=d.source_id,
               sensitivity=d.sensitivity, recorded_at=d.recorded_at)
    return row


def open_document(envelope: Envelope, row) -> Document:
    return Document(row.id, row.doc_type, row.sensitivity, row.recorded_at,
                    *(envelope.open(getattr(row, c), "documents", c, row.id) for c in DOCUMENT_SEALED))
