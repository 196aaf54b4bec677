"""The purge: destroying what the retention schedule lets go, by crypto-shredding.

A purge carries out a recorded plan (auditor.retention.recorded_plan), checked against its digest and
its audit event, and only if the plan rebuilt for its day and schedule finds exactly the recorded
patients eligible: those, or nothing. A purge run is one row (the plan, the schedule applied, who
approved, performed and witnessed it) and one item per patient, written together before anything is
destroyed. Each item then goes:

  pending -> (the patient's data key destroyed: AccessGateway.shred_patient, audited)
          -> destroyed (their ciphertext, blind indexes, documents, encounters and care team deleted,
             and the item marked, in one audited transaction)

so a purge that stops half-way (a crash, a kill) is finished by running it again: a destroyed item is
skipped, a pending one whose key is already gone only has its rows deleted, and a patient is never
purged twice (the item is unique per patient). A patient who is no longer eligible when the run
resumes (a hold placed meanwhile, a newer record) is withdrawn, unless their key is already
destroyed: that cannot be undone, so their rows are deleted and they are certified. At the end the
log gets a signed checkpoint and the certificate of destruction is issued (auditor.retention.certificate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from auditor.errors import InputError, TamperDetected
from auditor.retention.plan import RetentionPlan, build_plan
from auditor.retention.recorded_plan import RecordedPlan, changes_since
from auditor.retention.schedules import Schedule
from auditor.vault.gateway.retention import RecordsManagement, RetentionChange
from auditor.vault.records import PurgeItem, PurgeRun
from auditor.vault.settings import today_in

Progress = Callable[[str, int], None]  # (stage, patient id): "key_destroyed", "records_deleted"
METHOD = "cryptographic erasure (NIST SP 800-88 purge)"


class PurgeRefused(InputError):
    """A purge that cannot start or resume as asked; nothing was destroyed."""


@dataclass(frozen=True)
class Signatories:
    approver: str
    performer: str
    witness: str | None = None
    proposer: str | None = None  # when two people purge: who proposed it (the approver is another)


@dataclass(frozen=True)
class PurgeOutcome:
    purge_id: int
    resumed: bool
    destroyed: int  # patients destroyed by this purge run, over all its attempts
    withdrawn: int  # pending patients no longer eligible when it resumed


def unfinished_purge(records: Engine) -> PurgeRun | None:
    with Session(records) as session:
        run = session.scalars(select(PurgeRun).where(PurgeRun.status == "running").order_by(PurgeRun.id)).first()
        session.expunge_all()
    return run


def finish_command(run: PurgeRun) -> str:
    """The command that finishes an unfinished purge run."""
    if run.plan_id is not None:
        return f"auditor retention purge --plan {run.plan_id}"
    return f"auditor retention purge --as-of {run.as_of.isoformat()} (schedule {run.schedule})"


def signatories(people: Signatories) -> Signatories:
    """The names cleaned up; refused without an approver."""
    approver = people.approver.strip() if people.approver else ""
    if not approver:
        raise PurgeRefused("a purge needs an approver (the signed-in records manager)")
    performer = (people.performer or "").strip() or approver
    witness = people.witness.strip() if people.witness and people.witness.strip() else None
    proposer = people.proposer.strip()[:128] if people.proposer and people.proposer.strip() else None
    return Signatories(approver[:128], performer[:128], witness[:128] if witness else None, proposer)


def _start(office: RecordsManagement, plan: RetentionPlan, people: Signatories, recorded: RecordedPlan) -> int:
    """The run and its items, in one audited transaction, before anything is destroyed."""
    eligible = plan.having("eligible")

    def work(change: RetentionChange) -> int:
        run = PurgeRun(as_of=plan.as_of, schedule=plan.schedule.id, schedule_digest=plan.schedule.digest,
                       plan_id=recorded.id, approver=people.approver, performer=people.performer,
                       witness=people.witness, proposer=people.proposer, status="running", started_at=change.at)
        change.session.add(run)
        change.session.flush()
        change.session.add_all([PurgeItem(purge_id=run.id, patient_id=p.patient_id, data_key_id=p.data_key_id,
                                          state="pending", record_types=",".join(p.record_types)[:512],
                                          first_record=p.first_record, last_record=p.last_record,
                                          retain_until=p.retain_until, basis=p.basis[:256]) for p in eligible])
        change.record("retention_purge", run.id, f"purge {run.id} started: plan {recorded.id} (patients sha256 "
                      f"{recorded.digest[:16]}), {len(eligible)} patient(s) eligible on {plan.as_of.isoformat()} "
                      f"under {plan.schedule.id}; "
                      + (f"proposed by {people.proposer}, " if people.proposer else "") + f"approved by {people.approver}")
        return run.id

    return office.change("create", work)


def _withdraw(office: RecordsManagement, purge_id: int, item_ids: list[int]) -> None:
    def work(change: RetentionChange) -> None:
        for item in change.session.scalars(select(PurgeItem).where(PurgeItem.id.in_(item_ids))):
            item.state = "withdrawn"
            change.record("retention_purge", purge_id, f"purge {purge_id}: patient withdrawn, no longer eligible (a "
                          "legal hold, a newer record, or a record kept after the chart)", patient_id=item.patient_id)

    office.change("update", work)


def _items(records: Engine, purge_id: int, state: str | None = None) -> list[PurgeItem]:
    with Session(records) as session:
        query = select(PurgeItem).where(PurgeItem.purge_id == purge_id)
        if state is not None:
            query = query.where(PurgeItem.state == state)
        items = list(session.scalars(query.order_by(PurgeItem.id)))
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


def _carry_out(records: Engine, office: RecordsManagement, run_id: int, resumed: bool, plan: RetentionPlan,
               progress: Progress | None) -> PurgeOutcome:
    """Destroy the run's pending patients that `plan` (rebuilt now) still finds eligible; withdraw the others."""
    pending = _items(records, run_id, "pending")
    eligible = {p.patient_id for p in plan.having("eligible")}
    # A key already destroyed cannot be brought back: that patient's destruction is finished, not withdrawn.
    envelope = office.gateway.envelope
    withdrawn = {i.id for i in pending if i.patient_id not in eligible and not envelope.is_destroyed(i.data_key_id)}
    if withdrawn:
        _withdraw(office, run_id, sorted(withdrawn))
    _destroy(office, run_id, [i for i in pending if i.id not in withdrawn], progress)
    states = [i.state for i in _items(records, run_id)]
    return PurgeOutcome(run_id, resumed, states.count("destroyed"), states.count("withdrawn"))


def _rebuilt(records: Engine, office: RecordsManagement, schedule: Schedule, as_of: date,
             tz: ZoneInfo | None) -> RetentionPlan:
    """The plan on `as_of` as it stands now (a run begun for a day to come, before r0010, resumes as of today)."""
    return build_plan(records, office, schedule, min(as_of, today_in(office.gateway.clock, tz)), tz)


def purge_of(records: Engine, plan: RecordedPlan) -> PurgeRun | None:
    """The unfinished purge of `plan` to finish, or None to start one; refused while another purge is
    unfinished, or once the plan was carried out."""
    run = unfinished_purge(records)
    if run is not None and run.plan_id != plan.id:
        raise PurgeRefused(f"purge {run.id} is unfinished: finish it first with: {finish_command(run)}")
    if run is None:
        with records.connect() as conn:
            done = conn.scalar(select(PurgeRun.id).where(PurgeRun.plan_id == plan.id))
        if done is not None:
            raise PurgeRefused(f"plan {plan.id} was carried out by purge {done}: record and review a new plan")
    return run


def run_purge(records: Engine, office: RecordsManagement, schedule: Schedule, plan: RecordedPlan,
              tz: ZoneInfo | None, people: Signatories, progress: Progress | None = None) -> PurgeOutcome:
    """Carry out `plan` (checked by recorded_plan.recorded_plan) under `schedule` (recorded_plan.schedule_of),
    or finish the purge of it left unfinished. The certificate is issued by the caller once this returns."""
    people = signatories(people)
    if (schedule.id, schedule.digest) != (plan.schedule_id, plan.schedule_digest):
        raise PurgeRefused(f"plan {plan.id} applied the schedule {plan.schedule_id} as it was then, not this one")
    run = purge_of(records, plan)
    if run is None:
        rebuilt = build_plan(records, office, schedule, plan.as_of, tz)
        change = changes_since(plan, rebuilt)
        if change:
            raise PurgeRefused(change)
        return _carry_out(records, office, _start(office, rebuilt, people, plan), False, rebuilt, progress)
    if {(i.patient_id, i.data_key_id) for i in _items(records, run.id)} != plan.patients:
        raise TamperDetected(f"purge {run.id} lists patients its plan {plan.id} does not: nothing more destroyed "
                             "(run: auditor audit verify)")
    return _carry_out(records, office, run.id, True, _rebuilt(records, office, schedule, plan.as_of, tz), progress)


def unplanned_run(records: Engine, schedule: Schedule, as_of: date) -> PurgeRun:
    """The purge started by `purge --as-of` before purges carried out plans (r0010), unfinished, on that
    day under that schedule: the only purge `--as-of` may still finish."""
    run = unfinished_purge(records)
    if run is None or run.plan_id is not None:
        raise PurgeRefused("a purge carries out a reviewed plan: run auditor retention plan --as-of DAY (today or a day "
                           "before), review it, then auditor retention purge --plan ID")
    if run.as_of != as_of or run.schedule != schedule.id:
        raise PurgeRefused(f"purge {run.id} is unfinished: finish it first with: {finish_command(run)}")
    if run.schedule_digest != schedule.digest:
        raise PurgeRefused(f"the schedule {schedule.id} changed since purge {run.id} started: restore it to finish")
    return run


def finish_unplanned_purge(records: Engine, office: RecordsManagement, schedule: Schedule, as_of: date,
                           tz: ZoneInfo | None, people: Signatories, progress: Progress | None = None) -> PurgeOutcome:
    """Finish the purge `unplanned_run` finds; a patient no longer eligible today is withdrawn."""
    signatories(people)
    run = unplanned_run(records, schedule, as_of)
    return _carry_out(records, office, run.id, True, _rebuilt(records, office, schedule, as_of, tz), progress)
