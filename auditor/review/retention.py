"""Retention as use cases, as the service account svc:retention for records management: a plan for a
day (recorded with its digest, to be reviewed), the purge that carries out a reviewed plan exactly
and its certificate of destruction, legal holds, and the audit log's own archive (45 CFR 164.530(j)).
A purge is proposed (checked, and described for the person who confirms it), then carried out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from auditor.audit.archive import ArchiveCheck, Archived, archive_log, check_archive
from auditor.errors import TamperDetected
from auditor.home import Vault
from auditor.reporting.templates import Site
from auditor.retention import holds as legal_holds
from auditor.retention.certificate import Certificate, issue_certificate, stored_certificate
from auditor.retention.holds import HoldRequest
from auditor.retention.plan import RetentionPlan, build_plan
from auditor.retention.purge import (Progress, PurgeOutcome, Signatories, finish_unplanned_purge, purge_of, run_purge,
                                     unplanned_run)
from auditor.retention.recorded_plan import RecordedPlan, record_plan, recorded_plan, schedule_of
from auditor.retention.schedules import Schedule, load_schedules, schedule_for
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.directory import ReportDirectory
from auditor.vault.gateway.retention import RecordsManagement
from auditor.vault.integrity import carry_over, verify_vault


@dataclass(frozen=True)
class PlannedPatient:
    """A patient the plan lets go or a hold keeps, with the MRN read for the records manager (audited)."""

    patient_id: int
    mrn: str | None
    status: str  # eligible or held
    retain_until: date | None
    basis: str
    record_types: tuple[str, ...]
    first_record: date
    last_record: date
    holds: tuple[tuple[int, str, str], ...]  # (hold id, authority, what it covers)

    def to_dict(self) -> dict:
        return {"patient_id": self.patient_id, "mrn": self.mrn, "status": self.status,
                "retain_until": self.retain_until.isoformat() if self.retain_until else None, "basis": self.basis,
                "record_types": list(self.record_types), "first_record": self.first_record.isoformat(),
                "last_record": self.last_record.isoformat(),
                "holds": [{"id": h, "authority": a, "scope": s} for h, a, s in self.holds]}


@dataclass(frozen=True)
class PlannedRetention:
    plan: RetentionPlan
    shown: list[PlannedPatient]  # the eligible, then the held
    recorded: RecordedPlan | None  # None: nobody is eligible, nothing to carry out


def _office(vault: Vault) -> RecordsManagement:
    return RecordsManagement(vault.gateway)


def plan_retention(vault: Vault, as_of: date, *, state: str | None = None, schedules_dir: Path | None = None,
                   reader: AccessContext | None = None) -> PlannedRetention:
    """Every patient's status on `as_of` (today at the latest) under the state's schedule; the eligible
    are recorded as a plan with its digest. The MRNs are read as `reader` (a signed-in records manager)
    or, without one, as svc:retention."""
    _refuse_unless_verified(vault)
    office = _office(vault)
    plan = build_plan(vault.records, office, schedule_for(load_schedules(schedules_dir), state), as_of, vault.timezone)
    listed = plan.having("eligible") + plan.having("held")
    mrns = ReportDirectory(vault.gateway, reader or office.ctx).mrns([p.patient_id for p in listed])
    shown = [PlannedPatient(p.patient_id, mrns.get(p.patient_id), p.status, p.retain_until, p.basis, p.record_types,
                            p.first_record, p.last_record,  # type: ignore[arg-type]
                            tuple((h, plan.holds[h].authority, plan.holds[h].scope()) for h in p.holds))
             for p in listed]
    return PlannedRetention(plan, shown, record_plan(office, plan))


def _refuse_unless_verified(vault: Vault) -> None:
    """A plan decides who is destroyed on the word of the legal holds, the patients and the log: made
    only from a vault that verifies (a hold lifted behind the gateway would otherwise let its patients
    into the plan unseen)."""
    checked = verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])
    if not checked.ok:
        first = checked.problems[0]
        raise TamperDetected(f"the vault does not verify ({len(checked.problems)} problem(s), first: {first.message}); "
                             "no plan made (run: auditor audit verify)")


@dataclass(frozen=True)
class PurgeProposal:
    """A checked purge, described for whoever confirms it. `plan` None: the purge begun by `--as-of`
    before purges carried out plans, to be finished on `as_of`."""

    description: str
    schedule: Schedule
    plan: RecordedPlan | None = None
    as_of: date | None = None


def propose_purge(vault: Vault, *, plan_id: int | None = None, as_of: date | None = None, state: str | None = None,
                  schedules_dir: Path | None = None) -> PurgeProposal:
    """Check plan `plan_id` (its digest against its audit event, its schedule unchanged, not carried out)
    or the unfinished purge begun on `as_of`; refused (PurgeRefused, TamperDetected) with nothing done."""
    office = _office(vault)
    if plan_id is not None:
        plan = recorded_plan(vault.records, office, plan_id)
        schedule = schedule_of(plan, load_schedules(schedules_dir))
        run = purge_of(vault.records, plan)
        return PurgeProposal(f"plan {plan.id}: " + (f"finish purge {run.id}, which destroys" if run else "destroy")
                             + f" the records of {len(plan.patients)} patient(s) eligible on {plan.as_of} under "
                             f"{schedule.id} (patients sha256 {plan.digest})", schedule, plan)
    if as_of is None:
        raise ValueError("a purge carries out a plan (plan_id) or finishes one begun on a day (as_of)")
    schedule = schedule_for(load_schedules(schedules_dir), state)
    run = unplanned_run(vault.records, schedule, as_of)
    return PurgeProposal(f"purge {run.id}, begun before purges carried out plans: finish destroying the patients "
                         f"eligible on {as_of} under {schedule.id}", schedule, None, as_of)


@dataclass(frozen=True)
class PurgeDone:
    outcome: PurgeOutcome
    certificate: Certificate


def carry_out_purge(vault: Vault, proposal: PurgeProposal, people: Signatories, site: Site, *, pdf: bool = True,
                    progress: Progress | None = None) -> PurgeDone:
    """Destroy exactly the proposal's patients by crypto-shredding (or nothing, if the eligible patients
    changed since it was planned) and issue the certificate of destruction under the vault home's
    certificates/ folder."""
    office, tz = _office(vault), vault.timezone
    if proposal.plan is not None:
        outcome = run_purge(vault.records, office, proposal.schedule, proposal.plan, tz, people, progress)
    else:
        outcome = finish_unplanned_purge(vault.records, office, proposal.schedule, proposal.as_of,  # type: ignore[arg-type]
                                         tz, people, progress)
    cert = issue_certificate(vault.records, office, vault.audit_log, proposal.schedule, outcome.purge_id, site,
                             vault.home / "certificates", pdf=pdf)
    return PurgeDone(outcome, cert)


def certificate(vault: Vault, purge_id: int) -> tuple[str, str]:
    """The certificate of destruction as kept in the database: (HTML, its SHA-256)."""
    return stored_certificate(vault.records, purge_id)


@dataclass(frozen=True)
class HoldView:
    """A legal hold as listed, its reasons opened through the gateway (audited)."""

    id: int
    in_force: bool
    scope: str
    authority: str
    reason: str | None
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None

    def to_dict(self) -> dict:
        return {"id": self.id, "status": "in force" if self.in_force else "released", "scope": self.scope,
                "authority": self.authority, "reason": self.reason, "placed_by": self.placed_by,
                "placed_at": self.placed_at.isoformat(), "released_by": self.released_by,
                "released_at": self.released_at.isoformat() if self.released_at else None,
                "release_reason": self.release_reason}


def place_hold(vault: Vault, request: HoldRequest) -> int:
    """Place a legal hold on a patient, a record type, a date range, or their intersection; its id."""
    return legal_holds.place_hold(_office(vault), request)


def release_hold(vault: Vault, hold_id: int, reason: str, by: str) -> None:
    legal_holds.release_hold(_office(vault), hold_id, reason, by)


def list_holds(vault: Vault) -> list[HoldView]:
    """Every legal hold, oldest first, in force or released."""
    entries = legal_holds.list_holds(vault.records)
    texts = _office(vault).hold_texts(e.id for e in entries) if entries else {}
    return [HoldView(e.id, e.in_force, e.scope(), e.authority, texts.get(e.id, (None, None))[0], e.placed_by,
                     e.placed_at, e.released_by, e.released_at, texts.get(e.id, (None, None))[1]) for e in entries]


def archive_audit_log(vault: Vault, before: date, out: Path) -> Archived | None:
    """Export the log's events older than `before` (a UTC day, six years ago at least) to `out` with a
    signed checkpoint, verify it, then remove them from the database; None when there are none."""
    today = vault.clock.now().date()  # the log's days are UTC days, whatever the organisation's zone
    return archive_log(vault.records, vault.keyring, vault.audit_log, [vault.checkpoints.path], before, today, out,
                       verify=verify_vault, carry_over=lambda entries, last: carry_over(vault.gateway, entries, last))


def check_log_archive(vault: Vault, path: Path) -> ArchiveCheck:
    """An archive file checked on its own with the vault's keyring."""
    return check_archive(path, vault.keyring)
