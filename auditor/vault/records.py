"""The records schema. Columns typed `Sealed` hold AES-GCM ciphertext only (see crypto.envelope); the
`*_bidx` columns hold keyed blind indexes (crypto.blind_index). Nothing here decrypts: only the
gateway reads these tables.

Kept in the clear, because the policy engine must compute on them without decrypting: internal ids,
roles, departments, employment dates, shifts, encounter and care-team times, record types and
sensitivities, the VIP and restricted flags, and the date of death.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase, UTCDateTime

Sealed = LargeBinary  # ciphertext from Envelope.seal

PATIENT_SEALED = ("mrn", "first_name", "last_name", "birth_date", "sex", "address_line", "city", "state",
                  "postal_code", "phone")
WORKFORCE_SEALED = ("first_name", "last_name", "birth_date", "address_line", "city", "state", "postal_code",
                    "phone")
DOCUMENT_SEALED = ("title", "body")
CASEWORK_SEALED = {"suppressions": ("reason", "revoke_reason"), "case_findings": ("explanation",),
                   "case_history": ("note",)}  # free text that may name a patient

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
    __tablename__ = "care_team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    workforce_id: Mapped[int] = mapped_column(ForeignKey("workforce.id"), index=True)
    role: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: still on the team


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


class IngestRun(RecordsBase):
    """One `auditor ingest` of an interchange directory: when, from which source, in which time zone."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    time_zone: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str | None] = mapped_column(String(2048))  # JSON counts per file; no values
    quarantine_key_id: Mapped[int | None] = mapped_column(BigInteger)  # data key sealing its quarantined rows


class QuarantinedRow(RecordsBase):
    """An interchange row that could not be read: where it was, why (never its values), and the row
    itself sealed under its ingest run's data key. Unique by where it was and a keyed digest of its
    content, so a rerun of the same files adds nothing."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("source", "file", "line", "row_digest"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(512))
    row_digest: Mapped[int] = mapped_column(BigInteger)  # blind index of the raw row
    raw_row: Mapped[bytes | None] = mapped_column(Sealed)


class VaultSetting(RecordsBase):
    """Small facts about the vault itself (the audit log's data key id, the organisation's time zone)."""

    __tablename__ = "vault_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))


class Suppression(RecordsBase):
    """An approved exception: findings of `rule` for this user and/or patient are kept but muted, until
    the suppression expires or is revoked. The patient is named by internal id only; the reasons are
    sealed under the suppression's own data key."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(128))
    patient_id: Mapped[int | None] = mapped_column(BigInteger)  # no foreign key: outlives a purge (r0004)
    expires_on: Mapped[date] = mapped_column(Date)  # last local day it applies
    approver: Mapped[str] = mapped_column(String(128))
    data_key_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[bytes] = mapped_column(Sealed)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(128))
    revoke_reason: Mapped[bytes | None] = mapped_column(Sealed)


class Case(RecordsBase):
    """One workforce member's findings of a period, under review by the privacy office (45 CFR
    164.530(e): sanctions applied are documented; 164.530(j): kept six years). Its history is in
    case_history; `status`, `disposition`, `sanction` and `closed_at` repeat the history's last word."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open, under_review, closed
    first_day: Mapped[date] = mapped_column(Date)  # local days its findings cover
    last_day: Mapped[date] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    disposition: Mapped[str | None] = mapped_column(String(32))
    sanction: Mapped[str | None] = mapped_column(String(32))
    data_key_id: Mapped[int] = mapped_column(BigInteger)  # seals its notes and its findings' sentences


class CaseFinding(RecordsBase):
    """A finding attached to a case. `finding_key` (a digest of rule, user, patient and event ids)
    makes a rerun of `auditor findings` attach nothing twice."""

    __tablename__ = "case_findings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    finding_key: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    risk: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(BigInteger)
    event_ids: Mapped[str] = mapped_column(Text)  # JSON list of the source event ids
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    explanation: Mapped[bytes | None] = mapped_column(Sealed)


class CaseHistoryEntry(RecordsBase):
    """Append-only: one row per change to a case (opened, findings added, review started, closed, note).
    The database refuses UPDATE and DELETE on this table (migration r0003)."""

    __tablename__ = "case_history"
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the case: the order of the changes
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    action: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # the case's status after this change
    disposition: Mapped[str | None] = mapped_column(String(32))
    sanction: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(256))  # counts and states, never free text
    note: Mapped[bytes | None] = mapped_column(Sealed)


# -- release of information (45 CFR 164.524, 164.508, 164.512, 164.528; auditor roi) ------------------
ROI_SEALED = {"roi_requests": ("requester",), "roi_request_history": ("note",),
              "roi_authorizations": ("content",), "disclosures": ("recipient",)}  # names, addresses, free text


class ReleaseRequest(RecordsBase):
    """A request for a patient's records (or for their accounting of disclosures). `status` and
    `due_on` repeat the history's last word; the requester's name and address are sealed under the
    request's own data key (the ledger outlives a patient's erasure, 164.530(j))."""

    __tablename__ = "roi_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(BigInteger, index=True)  # no FK: outlives a purge
    requester_type: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # access, disclosure, accounting
    status: Mapped[str] = mapped_column(String(32), index=True)
    record_types: Mapped[str] = mapped_column(Text)  # JSON list; empty: the whole designated record set
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(16))  # paper, pdf, fhir
    legal_process: Mapped[str | None] = mapped_column(String(16))  # subpoena, court_order
    state: Mapped[str | None] = mapped_column(String(8))  # whose deadline applies (policies/roi/deadlines.yaml)
    received_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    data_key_id: Mapped[int] = mapped_column(BigInteger)
    requester: Mapped[bytes | None] = mapped_column(Sealed)  # JSON: name, address
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReleaseRequestHistory(RecordsBase):
    """Append-only (the database refuses UPDATE and DELETE, migration r0005): one row per transition."""

    __tablename__ = "roi_request_history"
    __table_args__ = (UniqueConstraint("request_id", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    request_id: Mapped[int] = mapped_column(ForeignKey("roi_requests.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32))  # the request's status after this change
    due_on: Mapped[date] = mapped_column(Date)
    detail: Mapped[str | None] = mapped_column(String(256))  # states, counts, element names; never free text
    note: Mapped[bytes | None] = mapped_column(Sealed)  # a reason in the coordinator's words


class ReleaseAuthorization(RecordsBase):
    """A permission on file for one request: an authorization (164.508), a psychotherapy-note
    authorization, a Part 2 consent, a court order, or the satisfactory assurance of 164.512(e)."""

    __tablename__ = "roi_authorizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("roi_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    covers: Mapped[str] = mapped_column(Text)  # JSON list of sensitivities it permits
    source: Mapped[str] = mapped_column(String(16))  # form, fhir
    signed_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    revoked_on: Mapped[date | None] = mapped_column(Date)
    content: Mapped[bytes | None] = mapped_column(Sealed)  # the elements as given (JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Disclosure(RecordsBase):
    """The disclosures ledger (164.528): append-only, refused UPDATE and DELETE by the database, and
    each entry written with its audit event in one transaction."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("roi_requests.id"), index=True)
    patient_id: Mapped[int] = mapped_column(BigInteger, index=True)  # no FK: outlives a purge
    disclosed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    requester_type: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))  # HL7 v3 PurposeOfUse
    legal_basis: Mapped[str] = mapped_column(String(128))
    accountable: Mapped[bool] = mapped_column(Boolean)
    exemption: Mapped[str | None] = mapped_column(String(128))  # why it is left out of an accounting
    description: Mapped[str] = mapped_column(String(512))  # record types, dates and counts: never values
    documents: Mapped[int] = mapped_column(Integer)
    data_key_id: Mapped[int] = mapped_column(BigInteger)
    recipient: Mapped[bytes | None] = mapped_column(Sealed)  # JSON: name, address


class AccountingSuspension(RecordsBase):
    """164.528(a)(2): an oversight or law-enforcement agency's request to suspend the patient's right to
    an accounting of disclosures made to it; an oral one lasts at most 30 days unless put in writing."""

    __tablename__ = "roi_accounting_suspensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(BigInteger, index=True)  # no FK: outlives a purge
    agency: Mapped[str] = mapped_column(String(128))  # an agency's name, as its disclosures name it
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    written: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LegalHold(RecordsBase):
    """A legal hold (litigation anticipated, a subpoena, an investigation): while not released it stops
    the destruction of what it covers: one patient, a record type, records dated in a range, or the
    intersection of those given. The reasons are sealed under the hold's own data key."""

    __tablename__ = "retention_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    record_type: Mapped[str | None] = mapped_column(String(32))
    covers_from: Mapped[date | None] = mapped_column(Date)
    covers_to: Mapped[date | None] = mapped_column(Date)
    authority: Mapped[str] = mapped_column(String(256))  # who ordered it: counsel, a court, a regulator
    data_key_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[bytes] = mapped_column(Sealed)
    placed_by: Mapped[str] = mapped_column(String(128))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(128))
    release_reason: Mapped[bytes | None] = mapped_column(Sealed)


class LegalHoldHistoryEntry(RecordsBase):
    """Append-only: one row per change to a hold (placed, released); the database refuses UPDATE and
    DELETE (migration r0004)."""

    __tablename__ = "retention_hold_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("retention_holds.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(16))  # placed, released
    by: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(String(256))  # scope and authority, never a reason


class PurgeRun(RecordsBase):
    """One `auditor retention purge`: the schedule applied, who approved, performed and witnessed it,
    and its certificate of destruction. Kept permanently: the database refuses DELETE (r0004)."""

    __tablename__ = "retention_purges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    schedule: Mapped[str] = mapped_column(String(64))
    schedule_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the schedule file applied
    approver: Mapped[str] = mapped_column(String(128))
    performer: Mapped[str] = mapped_column(String(128))
    witness: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)  # running, finished
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    log_size: Mapped[int | None] = mapped_column(BigInteger)  # the signed checkpoint after the purge
    log_root: Mapped[str | None] = mapped_column(String(64))
    certificate_html: Mapped[str | None] = mapped_column(Text)  # holds no PHI: internal ids and dates
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))


class PurgeItem(RecordsBase):
    """One patient a purge destroys: pending, then key_destroyed, then destroyed (rows deleted). A
    patient is purged once (unique), so a purge resumed after a crash counts nobody twice."""

    __tablename__ = "retention_purge_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purge_id: Mapped[int] = mapped_column(ForeignKey("retention_purges.id"), index=True)
    patient_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    data_key_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    record_types: Mapped[str] = mapped_column(String(512))  # comma-separated
    first_record: Mapped[date | None] = mapped_column(Date)
    last_record: Mapped[date | None] = mapped_column(Date)
    retain_until: Mapped[date] = mapped_column(Date)
    basis: Mapped[str] = mapped_column(String(256))  # the schedule's rule that let it go
    documents: Mapped[int | None] = mapped_column(Integer)  # rows deleted
    encounters: Mapped[int | None] = mapped_column(Integer)
    care_team: Mapped[int | None] = mapped_column(Integer)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


RETENTION_SEALED = {"retention_holds": ("reason", "release_reason")}  # free text that may name a patient
