"""A retention plan recorded for review, and the checks a purge makes before carrying it out.

`auditor retention plan` records the patients eligible on a day under a schedule with a SHA-256
digest of them (with the day and the schedule), and writes that digest into the plan's audit event
in the same transaction. A purge carries out a plan only if its stored patients still give the
digest and the plan's audit event, whose seal is an HMAC under the keyring's log key (which
records.db does not hold), records the same digest: someone who can write to records.db cannot
swap the patients of a reviewed plan unseen. The purge then rebuilds the plan for its day and
schedule, and destroys nothing if the eligible patients differ from the recorded ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable

from sqlalchemy import Connection, Engine, insert, select

from auditor.audit import merkle
from auditor.audit.blocks import stored_events
from auditor.audit.events import CANONICAL_COLUMNS, canonical_bytes
from auditor.audit.schema import AuditEventRow
from auditor.audit.seal import EventSeal
from auditor.errors import NotFound, TamperDetected
from auditor.retention.plan import PlanRefused, RetentionPlan
from auditor.retention.schedules import Schedule
from auditor.vault.gateway.retention import RecordsManagement, RetentionChange
from auditor.vault.records import PurgePlan, PurgePlanPatient

RECORD_TYPE = "retention_plan"  # the audit event that records a plan
_DIGEST_VERSION = "auditor retention plan 1"
_LOGGED = re.compile(r"patients sha256 ([0-9a-f]{64})")
_AT = {name: i for i, name in enumerate(CANONICAL_COLUMNS)}

Patients = frozenset[tuple[int, int]]  # (patient id, the data key a purge destroys)


@dataclass(frozen=True)
class RecordedPlan:
    id: int
    as_of: date
    schedule_id: str
    schedule_digest: str
    digest: str
    patients: Patients
    recorded_at: datetime


def plan_digest(as_of: date, schedule_id: str, schedule_digest: str, patients: Iterable[tuple[int, int]]) -> str:
    """SHA-256 of the day, the schedule (id and file digest) and the patients with their data keys."""
    h = hashlib.sha256(f"{_DIGEST_VERSION}\n{as_of.isoformat()}\n{schedule_id}\n{schedule_digest}\n".encode())
    for patient_id, key_id in sorted(patients):
        h.update(f"{patient_id} {key_id}\n".encode())
    return h.hexdigest()


def eligible_patients(plan: RetentionPlan) -> Patients:
    return frozenset((p.patient_id, p.data_key_id) for p in plan.having("eligible"))


def record_plan(office: RecordsManagement, plan: RetentionPlan) -> RecordedPlan | None:
    """Record the plan's eligible patients and their digest, with the digest in its audit event (one
    transaction). None when nobody is eligible: there is nothing to carry out."""
    patients = eligible_patients(plan)
    if not patients:
        return None
    schedule = plan.schedule
    digest = plan_digest(plan.as_of, schedule.id, schedule.digest, patients)

    def work(change: RetentionChange) -> RecordedPlan:
        row = PurgePlan(as_of=plan.as_of, schedule=schedule.id, schedule_digest=schedule.digest, digest=digest,
                        eligible=len(patients), recorded_at=change.at)
        change.session.add(row)
        change.session.flush()
        change.session.execute(insert(PurgePlanPatient), [{"plan_id": row.id, "patient_id": pid, "data_key_id": key}
                                                          for pid, key in sorted(patients)])
        change.record(RECORD_TYPE, row.id, f"plan {row.id} recorded: patients sha256 {digest}; {len(patients)} "
                      f"eligible on {plan.as_of.isoformat()} under {schedule.id}")
        return RecordedPlan(row.id, plan.as_of, schedule.id, schedule.digest, digest, patients, change.at)

    return office.change("create", work)


def _logged_digests(conn: Connection, seal: EventSeal, user_id: str, plan_id: int) -> set[str]:
    """The digests that sealed audit events of this plan's recording hold (an unsealed row is ignored)."""
    seqs = conn.scalars(select(AuditEventRow.seq).where(AuditEventRow.record_type == RECORD_TYPE,
                                                        AuditEventRow.record_id == str(plan_id))).all()
    found = set()
    for seq in seqs:
        for event in stored_events(conn, seq - 1, seq):
            row = event.row
            if row is None or not seal.matches(merkle.leaf_hash(canonical_bytes(row)), event.seal):
                continue
            if (row[_AT["record_type"]], row[_AT["record_id"]], row[_AT["user_id"]], row[_AT["action"]],
                    row[_AT["outcome"]]) != (RECORD_TYPE, str(plan_id), user_id, "create", "success"):
                continue
            match = _LOGGED.search(row[_AT["detail"]] or "")
            if match:
                found.add(match.group(1))
    return found


def recorded_plan(records: Engine, office: RecordsManagement, plan_id: int) -> RecordedPlan:
    """The plan as recorded, once its patients give its digest and its sealed audit event holds that
    digest; TamperDetected otherwise (nothing is changed)."""
    seal = EventSeal(office.gateway.audit_log.keyring.log_mac_key)
    with records.connect() as conn:
        plan = conn.execute(select(PurgePlan.__table__).where(PurgePlan.id == plan_id)).first()
        if plan is None:
            raise NotFound(f"no retention plan {plan_id}")
        patients = frozenset((pid, key) for pid, key in conn.execute(
            select(PurgePlanPatient.patient_id, PurgePlanPatient.data_key_id).where(PurgePlanPatient.plan_id == plan_id)))
        logged = _logged_digests(conn, seal, office.ctx.user_id, plan_id)
    digest = plan_digest(plan.as_of, plan.schedule, plan.schedule_digest, patients)
    if digest != plan.digest or len(patients) != plan.eligible:
        raise TamperDetected(f"retention plan {plan_id} was altered after it was recorded: its patients do not give "
                             "its digest; nothing destroyed (run: auditor audit verify)")
    if logged != {digest}:
        raise TamperDetected(f"retention plan {plan_id} does not match the digest its audit event recorded"
                             + (" (no sealed event records it)" if not logged else "")
                             + "; nothing destroyed (run: auditor audit verify)")
    return RecordedPlan(plan_id, plan.as_of, plan.schedule, plan.schedule_digest, digest, patients, plan.recorded_at)


def schedule_of(plan: RecordedPlan, schedules: dict[str, Schedule]) -> Schedule:
    """The schedule the plan applied, unchanged since, among `schedules`."""
    schedule = next((s for s in schedules.values() if s.id == plan.schedule_id), None)
    if schedule is None:
        raise PlanRefused(f"plan {plan.id} applied the schedule {plan.schedule_id!r}, which is not among the schedules "
                          f"({', '.join(sorted(s.id for s in schedules.values()))}): give its folder with --schedules")
    if schedule.digest != plan.schedule_digest:
        raise PlanRefused(f"the schedule {plan.schedule_id} changed since plan {plan.id} was recorded: record and "
                          "review a new plan")
    return schedule


def changes_since(plan: RecordedPlan, rebuilt: RetentionPlan) -> str | None:
    """How the eligible patients differ from the recorded ones (None: the same)."""
    now = eligible_patients(rebuilt)
    gone, new = len(plan.patients - now), len(now - plan.patients)
    if not gone and not new:
        return None
    return (f"the eligible patients changed since plan {plan.id} was recorded ({gone} no longer eligible: a legal "
            f"hold, a new record or gone; {new} newly eligible): nothing destroyed; record and review a new plan")
