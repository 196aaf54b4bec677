"""Patients, the workforce, encounters, care teams, orders, appointments, who wrote in the chart, and
clinical documents."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase, UTCDateTime
from auditor.vault.records.sealed import Sealed


PATIENT_SEALED = ("mrn", "first_name", "last_name", "birth_date", "sex", "address_line", "city", "state",
                  "postal_code", "phone")
WORKFORCE_SEALED = ("first_name", "last_name", "birth_date", "address_line", "city", "state", "postal_code",
                    "phone")
DOCUMENT_SEALED = ("title", "body")

SENSITIVITIES = ("general", "psychotherapy_note", "substance_use", "hiv", "genetic", "mental_health")
ROLES = ("physician", "resident", "nurse", "pharmacist", "therapist", "technician", "registration", "billing",
         "coding", "him", "research", "it", "admin", "student", "volunteer", "other")


class Patient(RecordsBase):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data_key_id: Mapped[int] = mapped_column(BigInteger)
    mrn: Mapped[bytes] = mapped_column(Sealed)
    first_name: Mapped[bytes | None] = mapped_column(Sealed)
    last_name: Mapped[bytes | None] = mapped_column(Sealed)
    birth_date: Mapped[bytes | None] = mapped_column(Sealed)
    sex: Mapped[bytes | None] = mapped_column(Sealed)
    address_line: Mapped[bytes | None] = mapped_column(Sealed)
    city: Mapped[bytes | None] = mapped_column(Sealed)
    state: Mapped[bytes | None] = mapped_column(Sealed)
    postal_code: Mapped[bytes | None] = mapped_column(Sealed)
    phone: Mapped[bytes | None] = mapped_column(Sealed)
    mrn_bidx: Mapped[int] = mapped_column(BigInteger, unique=True)
    name_dob_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    last_name_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    household_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    street_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    phone_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    deceased_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(64), default="vault")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkforceMember(RecordsBase):
    __tablename__ = "workforce"
    # the departments of members with cases, one index probe each (the triage queue's choices, r0015)
    __table_args__ = (Index("ix_workforce_department_user_id", "department", "user_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[str] = mapped_column(String(128), unique=True)
    data_key_id: Mapped[int] = mapped_column(BigInteger)
    first_name: Mapped[bytes | None] = mapped_column(Sealed)
    last_name: Mapped[bytes | None] = mapped_column(Sealed)
    birth_date: Mapped[bytes | None] = mapped_column(Sealed)
    address_line: Mapped[bytes | None] = mapped_column(Sealed)
    city: Mapped[bytes | None] = mapped_column(Sealed)
    state: Mapped[bytes | None] = mapped_column(Sealed)
    postal_code: Mapped[bytes | None] = mapped_column(Sealed)
    phone: Mapped[bytes | None] = mapped_column(Sealed)
    name_dob_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    last_name_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    household_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    street_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    phone_bidx: Mapped[int | None] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(128))
    hire_date: Mapped[date | None] = mapped_column(Date)
    termination_date: Mapped[date | None] = mapped_column(Date)
    shift_start: Mapped[str | None] = mapped_column(String(5))  # HH:MM local wall clock
    shift_end: Mapped[str | None] = mapped_column(String(5))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))  # their own chart
    source: Mapped[str] = mapped_column(String(64), default="vault")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Encounter(RecordsBase):
    """A treatment relationship in time: who attended, in which department."""

    __tablename__ = "encounters"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    department: Mapped[str | None] = mapped_column(String(128))
    attending_id: Mapped[int | None] = mapped_column(ForeignKey("workforce.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)


class CareTeamMember(RecordsBase):
    """A workforce member on a patient's care team. One read from an export is known by its source
    and its start as the file writes it: the UTC start depends on the time zone it was read in (r0011)."""

    __tablename__ = "care_team"
    __table_args__ = (UniqueConstraint("source", "patient_id", "workforce_id", "source_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    workforce_id: Mapped[int] = mapped_column(ForeignKey("workforce.id"), index=True)
    role: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: still on the team
    source: Mapped[str | None] = mapped_column(String(64))  # None: not from an export, or loaded before r0011
    source_start: Mapped[str | None] = mapped_column(String(64))  # e.g. "2026-10-28T22:00:00" (a timestamp, not PHI)


ORDER_TYPES = ("lab", "imaging", "medication", "procedure", "consult", "referral", "other")
APPOINTMENT_STATUSES = ("booked", "arrived", "completed", "cancelled", "no_show")


class Order(RecordsBase):
    """An order placed for a patient (contract version 2, explanation 5): who placed it, which
    department performs it, from when until when. Internal ids only: no PHI (r0021)."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))  # the export's order_id
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    ordering_id: Mapped[int | None] = mapped_column(ForeignKey("workforce.id"))
    performing_department: Mapped[str | None] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: not completed


class Appointment(RecordsBase):
    """An appointment of a patient (explanation 6, and rule 4's encounters while not cancelled) (r0021)."""

    __tablename__ = "appointments"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))  # the export's appointment_id
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("workforce.id"))
    department: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthoredDocument(RecordsBase):
    """Who signed a document in a patient's chart, and when (explanation 7): the document's body is
    never exported, so none is kept (r0021)."""

    __tablename__ = "authored_documents"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))  # the export's document_id
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("workforce.id"))
    record_type: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClinicalDocument(RecordsBase):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(64), default="vault")
    source_id: Mapped[str | None] = mapped_column(String(128))  # e.g. "conditions.csv:17": makes loads idempotent
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"))
    doc_type: Mapped[str] = mapped_column(String(32))  # condition, medication, procedure, note, lab, ...
    sensitivity: Mapped[str] = mapped_column(String(32), default="general")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[bytes | None] = mapped_column(Sealed)
    body: Mapped[bytes | None] = mapped_column(Sealed)
