"""The privacy office's casework: suppressions, cases, their findings and history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase, UTCDateTime
from auditor.vault.records.sealed import Sealed


CASEWORK_SEALED = {"suppressions": ("reason", "revoke_reason"), "case_findings": ("explanation",),
                   "case_history": ("note",)}  # free text that may name a patient


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
    # proposed from a case ("false positive"): pending, muting nothing, until an officer other than the
    # proposer approves it (r0013); None for a suppression added whole with its approver
    proposed_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    # the triage queue's reads (r0015): counts and highest risk per case from the index alone, the
    # cases of a rule or a severity, and the rules some case has, without reading the findings
    __table_args__ = (Index("ix_case_findings_case_id_risk", "case_id", "risk"),
                      Index("ix_case_findings_rule_case_id", "rule", "case_id"),
                      Index("ix_case_findings_severity_case_id", "severity", "case_id"))

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


class MutedFinding(RecordsBase):
    """A finding of a case that a suppression muted once it became active (auditor.cases.muting): the
    ranking leaves it out, the case shows it marked with the suppression. A row exists while the
    finding is muted; in the ledger of trusted rows (r0019), so a mark added or removed behind the
    gateway is named by `auditor audit verify`."""

    __tablename__ = "muted_findings"

    case_finding_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("case_findings.id"), primary_key=True,
                                                 autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    suppression_id: Mapped[int] = mapped_column(ForeignKey("suppressions.id"))
    muted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseTimeline(RecordsBase):
    """A part of a case's timeline, cut by the review that attached findings to the case from the
    accesses it had judged (auditor.cases.timelines): the member's accesses around those findings, so
    the case page reads one row rather than the log's blocks. `body` is compressed JSON naming the case
    and the findings it covers; `seal` an HMAC of the row under the log's MAC key. Written once, never
    updated: a later review of the case adds a part."""

    __tablename__ = "case_timelines"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    seal: Mapped[bytes] = mapped_column(LargeBinary)


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
