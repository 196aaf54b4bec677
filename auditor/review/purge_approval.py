"""A purge by two people (the web app's retention page): one records manager proposes the purge of a
recorded plan, checked as `propose_purge` checks it and kept (retention_purge_proposals, in the ledger
of trusted rows); another account approves it, and it is carried out at once with its certificate of
destruction, which names both. The proposer cannot approve their own proposal: destruction is an
irreversible disposal that the records' custodian authorizes apart from who asks for it
(45 CFR 164.310(d)(2)(i), 164.530(j); the separation of duties of NIST SP 800-53 AC-5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update

from auditor.errors import InputError, NotFound
from auditor.home import Vault
from auditor.reporting.templates import Site
from auditor.retention.purge import PurgeRefused, Signatories
from auditor.review.retention import PurgeDone, carry_out_purge, propose_purge
from auditor.vault.gateway.retention import RecordsManagement, RetentionChange
from auditor.vault.records import PurgePlan, PurgeProposal

TABLE = "retention_purge_proposals"


@dataclass(frozen=True)
class ProposalView:
    id: int
    plan_id: int
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    purge_id: int | None
    as_of: date  # the plan's day, schedule and eligible patients: what the approver agrees to destroy
    schedule: str
    eligible: int

    @property
    def pending(self) -> bool:
        return self.approved_by is None


def proposals(vault: Vault) -> list[ProposalView]:
    """Every proposal, newest first."""
    P, plan = PurgeProposal, PurgePlan
    with vault.records.connect() as conn:
        rows = conn.execute(select(P.id, P.plan_id, P.proposed_by, P.proposed_at, P.approved_by, P.approved_at,
                                   P.purge_id, plan.as_of, plan.schedule, plan.eligible)
                            .join(plan, plan.id == P.plan_id).order_by(P.id.desc())).all()
    return [ProposalView(*r) for r in rows]


def propose(vault: Vault, plan_id: int, by: str) -> tuple[ProposalView, str]:
    """Propose the purge of plan `plan_id` (checked first: PurgeRefused, TamperDetected, NotFound with
    nothing kept); the proposal and the description of what it destroys. One pending proposal a plan."""
    description = propose_purge(vault, plan_id=plan_id).description

    def work(change: RetentionChange) -> int:
        waiting = change.session.scalars(select(PurgeProposal.id).where(PurgeProposal.plan_id == plan_id,
                                                                       PurgeProposal.approved_by.is_(None))).first()
        if waiting is not None:
            raise PurgeRefused(f"the purge of plan {plan_id} is already proposed (proposal {waiting}): another "
                               "records manager approves it")
        row = PurgeProposal(plan_id=plan_id, proposed_by=by, proposed_at=change.at)
        change.session.add(row)
        change.session.flush()  # its id
        change.record_rows(TABLE, "create", [row.id])
        change.record("retention_purge_proposal", row.id, f"purge of plan {plan_id} proposed by {by}")
        return row.id

    proposal_id = RecordsManagement(vault.gateway).change("create", work)
    return next(p for p in proposals(vault) if p.id == proposal_id), description


def _claim(office: RecordsManagement, proposal_id: int, by: str | None, detail: str) -> None:
    """Mark the proposal approved by `by` (None: pending again) in one audited unit; refused when
    another account approved it meanwhile (two approvals at once carry out one purge)."""
    P = PurgeProposal

    def work(change: RetentionChange) -> None:
        mine = P.approved_by.is_(None) if by is not None else P.approved_by.is_not(None)
        done = change.session.execute(update(P).where(P.id == proposal_id, P.purge_id.is_(None), mine)
                                      .values(approved_by=by, approved_at=change.at if by else None))
        if done.rowcount != 1:
            raise PurgeRefused(f"proposal {proposal_id} was approved meanwhile by another records manager")
        change.record_rows(TABLE, "update", [proposal_id])
        change.record("retention_purge_proposal", proposal_id, detail)

    office.change("update", work)


def approve(vault: Vault, proposal_id: int, by: str, names: dict[str, str], site: Site, *,
            pdf: bool = True) -> PurgeDone:
    """Approve proposal `proposal_id` as `by` and carry the purge out; refused (nothing destroyed) when
    `by` proposed it, when it was approved already, or when the plan no longer holds (then the proposal
    is pending again). `names`: user name -> how the certificate names that person."""
    office = RecordsManagement(vault.gateway)
    with vault.records.connect() as conn:
        row = conn.execute(select(PurgeProposal.__table__).where(PurgeProposal.id == proposal_id)).first()
    if row is None:
        raise NotFound(f"no purge proposal {proposal_id}")
    if row.approved_by is not None:
        raise PurgeRefused(f"proposal {proposal_id} was approved already, by {row.approved_by}")
    if row.proposed_by == by:
        raise PurgeRefused(f"proposal {proposal_id} is yours: another records manager approves it (two people purge)")
    _claim(office, proposal_id, by, f"purge of plan {row.plan_id} approved by {by}")
    try:
        checked = propose_purge(vault, plan_id=row.plan_id)
        people = Signatories(approver=names.get(by, by), performer=names.get(by, by),
                             proposer=names.get(row.proposed_by, row.proposed_by))
        done = carry_out_purge(vault, checked, people, site, pdf=pdf)
    except InputError:  # refused, nothing (more) destroyed: the proposal waits again
        _claim(office, proposal_id, None, f"approval of proposal {proposal_id} by {by} withdrawn: the purge was refused")
        raise

    def work(change: RetentionChange) -> None:
        change.session.get(PurgeProposal, proposal_id, with_for_update=True).purge_id = done.outcome.purge_id
        change.record_rows(TABLE, "update", [proposal_id])
        change.record("retention_purge_proposal", proposal_id, f"purge of plan {row.plan_id} carried out: "
                      f"purge {done.outcome.purge_id}")

    office.change("update", work)
    return done
