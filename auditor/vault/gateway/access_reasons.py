"""Reading the reason an access was logged with (a break-the-glass reason: free text that may name the
patient or the emergency), sealed in the audit log under the log's key, bound to its sequence number.

Only the privacy office's staff read them, through the gateway as themselves: the staff rule of
policies/access_control.yaml decides (as for demographics: the office reads no clinical record), and
each reason opened is a "view" event in the reader's name naming the patient, which the rules watch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.audit.blocks import stored_events_at
from auditor.audit.events import AuditEvent, CANONICAL_COLUMNS
from auditor.errors import AccessDenied
from auditor.vault.gateway.context import AccessContext
from auditor.vault.records import Patient

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway.core import AccessGateway

_PATIENT, _REASON = CANONICAL_COLUMNS.index("patient_id"), CANONICAL_COLUMNS.index("reason")


class AccessReasonReading:
    def read_access_reasons(self: "AccessGateway", ctx: AccessContext, seqs: list[int]) -> dict[int, str]:
        """seq -> the reason of each of these logged accesses that has one (a staff reader only)."""

        def work(session: Session, events: list[AuditEvent]) -> dict[int, str]:
            at = self.clock.now()
            actor = self._actor(session, ctx, events, "view", at)
            if not actor.staff:
                events.append(self._event(ctx, actor, "view", at, record_type="access_reason", outcome="denied",
                                          detail="only the privacy office's staff read access reasons"))
                raise AccessDenied("only the privacy office's staff read access reasons")
            out: dict[int, str] = {}
            conn = session.connection()
            for seq, stored in sorted(stored_events_at(conn, seqs).items()):
                if stored.row is None or stored.row[_REASON] is None or stored.row[_PATIENT] is None:
                    continue
                patient = session.execute(select(Patient.id).where(Patient.id == stored.row[_PATIENT])).first()
                if patient is None:
                    continue
                decision = self._decide(session, ctx, actor, "view", [patient], "demographics", at)[patient.id]
                events.append(self._event(ctx, actor, "view", at, patient_id=patient.id, record_type="access_reason",
                                          record_id=str(seq), outcome="success" if decision.allowed else "denied",
                                          detail=decision.basis))
                if decision.allowed:
                    out[seq] = self.envelope.open(bytes(stored.row[_REASON]), "audit_events", "reason", seq)
            return out

        return self._audited(work)
