"""Retention: legal holds and their history, the plans a records manager reviews, purge runs and what
each destroyed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase, UTCDateTime
from auditor.vault.records.sealed import Sealed


RETENTION_SEALED = {"retention_holds": ("reason", "release_reason")}  # free text that may name a patient


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


class PurgePlan(RecordsBase):
    """A retention plan as printed for review (`auditor retention plan`): the patients eligible on a
    day under a schedule, and the SHA-256 of them; the digest is also in the plan's audit event, so a
    purge carries out exactly what was reviewed. Append-only: the database refuses UPDATE and DELETE
    (migration r0010)."""

    __tablename__ = "retention_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    schedule: Mapped[str] = mapped_column(String(64))
    schedule_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the schedule file applied
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the day, the schedule and the patients
    eligible: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PurgePlanPatient(RecordsBase):
    """One patient a plan found eligible, with the data key a purge of the plan will destroy."""

    __tablename__ = "retention_plan_patients"

    plan_id: Mapped[int] = mapped_column(ForeignKey("retention_plans.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data_key_id: Mapped[int] = mapped_column(BigInteger)


class PurgeRun(RecordsBase):
    """One `auditor retention purge`: the schedule applied, who approved, performed and witnessed it,
    and its certificate of destruction. Kept permanently: the database refuses DELETE (r0004)."""

    __tablename__ = "retention_purges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    schedule: Mapped[str] = mapped_column(String(64))
    schedule_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the schedule file applied
    plan_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the plan carried out (None: before r0010)
    approver: Mapped[str] = mapped_column(String(128))
    performer: Mapped[str] = mapped_column(String(128))
    witness: Mapped[str | None] = mapped_column(String(128))
    proposer: Mapped[str | None] = mapped_column(String(128))  # who proposed it, when two people purge (r0014)
    status: Mapped[str] = mapped_column(String(16), index=True)  # running, finished
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    log_size: Mapped[int | None] = mapped_column(BigInteger)  # the signed checkpoint after the purge
    log_root: Mapped[str | None] = mapped_column(String(64))
    certificate_html: Mapped[str | None] = mapped_column(Text)  # holds no PHI: internal ids and dates
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))


class PurgeProposal(RecordsBase):
    """A purge of a recorded plan proposed by one records manager, for another to approve (r0014): then
    carried out by the purge `purge_id`. In the ledger of trusted rows (auditor.vault.ledger)."""

    __tablename__ = "retention_purge_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("retention_plans.id"), index=True)
    proposed_by: Mapped[str] = mapped_column(String(64))  # a staff account's user name
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purge_id: Mapped[int | None] = mapped_column(Integer)


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
