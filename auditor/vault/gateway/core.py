"""The access gateway: the only code that reads or writes PHI columns.

Every call takes an AccessContext; every patient it touches yields one audit event, written by
`AuditLog.append` in the same transaction as the access. If the audit write fails the transaction
rolls back and the call raises AuditWriteFailed: the access did not happen and nothing is returned.
Denied attempts are audited with outcome "denied" and then raise AccessDenied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.audit.log import AuditLog, PreparedBlocks
from auditor.clock import Clock, SystemClock
from auditor.crypto.blind_index import BlindIndexer
from auditor.crypto.envelope import Envelope
from auditor.errors import AccessDenied, AuditorError, AuditWriteFailed, InputError, NotFound, StorageError
from auditor.vault.access_policy import AccessPolicy, Decision
from auditor.vault.gateway.context import SERVICE_ROLE, AccessContext, Actor, Operator, resolve_actor
from auditor.vault.gateway.relationships import relationships
from auditor.vault.gateway import sealing
from auditor.vault.gateway.access_reasons import AccessReasonReading
from auditor.vault.gateway.care_activity import CareActivityWriting
from auditor.vault.gateway.ehr_log import EhrLogWriting
from auditor.vault.gateway.quarantine import QuarantineWriting
from auditor.vault.gateway.recording import RowRecording
from auditor.vault.gateway.service_work import ServiceWork
from auditor.vault.gateway.writes import RecordWriting
from auditor.vault.gateway.sealing import Chart, PatientDemographics
from auditor.vault.records import PATIENT_SEALED, ROLES, ClinicalDocument, Patient

log = logging.getLogger(__name__)
T = TypeVar("T")
_PATIENT_READ = sealing.PATIENT_READ
WORKSTATION_SIZE = 128  # audit_events.workstation


@dataclass(frozen=True)
class PatientSummary:
    patient_id: int
    mrn: str
    first_name: str | None
    last_name: str | None
    birth_date: str | None


class AccessGateway(RecordWriting, CareActivityWriting, EhrLogWriting, QuarantineWriting, RowRecording, ServiceWork,
                    AccessReasonReading):
    def __init__(self, records: Engine, envelope: Envelope, indexer: BlindIndexer, audit_log: AuditLog,
                 policy: AccessPolicy, clock: Clock | None = None, operator: Operator | None = None) -> None:
        """`operator`: the OS account running the process (the CLI gives it), stamped on every event."""
        self.records = records
        self.envelope = envelope
        self.indexer = indexer
        self.audit_log = audit_log
        self.policy = policy
        self.clock = clock or SystemClock()
        self.operator = operator

    # -- the audited transaction ------------------------------------------------------------------
    def _audited(self, work: Callable[[Session, list[AuditEvent]], T], prepared: PreparedBlocks | None = None) -> T:
        """Run `work` and append the events it queued, in one transaction (`prepared`: a block of them
        packed beforehand, see AuditLog.prepare). A refusal raised by `work` (AccessDenied, NotFound)
        is raised only after its denial events are committed."""
        events: list[AuditEvent] = []
        refusal: AuditorError | None = None
        result = None
        session = Session(self.records, expire_on_commit=False)
        try:
            session.begin()
            try:
                result = work(session, events)
            except (AccessDenied, NotFound) as exc:
                refusal = exc
            except SQLAlchemyError as exc:
                raise StorageError(f"the database refused the operation ({type(exc).__name__}); nothing changed") from None
            try:
                appended = self.audit_log.append(session.connection(), events, prepared)
            except AuditorError:
                raise
            except Exception as exc:
                raise AuditWriteFailed(
                    f"the audit log could not be written ({type(exc).__name__}); the access did not happen"
                ) from exc
            try:
                session.commit()
            except SQLAlchemyError as exc:
                raise AuditWriteFailed(
                    f"the access and its audit event could not be committed ({type(exc).__name__}); "
                    "the access did not happen"
                ) from None
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        try:
            self.audit_log.after_commit(appended, len(events))
        except OSError as exc:  # the access and its events are committed; the next checkpoint covers them
            log.warning("could not write a checkpoint: %s", exc)
        self.envelope.flush_usage()
        if refusal is not None:
            raise refusal
        return result  # type: ignore[return-value]

    def _event(self, ctx: AccessContext, actor: Actor | None, action: str, at: datetime, **kw) -> AuditEvent:
        """The one place a vault event is made. Its role is the account's; "service" only for a context
        made by AccessContext.service: the engine leaves out the vault's events of that role. Its
        workstation starts with the operator's OS account when there is one ("os:alice@host; WS-7")."""
        if actor is not None:
            role = actor.role
        elif ctx.service_account is not None:
            role = SERVICE_ROLE
        else:
            role = ctx.role if ctx.role in ROLES else None  # an unknown account's claim: a workforce role or none
        workstation = ctx.workstation
        if self.operator is not None:  # what the OS says ran the command goes beside the account it names
            typed = f"; {ctx.workstation}" if ctx.workstation else ""
            workstation = (self.operator.stamp + typed)[:WORKSTATION_SIZE]
        return AuditEvent(at=at, action=action, user_id=ctx.user_id, role=role, purpose=ctx.purpose,
                          break_glass=ctx.break_glass, reason=ctx.reason, workstation=workstation, **kw)

    def _actor(self, session: Session, ctx: AccessContext, events: list[AuditEvent], action: str, at: datetime,
               patient_id: int | None = None) -> Actor:
        """Resolve the account, refusing (and auditing) unknown and inactive ones, a role claimed but not
        held, and unknown purposes."""
        actor = resolve_actor(session, ctx)
        if actor is None:
            problem = f"no such account {ctx.user_id}"
        elif not self.policy.known_purpose(ctx.purpose):
            problem = f"unknown purpose of use {ctx.purpose!r}"
        else:
            employment = actor.employment_problem(at.date()) if actor.service is None else None
            problem = actor.claim_problem(ctx.role) or employment
        if problem:
            events.append(self._event(ctx, actor, action, at, patient_id=patient_id, outcome="denied", detail=problem))
            raise AccessDenied(problem)
        return actor  # type: ignore[return-value]

    def _decide(self, session: Session, ctx: AccessContext, actor: Actor, action: str, patients: list,
                sensitivity: str, at: datetime) -> dict[int, Decision]:
        if actor.service is not None:
            decision = self.policy.decide_service(actor.service, action, ctx.purpose)
            return {p.id: decision for p in patients}
        if actor.staff:
            decision = self.policy.decide_staff(actor.role, action, ctx.purpose, sensitivity)
            return {p.id: decision for p in patients}
        held = relationships(session, actor, [p.id for p in patients], at, self.policy.windows)
        return {
            p.id: self.policy.decide(actor.role, ctx.purpose, sensitivity, held.get(p.id, set()),
                                     restricted=p.restricted, break_glass=ctx.break_glass, reason=ctx.reason)
            for p in patients
        }

    # -- reads --------------------------------------------------------------------------------------
    def read_chart(self, ctx: AccessContext, mrn: str, *, documents: bool = True) -> Chart:
        """A patient's chart: demographics and the documents the reader may see."""

        def work(session: Session, events: list[AuditEvent]) -> Chart:
            at = self.clock.now()
            actor = self._actor(session, ctx, events, "view", at)
            row = session.execute(select(*_PATIENT_READ).where(Patient.mrn_bidx == self.indexer.mrn(mrn))).first()
            if row is None or self.envelope.open(row.mrn, "patients", "mrn", row.id) != mrn.strip():
                events.append(self._event(ctx, actor, "view", at, outcome="denied", detail="no patient with that MRN"))
                raise NotFound("no patient with that MRN")
            decision = self._decide(session, ctx, actor, "view", [row], "demographics", at)[row.id]
            if not decision.allowed:
                events.append(self._event(ctx, actor, "view", at, patient_id=row.id, record_type="chart",
                                          outcome="denied", detail=decision.basis))
                raise AccessDenied(f"access denied: {decision.basis}")
            chart = Chart(row.id, sealing.open_patient(self.envelope, row), basis=decision.basis)
            fields = ["demographics"]
            if documents:
                for doc in session.execute(select(ClinicalDocument).where(ClinicalDocument.patient_id == row.id)
                                           .order_by(ClinicalDocument.recorded_at)).scalars():
                    if self._decide(session, ctx, actor, "view", [row], doc.sensitivity, at)[row.id].allowed:
                        chart.documents.append(sealing.open_document(self.envelope, doc))
                    else:
                        chart.withheld += 1
                fields += sorted({d.doc_type for d in chart.documents})
            detail = decision.basis + (f"; {chart.withheld} document(s) withheld" if chart.withheld else "")
            events.append(self._event(ctx, actor, "view", at, patient_id=row.id, record_type="chart",
                                      fields=tuple(fields), detail=detail))
            return chart

        return self._audited(work)

    def read_patients(self, ctx: AccessContext, patient_ids: list[int]) -> dict[int, PatientDemographics]:
        """Demographics of many patients (reports, bulk reads): one audit event per patient returned or denied."""

        def work(session: Session, events: list[AuditEvent]) -> dict[int, PatientDemographics]:
            at = self.clock.now()
            actor = self._actor(session, ctx, events, "view", at)
            rows = []
            for i in range(0, len(patient_ids), 900):
                rows += session.execute(select(*_PATIENT_READ).where(Patient.id.in_(patient_ids[i : i + 900]))).all()
            decisions = self._decide(session, ctx, actor, "view", rows, "demographics", at)
            self.envelope.preload(r.data_key_id for r in rows if decisions[r.id].allowed)
            out = {}
            for row in rows:
                d = decisions[row.id]
                if d.allowed:
                    out[row.id] = sealing.open_patient(self.envelope, row)
                events.append(self._event(ctx, actor, "view", at, patient_id=row.id, record_type="demographics",
                                          fields=PATIENT_SEALED if d.allowed else (),
                                          outcome="success" if d.allowed else "denied", detail=d.basis))
            return out

        return self._audited(work)

    def search_patients(self, ctx: AccessContext, *, mrn: str | None = None, first_name: str | None = None,
                        last_name: str | None = None, birth_date: str | None = None,
                        phone: str | None = None) -> list[PatientSummary]:
        """Find patients by blind index; one "search" event per patient returned (and per one refused)."""
        criteria = []
        if mrn:
            criteria.append(Patient.mrn_bidx == self.indexer.mrn(mrn))
        if first_name and last_name and birth_date:
            criteria.append(Patient.name_dob_bidx == self.indexer.name_dob(first_name, last_name, birth_date))
        elif last_name:
            criteria.append(Patient.last_name_bidx == self.indexer.last_name(last_name))
        if phone:
            criteria.append(Patient.phone_bidx == self.indexer.phone(phone))
        if not criteria:
            raise InputError("a search needs an MRN, a last name (with first name and birth date), or a phone")

        def work(session: Session, events: list[AuditEvent]) -> list[PatientSummary]:
            at = self.clock.now()
            actor = self._actor(session, ctx, events, "search", at)
            rows = session.execute(select(*_PATIENT_READ).where(*criteria).limit(200)).all()
            decisions = self._decide(session, ctx, actor, "search", rows, "demographics", at)
            found = []
            for row in rows:
                d = decisions[row.id]
                if d.allowed:
                    p = sealing.open_patient(self.envelope, row)
                    found.append(PatientSummary(row.id, p.mrn, p.first_name, p.last_name, p.birth_date))  # type: ignore[arg-type]
                events.append(self._event(ctx, actor, "search", at, patient_id=row.id, record_type="demographics",
                                          fields=("mrn", "first_name", "last_name", "birth_date") if d.allowed else (),
                                          outcome="success" if d.allowed else "denied", detail=d.basis))
            return found

        return self._audited(work)
