"""Release of information (45 CFR 164.524, 164.508, 164.512, 164.528; auditor roi): requests,
authorizations, disclosures and suspensions of the accounting."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase, UTCDateTime
from auditor.vault.records.sealed import Sealed


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
