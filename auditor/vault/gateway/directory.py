"""Reads for reports: workforce display names and patient MRNs, nothing more (45 CFR 164.502(b),
minimum necessary), by one of the auditor's service accounts (AccessContext.service("report")).
Every patient and workforce member read yields one audit event, written with the read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.errors import AccessDenied, DecryptionError
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.core import AccessGateway
from auditor.vault.records import Patient, WorkforceMember

_CHUNK = 900


def _service_only(gateway: AccessGateway, session: Session, ctx: AccessContext, events: list, at) -> None:
    actor = gateway._actor(session, ctx, events, "view", at)
    decision = gateway.policy.decide_service(actor.service or "", "view", ctx.purpose)
    if actor.service is None or not decision.allowed:
        basis = decision.basis if actor.service else "only the auditor's service accounts read the directory"
        events.append(gateway._event(ctx, actor, "view", at, outcome="denied", detail=basis))
        raise AccessDenied(f"access denied: {basis}")


def workforce_names(gateway: AccessGateway, ctx: AccessContext, user_ids: list[str]) -> dict[str, str]:
    """user id -> 'J. Doe' (first initial and last name) for the members found."""

    def work(session: Session, events: list[AuditEvent]) -> dict[str, str]:
        at = gateway.clock.now()
        _service_only(gateway, session, ctx, events, at)
        W = WorkforceMember
        rows = []
        for i in range(0, len(user_ids), _CHUNK):
            rows += session.execute(select(W.id, W.user_id, W.data_key_id, W.first_name, W.last_name)
                                    .where(W.user_id.in_(user_ids[i : i + _CHUNK]))).all()
        gateway.envelope.preload(r.data_key_id for r in rows)
        names = {}
        for row in rows:
            try:
                v = gateway.envelope.open_fields("workforce", row.id, [("first_name", row.first_name),
                                                                        ("last_name", row.last_name)])
            except DecryptionError:  # an erased member: no name to show
                continue
            initial = f"{v['first_name'].strip()[:1]}. " if v["first_name"] else ""
            names[row.user_id] = f"{initial}{v['last_name'] or ''}".strip() or row.user_id
            events.append(gateway._event(ctx, None, "view", at, record_type="workforce", record_id=row.user_id,
                                         fields=("first_name", "last_name"), detail="display name for a report"))
        return names

    return gateway._audited(work)


def patient_mrns(gateway: AccessGateway, ctx: AccessContext, patient_ids: list[int]) -> dict[int, str]:
    """internal patient id -> MRN, for the patients found whose key still exists."""

    def work(session: Session, events: list[AuditEvent]) -> dict[int, str]:
        at = gateway.clock.now()
        _service_only(gateway, session, ctx, events, at)
        rows = []
        for i in range(0, len(patient_ids), _CHUNK):
            rows += session.execute(select(Patient.id, Patient.data_key_id, Patient.mrn)
                                    .where(Patient.id.in_(patient_ids[i : i + _CHUNK]))).all()
        gateway.envelope.preload(r.data_key_id for r in rows)
        mrns = {}
        for row in rows:
            try:
                mrns[row.id] = gateway.envelope.open(row.mrn, "patients", "mrn", row.id)
            except DecryptionError:  # crypto-shredded: the MRN is gone for good
                continue
            events.append(gateway._event(ctx, None, "view", at, patient_id=row.id, record_type="demographics",
                                         fields=("mrn",), detail="MRN for a report"))
        return mrns

    return gateway._audited(work)


def patient_names(gateway: AccessGateway, ctx: AccessContext, patient_ids: list[int]) -> dict[int, str]:
    """internal patient id -> 'Doe, Jane' for the patients found whose key still exists."""

    def work(session: Session, events: list[AuditEvent]) -> dict[int, str]:
        at = gateway.clock.now()
        _service_only(gateway, session, ctx, events, at)
        P = Patient
        rows = []
        for i in range(0, len(patient_ids), _CHUNK):
            rows += session.execute(select(P.id, P.data_key_id, P.first_name, P.last_name)
                                    .where(P.id.in_(patient_ids[i : i + _CHUNK]))).all()
        gateway.envelope.preload(r.data_key_id for r in rows)
        names = {}
        for row in rows:
            try:
                v = gateway.envelope.open_fields("patients", row.id, [("first_name", row.first_name),
                                                                       ("last_name", row.last_name)])
            except DecryptionError:  # crypto-shredded: the name is gone for good
                continue
            names[row.id] = ", ".join(p for p in (v["last_name"], v["first_name"]) if p) or "(no name)"
            events.append(gateway._event(ctx, None, "view", at, patient_id=row.id, record_type="demographics",
                                         fields=("first_name", "last_name"), detail="patient name for a report"))
        return names

    return gateway._audited(work)


class ReportDirectory:
    """Display names and MRNs for findings and reports, read as svc:report for operations (HOPERAT)."""

    def __init__(self, gateway: AccessGateway, ctx: AccessContext | None = None) -> None:
        self.gateway = gateway
        self.ctx = ctx or AccessContext.service("report")

    def people(self, user_ids: list[str]) -> dict[str, str]:
        return workforce_names(self.gateway, self.ctx, list(user_ids)) if user_ids else {}

    def mrns(self, patient_ids: list[int]) -> dict[int, str]:
        return patient_mrns(self.gateway, self.ctx, list(patient_ids)) if patient_ids else {}

    def patients(self, patient_ids: list[int]) -> dict[int, str]:
        """internal patient id -> 'Doe, Jane'."""
        return patient_names(self.gateway, self.ctx, list(patient_ids)) if patient_ids else {}
