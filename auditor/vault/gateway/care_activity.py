"""Writing the care activity of the interchange contract's version 2 through the gateway: orders,
appointments and who signed a document in a chart (explanations 5 to 7). Mixed into AccessGateway.

Each row is known by its source and the export's id, so a file loaded again adds nothing; the MRN
and the user ids become internal ids here, as for encounters, and every row is recorded in the
ledger of trusted rows in the same transaction (a row slipped in behind the gateway would explain a
snooping access away).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.errors import InputError
from auditor.vault.gateway.bulk import insert_rows
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.keyed import among, loaded
from auditor.vault.records import Appointment, AuthoredDocument, Order, WorkforceMember

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway.core import AccessGateway


@dataclass(frozen=True)
class OrderRecord:
    source: str
    source_id: str  # order_id
    mrn: str
    type: str
    placed_at: datetime
    completed_at: datetime | None = None  # None: not completed
    ordering_user_id: str | None = None
    performing_department: str | None = None

    def people(self) -> tuple[str | None, ...]:
        return (self.ordering_user_id,)

    def row(self, patient_id: int, users: dict[str, int]) -> dict:
        return {"patient_id": patient_id, "ordering_id": users.get(self.ordering_user_id or ""), "type": self.type,
                "performing_department": self.performing_department, "placed_at": self.placed_at,
                "completed_at": self.completed_at}


@dataclass(frozen=True)
class AppointmentRecord:
    source: str
    source_id: str  # appointment_id
    mrn: str
    status: str
    booked_at: datetime
    scheduled_for: datetime
    department: str | None = None
    provider_user_id: str | None = None

    def people(self) -> tuple[str | None, ...]:
        return (self.provider_user_id,)

    def row(self, patient_id: int, users: dict[str, int]) -> dict:
        return {"patient_id": patient_id, "provider_id": users.get(self.provider_user_id or ""),
                "department": self.department, "status": self.status, "booked_at": self.booked_at,
                "scheduled_for": self.scheduled_for}


@dataclass(frozen=True)
class AuthoredRecord:
    """A document signed in a chart: its author and when, never its body."""

    source: str
    source_id: str  # document_id
    mrn: str
    author_user_id: str
    record_type: str
    signed_at: datetime

    def people(self) -> tuple[str | None, ...]:
        return (self.author_user_id,)

    def row(self, patient_id: int, users: dict[str, int]) -> dict:
        return {"patient_id": patient_id, "author_id": users[self.author_user_id], "record_type": self.record_type,
                "signed_at": self.signed_at}


_KINDS = {OrderRecord: (Order, "orders", "order"), AppointmentRecord: (Appointment, "appointments", "appointment"),
          AuthoredRecord: (AuthoredDocument, "authored_documents", "authored_document")}


class CareActivityWriting:
    def add_orders(self: "AccessGateway", ctx: AccessContext, orders: Sequence[OrderRecord]) -> int:
        """Add orders not yet loaded (by source and order id); how many were added."""
        return self._add_activity(ctx, OrderRecord, orders)

    def add_appointments(self: "AccessGateway", ctx: AccessContext, appointments: Sequence[AppointmentRecord]) -> int:
        """Add appointments not yet loaded (by source and appointment id); how many were added."""
        return self._add_activity(ctx, AppointmentRecord, appointments)

    def add_authored_documents(self: "AccessGateway", ctx: AccessContext, documents: Sequence[AuthoredRecord]) -> int:
        """Add who signed which document in which chart (by source and document id); how many were added."""
        return self._add_activity(ctx, AuthoredRecord, documents)

    def _add_activity(self: "AccessGateway", ctx: AccessContext, kind: type, records: Sequence) -> int:
        model, table, event_type = _KINDS[kind]
        if any(not isinstance(r, kind) for r in records):
            raise TypeError(f"{table}: every record must be a {kind.__name__}")

        def work(session: Session, events: list[AuditEvent]) -> int:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            patients = self.patient_ids(session, sorted({r.mrn for r in records}))
            users = _workforce_ids(session, {p for r in records for p in r.people() if p})
            seen = loaded(session, model, records)
            rows, touched = [], set()
            for r in records:
                if (r.source, r.source_id) in seen:
                    continue
                if r.mrn not in patients:
                    raise InputError(f"{table}: {r.source_id} names an unknown patient")
                if any(p and p not in users for p in r.people()):
                    raise InputError(f"{table}: {r.source_id} names an unknown workforce member")
                seen.add((r.source, r.source_id))
                rows.append({"source": r.source, "source_id": r.source_id, **r.row(patients[r.mrn], users)})
                touched.add(patients[r.mrn])
            if rows:
                made = insert_rows(session, model, rows, ids=True)
                self._record_rows(session, events, ctx, writer, at, table, "create", made)
            self._each_event(events, ctx, writer, "create", at, {"patient_id": sorted(touched)}, record_type=event_type)
            return len(rows)

        return self._audited(work) if records else 0


def _workforce_ids(session: Session, user_ids: set[str]) -> dict[str, int]:
    return dict(among(session, select(WorkforceMember.user_id, WorkforceMember.id), WorkforceMember.user_id,
                      sorted(user_ids)))
