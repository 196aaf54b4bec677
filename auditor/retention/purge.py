"""The purge: destroying what the retention schedule lets go, by crypto-shredding.

A purge run is one row (the schedule applied, who approved, performed and witnessed it) and one item
per eligible patient, written together before anything is destroyed. Each item then goes:

  pending -> (the patient's data key destroyed: AccessGateway.shred_patient, audited)
          -> destroyed (their ciphertext, blind indexes, documents, encounters and care team deleted,
             and the item marked, in one audited transaction)

so a purge that stops half-way (a crash, a kill) is finished by running it again: a destroyed item is
skipped, a pending one whose key is already gone only has its rows deleted, and a patient is never
purged twice (the item is unique per patient). A hold placed while a purge was interrupted still
stops it: pending items are checked against the holds in force when the run resumes (unless their
key is already destroyed: that cannot be undone, so their rows are deleted and they are certified). At the end the
log gets a signed checkpoint and the certificate of destruction is issued (auditor.retention.certificate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from auditor.errors import InputError
from auditor.retention.plan import RetentionPlan, build_plan
from auditor.retention.schedules import Schedule
from auditor.vault.gateway.retention import RecordsManagement, RetentionChange
from auditor.vault.records import PurgeItem, PurgeRun

Progress = Callable[[str, int], None]  # (stage, patient id): "key_destroyed", "records_deleted"
METHOD = "cryptographic erasure (NIST SP 800-88 purge)"


class PurgeRefused(InputError):
    """A purge that cannot start or resume as asked; nothing was destroyed."""


@dataclass(frozen=True)
class Signatories:
    approver: str
    performer: str
    witness: str | None = None


@dataclass(frozen=True)
class PurgeOutcome:
    purge_id: int | None  # None: nothing was eligible, nothing was destroyed
    resumed: bool
    destroyed: int  # patients destroyed by this purge run, over all its attempts
    withdrawn: int  # pending patients a hold placed meanwhile now covers


def unfinished_purge(records: Engine) -> PurgeRun | None:
    with Session(records) as session:
        run = session.scalars(select(PurgeRun).where(PurgeRun.status == "running").order_by(PurgeRun.id)).first()
        session.expunge_all()
    return run


def _signatories(people: Signatories) -> Signatories:
    approver = people.approver.strip() if people.approver else ""
    if not approver:
        raise PurgeRefused("a purge needs an approver (--approver)")
    performer = (people.performer or "").strip() or approver
    witness = people.witness.strip() if people.witness and people.witness.strip() else None
    return Signatories(approver[:128], performer[:128], witness[:128] if witness else None)


def _start(office: RecordsManagement, plan: RetentionPlan, people: Signatories) -> int:
    """The run and its items, in one audited transaction, before anything is destroyed."""
    eligible = plan.having("eligible")

    def work(change: RetentionChange) -> int:
        run = PurgeRun(as_of=plan.as_of, schedule=plan.schedule.id, schedule_digest=plan.schedule.digest,
                       approver=people.approver, performer=people.performer, witness=people.witness,
                       status="running", started_at=change.at)
        change.session.add(run)
        change.session.flush()
        change.session.add_all([PurgeItem(purge_id=run.id, patient_id=p.patient_id, data_key_id=p.data_key_id,
                                          state="pending", record_types=",".join(p.record_types)[:512],
                                          first_record=p.first_record, last_record=p.last_record,
                                          retain_until=p.retain_until, basis=p.basis[:256]) for p in eligible])
        change.record("retention_purge", run.id, f"purge {run.id} started: {len(eligible)} patient(s) eligible "
                      f"on {plan.as_of.isoformat()} under {plan.schedule.id}; approved by {people.approver}")
        return run.id

    return office.change("create", work)


def _withdraw(office: RecordsManagement, purge_id: int, item_ids: list[int]) -> None:
    def work(change: RetentionChange) -> None:
        for item in change.session.scalars(select(PurgeItem).where(PurgeItem.id.in_(item_ids))):
            item.state = "withdrawn"
            change.record("retention_purge", purge_id, f"purge {purge_id}: patient withdrawn, a legal hold or a "
                          "record kept after the chart now covers them", patient_id=item.patient_id)

    office.change("update", work)


def _pending(records: Engine, purge_id: int) -> list[PurgeItem]:
    with Session(records) as session:
        items = list(session.scalars(select(PurgeItem).where(PurgeItem.purge_id == purge_id,
                                                             PurgeItem.state == "pending").order_by(PurgeItem.id)))
        session.expunge_all()
    return items


def _destroy(office: RecordsManagement, run_id: int, items: list[PurgeItem], progress: Progress | None) -> None:
    gateway = office.gateway
    for item in items:
        if not gateway.envelope.is_destroyed(item.data_key_id):
            gateway.shred_patient(office.ctx, item.patient_id)  # audited; the key store is separate
        if progress:
            progress("key_destroyed", item.patient_id)
        office.delete_shredded_records(item.id, run_id)
        if progress:
            progress("records_deleted", item.patient_id)


def run_purge(records: Engine, office: RecordsManagement, schedule: Schedule, as_of: date, tz: ZoneInfo | None,
              people: Signatories, progress: Progress | None = None) -> PurgeOutcome:
    """Start a purge on `as_of` under `schedule`, or finish the one left unfinished (which must be the
    same day and schedule). The certificate is issued by the caller once this returns."""
    people = _signatories(people)
    run = unfinished_purge(records)
    if run is not None and (run.as_of != as_of or run.schedule != schedule.id):
        raise PurgeRefused(f"purge {run.id} of {run.as_of.isoformat()} under schedule {run.schedule} is unfinished: "
                           f"finish it first with --as-of {run.as_of.isoformat()} and that schedule")
    if run is not None and run.schedule_digest != schedule.digest:
        raise PurgeRefused(f"the schedule {schedule.id} changed since purge {run.id} started: restore it to finish")
    plan = build_plan(records, office, schedule, as_of, tz)
    if run is None:
        if not plan.having("eligible"):
            return PurgeOutcome(None, False, 0, 0)
        run_id, resumed = _start(office, plan, people), False
    else:
        run_id, resumed = run.id, True
    pending = _pending(records, run_id)
    held = {p.patient_id for p in plan.patients if p.holds or p.status == "referenced"}
    # A key already destroyed cannot be brought back: that patient's destruction is finished, not withdrawn.
    envelope = office.gateway.envelope
    withdrawn = [i.id for i in pending if i.patient_id in held and not envelope.is_destroyed(i.data_key_id)]
    if withdrawn:
        _withdraw(office, run_id, withdrawn)
    _destroy(office, run_id, [i for i in pending if i.id not in set(withdrawn)], progress)
    with records.connect() as conn:
        states = [s for (s,) in conn.execute(select(PurgeItem.state).where(PurgeItem.purge_id == run_id))]
    return PurgeOutcome(run_id, resumed, states.count("destroyed"), states.count("withdrawn"))
