"""The privacy office's own records through the gateway: suppressions and cases.

Their free text (a suppression's reason, a case note, a finding's sentence) may name a patient, so it
is sealed here, under a data key of the suppression or case itself (kept apart from every patient's
key: crypto-shredding a patient must not erase the sanctions record, 45 CFR 164.530(j)). Every change
and every read of sealed text is done as the service account svc:cases and writes its audit event in
the same transaction (AccessGateway._audited). The officer who acted is named in the event's detail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.errors import DecryptionError
from auditor.vault.gateway.context import AccessContext, Actor
from auditor.vault.gateway.core import AccessGateway
from auditor.vault.records import CASEWORK_SEALED, CaseFinding, CaseHistoryEntry, Suppression

T = TypeVar("T")
SERVICE = "cases"
CASEWORK_MODELS = {"suppressions": Suppression, "case_findings": CaseFinding, "case_history": CaseHistoryEntry}
_CHUNK = 900


@dataclass
class CaseworkChange:
    """One audited transaction of casework: the session, the time, and what it records."""

    gateway: AccessGateway
    session: Session
    ctx: AccessContext
    actor: Actor
    at: datetime
    action: str
    events: list[AuditEvent] = field(default_factory=list)

    def record(self, record_type: str, record_id: int | str, detail: str, *, action: str | None = None,
               patient_id: int | None = None) -> None:
        """Queue the audit event of one change (detail: ids, states, counts and who acted; never a note
        or a reason, which may name a patient)."""
        self.events.append(self.gateway._event(self.ctx, self.actor, action or self.action, self.at,
                                               record_type=record_type, record_id=str(record_id),
                                               patient_id=patient_id, detail=detail[:256]))

    def new_key(self, purpose: str) -> int:
        return self.gateway.envelope.create_key(purpose)

    def seal(self, key_id: int, table: str, column: str, row_id: int, text: str | None) -> bytes | None:
        if column not in CASEWORK_SEALED.get(table, ()):
            raise ValueError(f"{table}.{column} is not a casework column")
        return self.gateway.envelope.seal(key_id, table, column, row_id, text)

    def patient_ids(self, mrns: list[str]) -> dict[str, int]:
        """Internal patient ids by MRN, through the blind index (no MRN is stored by casework)."""
        return self.gateway.patient_ids(self.session, mrns)


class Casework:
    """Audited casework transactions and sealed-text reads, as svc:cases for operations (HOPERAT)."""

    def __init__(self, gateway: AccessGateway, ctx: AccessContext | None = None) -> None:
        self.gateway = gateway
        self.ctx = ctx or AccessContext.service(SERVICE)

    def change(self, action: str, work: Callable[[CaseworkChange], T]) -> T:
        """Run `work` in one transaction with the audit events it records (or none of it)."""

        def audited(session: Session, events: list[AuditEvent]) -> T:
            at = self.gateway.clock.now()
            actor = self.gateway._require(session, self.ctx, events, action, at)
            change = CaseworkChange(self.gateway, session, self.ctx, actor, at, action, events)
            return work(change)

        return self.gateway._audited(audited)

    def read(self, table: str, column: str, row_ids: Iterable[int], record_type: str, record_id: int | str,
             patient_ids: Iterable[int] = ()) -> dict[int, str | None]:
        """Open sealed casework text of these rows (row id -> text; None when the key was destroyed).
        One "view" event for the record read, and one per patient the text concerns."""
        if column not in CASEWORK_SEALED.get(table, ()):
            raise ValueError(f"{table}.{column} is not a casework column")
        model = CASEWORK_MODELS[table]
        wanted = sorted(set(row_ids))

        def work(change: CaseworkChange) -> dict[int, str | None]:
            rows = []
            for i in range(0, len(wanted), _CHUNK):
                rows += change.session.execute(select(model.id, getattr(model, column))
                                               .where(model.id.in_(wanted[i : i + _CHUNK]))).all()
            opened: dict[int, str | None] = {}
            for row_id, value in rows:
                try:
                    opened[row_id] = self.gateway.envelope.open(value, table, column, row_id)
                except DecryptionError:  # the key was destroyed at the end of retention
                    opened[row_id] = None
            change.record(record_type, record_id, f"{len(rows)} sealed {column} value(s) read")
            for pid in sorted(set(patient_ids)):
                change.record(record_type, record_id, f"{column} concerning this patient read", patient_id=pid)
            return opened

        return self.change("view", work)
