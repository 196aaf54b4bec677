"""The auditor's own record keeping through the gateway (casework, retention): one transaction per
change, done as a service account, with the audit events it records written in the same
transaction (AccessGateway._audited) or nothing at all. Free text that may name a patient is sealed
only into the columns its kind of work declares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, ClassVar, Generic, TypeVar

from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.vault.gateway.context import AccessContext, Actor
from auditor.vault.gateway.core import AccessGateway

T = TypeVar("T")


@dataclass
class ServiceChange:
    """One audited transaction of a service account's work: the session, the time, and its events."""

    SEALED: ClassVar[dict[str, tuple[str, ...]]] = {}  # table -> the columns this work may seal
    KIND: ClassVar[str] = "service"

    gateway: AccessGateway
    session: Session
    ctx: AccessContext
    actor: Actor
    at: datetime
    action: str
    events: list[AuditEvent] = field(default_factory=list)

    def record(self, record_type: str, record_id: int | str | None, detail: str, *, action: str | None = None,
               patient_id: int | None = None, fields: tuple[str, ...] = (), outcome: str = "success") -> None:
        """Queue the audit event of one change (detail: ids, states, counts and who acted; never a note
        or a reason, which may name a patient). outcome "denied": an attempt refused (a failed sign-in)."""
        self.events.append(self.gateway._event(self.ctx, self.actor, action or self.action, self.at,
                                               record_type=record_type, patient_id=patient_id, fields=fields,
                                               record_id=None if record_id is None else str(record_id),
                                               detail=detail[:256], outcome=outcome))

    def record_rows(self, table: str, action: str, keys: list[int | str]) -> None:
        """Queue the ledger events of rows of a ledger table this work wrote (or, for a delete, is
        about to delete): auditor.vault.ledger. Pending ORM changes are flushed first."""
        self.session.flush()
        self.gateway._record_rows(self.session, self.events, self.ctx, self.actor, self.at, table, action, keys)

    def new_key(self, purpose: str) -> int:
        return self.gateway.envelope.create_key(purpose)

    def seal(self, key_id: int, table: str, column: str, row_id: int, text: str | None) -> bytes | None:
        if column not in self.SEALED.get(table, ()):
            raise ValueError(f"{table}.{column} is not a {self.KIND} column")
        return self.gateway.envelope.seal(key_id, table, column, row_id, text)

    def patient_ids(self, mrns: list[str]) -> dict[str, int]:
        """Internal patient ids by MRN, through the blind index (no MRN is stored by this work)."""
        return self.gateway.patient_ids(self.session, mrns)


C = TypeVar("C", bound=ServiceChange)


class ServiceDesk(Generic[C]):
    """Runs a service account's changes, each in one audited transaction."""

    CHANGE: ClassVar[type]

    def __init__(self, gateway: AccessGateway, ctx: AccessContext) -> None:
        self.gateway = gateway
        self.ctx = ctx

    def change(self, action: str, work: Callable[[C], T]) -> T:
        """Run `work` in one transaction with the audit events it records (or none of it)."""

        def audited(session: Session, events: list[AuditEvent]) -> T:
            at = self.gateway.clock.now()
            actor = self.gateway._require(session, self.ctx, events, action, at)
            return work(self.CHANGE(self.gateway, session, self.ctx, actor, at, action, events))

        return self.gateway._audited(audited)
