"""Legal holds: litigation anticipated, a subpoena, an investigation. While a hold is in force, nothing
it covers is destroyed, whatever the schedule says (the duty to preserve evidence; 45 CFR
164.530(j) keeps the documentation of each change six years).

A hold covers one patient, a record type, records dated in a range, or the intersection of those
given (a patient's imaging from 2019 to 2021). It is placed with a reason (sealed: it may name a
patient) and an authority (who ordered it), and later released with a reason. Each change is one
audit event and one row of the hold's history, in the same transaction; the database refuses to
rewrite or delete that history (migration r0004), and a released hold stays listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select

from auditor.errors import InputError, NotFound
from auditor.vault.gateway.retention import RecordsManagement, RetentionChange
from auditor.retention.schedules import ENCOUNTER
from auditor.vault.records import ClinicalDocument, LegalHold, LegalHoldHistoryEntry


class HoldRefused(InputError):
    """A hold that cannot be placed or released as asked; nothing was changed."""


@dataclass(frozen=True)
class HoldRequest:
    reason: str
    authority: str
    placed_by: str
    mrn: str | None = None
    record_type: str | None = None
    covers_from: date | None = None
    covers_to: date | None = None


@dataclass(frozen=True)
class LegalHoldEntry:
    """A hold as the plan and the listing see it: clear columns only (the reasons stay sealed)."""

    id: int
    patient_id: int | None
    record_type: str | None
    covers_from: date | None
    covers_to: date | None
    authority: str
    placed_by: str
    placed_at: datetime
    released_at: datetime | None = None
    released_by: str | None = None

    @property
    def in_force(self) -> bool:
        return self.released_at is None

    def scope(self) -> str:
        parts = []
        if self.patient_id is not None:
            parts.append(f"patient {self.patient_id}")
        if self.record_type:
            parts.append(f"record type {self.record_type}")
        if self.covers_from or self.covers_to:
            first = self.covers_from.isoformat() if self.covers_from else "the beginning"
            last = self.covers_to.isoformat() if self.covers_to else "now"
            parts.append(f"records dated {first} to {last}")
        return ", ".join(parts)


def _text(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise HoldRefused(f"a legal hold needs {what}")
    return value.strip()


def place_hold(office: RecordsManagement, request: HoldRequest) -> int:
    """Place a hold; returns its id. Refused (nothing written) without a scope, a reason, an authority
    or who placed it, with a range that ends before it starts, or an MRN that names no patient."""
    reason, authority = _text(request.reason, "a reason"), _text(request.authority, "an authority")
    placed_by = _text(request.placed_by, "who places it")
    mrn = request.mrn.strip() if request.mrn and request.mrn.strip() else None
    record_type = request.record_type.strip() if request.record_type and request.record_type.strip() else None
    if mrn is None and record_type is None and request.covers_from is None and request.covers_to is None:
        raise HoldRefused("a legal hold covers a patient (--mrn), a record type (--record-type), "
                          "a date range (--from/--to), or their intersection")
    if request.covers_from and request.covers_to and request.covers_to < request.covers_from:
        raise HoldRefused("the hold's range ends before it starts")

    def work(change: RetentionChange) -> int:
        if record_type is not None:
            _check_record_type(change, record_type)
        patient_id = None
        if mrn is not None:
            found = change.patient_ids([mrn])
            if mrn not in found:
                raise NotFound("no patient with that MRN")
            patient_id = found[mrn]
        row = LegalHold(patient_id=patient_id, record_type=record_type, covers_from=request.covers_from,
                        covers_to=request.covers_to, authority=authority[:256], placed_by=placed_by[:128],
                        placed_at=change.at, data_key_id=change.new_key("legal_hold"), reason=b"")
        change.session.add(row)
        change.session.flush()  # the id binds the sealed reason to its row
        row.reason = change.seal(row.data_key_id, "retention_holds", "reason", row.id, reason)
        entry = _entry(row)
        detail = f"legal hold {row.id} placed by {placed_by} on the order of {authority}: {entry.scope()}"
        history = LegalHoldHistoryEntry(hold_id=row.id, at=change.at, action="placed", by=placed_by[:128],
                                        detail=detail[:256])
        change.session.add(history)
        change.session.flush()
        change.wrote("retention_holds", "create", [row.id])
        change.wrote("retention_hold_history", "create", [history.id])
        change.record("legal_hold", row.id, detail, patient_id=patient_id)
        return row.id

    return office.change("create", work)


def _check_record_type(change: RetentionChange, record_type: str) -> None:
    """A hold on a misspelt type would cover nothing and look like protection: refuse it."""
    known = {ENCOUNTER, *change.session.scalars(select(ClinicalDocument.doc_type).distinct())}
    if record_type not in known:
        raise HoldRefused(f"no record of type {record_type!r} in the vault (types: {', '.join(sorted(known))})")


def release_hold(office: RecordsManagement, hold_id: int, reason: str, by: str) -> None:
    """Release a hold: from now on it stops nothing. A release is final (refused twice)."""
    reason, by = _text(reason, "a reason to be released"), _text(by, "who releases it")

    def work(change: RetentionChange) -> None:
        row = change.session.get(LegalHold, hold_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no legal hold {hold_id}")
        if row.released_at is not None:
            raise HoldRefused(f"legal hold {hold_id} is already released")
        row.released_at, row.released_by = change.at, by[:128]
        row.release_reason = change.seal(row.data_key_id, "retention_holds", "release_reason", row.id, reason)
        detail = f"legal hold {hold_id} released by {by}"
        history = LegalHoldHistoryEntry(hold_id=row.id, at=change.at, action="released", by=by[:128], detail=detail)
        change.session.add(history)
        change.session.flush()
        change.wrote("retention_holds", "update", [row.id])
        change.wrote("retention_hold_history", "create", [history.id])
        change.record("legal_hold", row.id, detail, patient_id=row.patient_id)

    office.change("update", work)


def _entry(row: LegalHold) -> LegalHoldEntry:
    return LegalHoldEntry(row.id, row.patient_id, row.record_type, row.covers_from, row.covers_to, row.authority,
                          row.placed_by, row.placed_at, row.released_at, row.released_by)


def list_holds(records: Engine, *, in_force_only: bool = False) -> list[LegalHoldEntry]:
    """Every hold, oldest first (clear columns; the reasons stay sealed)."""
    H = LegalHold
    query = select(H.id, H.patient_id, H.record_type, H.covers_from, H.covers_to, H.authority, H.placed_by,
                   H.placed_at, H.released_at, H.released_by).order_by(H.id)
    if in_force_only:
        query = query.where(H.released_at.is_(None))
    with records.connect() as conn:
        return [LegalHoldEntry(*row) for row in conn.execute(query)]


def hold_history(records: Engine, hold_id: int) -> list[tuple[datetime, str, str, str | None]]:
    """(when, action, by, detail) of every change to a hold, in order."""
    E = LegalHoldHistoryEntry
    with records.connect() as conn:
        return [tuple(r) for r in conn.execute(select(E.at, E.action, E.by, E.detail).where(E.hold_id == hold_id)
                                               .order_by(E.id))]  # type: ignore[misc]
