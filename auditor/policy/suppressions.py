"""Suppressions: approved exceptions that mute findings without hiding them.

A suppression names a rule and a workforce member, a patient, or both, and matches a finding exactly
on those (no pattern, no wildcard). It carries its reason (sealed), its approver and its last day; a
finding whose last event falls after that day (in the organisation's time zone), or a revoked
suppression, mutes nothing. A muted finding stays in the output, marked `muted: true` (interchange
contract), and is not put in a case. Adding and revoking are audited (auditor.vault.gateway.casework).
A suppression that becomes active (added, or approved) also mutes its findings already in cases that
are not closed; revoking it un-mutes them there (auditor.cases.muting), in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from auditor.cases import muting
from auditor.errors import InputError, NotFound
from auditor.policy.findings import Finding
from auditor.vault.gateway.casework import Casework, CaseworkChange
from auditor.vault.records import Case, CaseFinding, MutedFinding, Suppression


class SuppressionRefused(InputError):
    """A suppression that cannot be added or revoked as asked; nothing was changed."""


@dataclass(frozen=True)
class SuppressionRequest:
    rule: str
    reason: str
    expires_on: date
    approver: str
    user_id: str | None = None
    mrn: str | None = None


@dataclass(frozen=True)
class ActiveSuppression:
    """What matching needs: clear columns only."""

    id: int
    rule: str
    user_id: str | None
    patient_id: int | None
    expires_on: date


@dataclass(frozen=True)
class SuppressionEntry:
    """A suppression as listed: the patient by internal id (the CLI shows the MRN through the gateway)."""

    id: int
    rule: str
    user_id: str | None
    patient_id: int | None
    expires_on: date
    approver: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    proposed_by: str | None = None
    approved_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.proposed_by is not None and self.approved_at is None

    def status(self, today: date) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.pending:
            return "proposed"
        return "expired" if self.expires_on < today else "active"


def _text(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise SuppressionRefused(f"a suppression needs {what}")
    return value.strip()


def add_suppression(casework: Casework, request: SuppressionRequest, known_rules: set[str], today: date) -> int:
    """Record a suppression; returns its id. Refused (nothing written) for an unknown rule, no user
    and no patient, an empty reason or approver, an expiry already past, or an MRN naming no patient."""
    if request.rule not in known_rules:
        raise SuppressionRefused(f"unknown rule {request.rule!r}: see policies/rules/")
    user_id = request.user_id.strip() if request.user_id and request.user_id.strip() else None
    mrn = request.mrn.strip() if request.mrn and request.mrn.strip() else None
    if user_id is None and mrn is None:
        raise SuppressionRefused("a suppression names a user (--user), a patient (--mrn), or both")
    reason, approver = _text(request.reason, "a reason"), _text(request.approver, "an approver")
    if request.expires_on < today:
        raise SuppressionRefused(f"--expires {request.expires_on.isoformat()} is already past")

    def work(change: CaseworkChange) -> int:
        patient_id = None
        if mrn is not None:
            found = change.patient_ids([mrn])
            if mrn not in found:
                raise NotFound("no patient with that MRN")
            patient_id = found[mrn]
        row = Suppression(rule=request.rule, user_id=user_id, patient_id=patient_id, expires_on=request.expires_on,
                          approver=approver, data_key_id=change.new_key("suppression"), reason=b"",
                          created_at=change.at)
        change.session.add(row)
        change.session.flush()  # the id binds the sealed reason to its row
        row.reason = change.seal(row.data_key_id, "suppressions", "reason", row.id, reason)
        change.record_rows("suppressions", "create", [row.id])
        change.record("suppression", row.id, f"suppression {row.id} of {request.rule} added, approved by "
                      f"{approver}, expires {request.expires_on.isoformat()}", patient_id=patient_id)
        muting.mute_in_open_cases(change, _matching(row), approver)
        return row.id

    return casework.change("create", work)


def revoke_suppression(casework: Casework, suppression_id: int, reason: str, by: str | None = None) -> dict[int, int]:
    """Withdraw a suppression: from now on it mutes nothing, in the cases not closed too (what it muted
    there is un-muted, unless another active suppression matches it). A revocation is final (refused
    twice). Returns case id -> findings un-muted there."""
    reason = _text(reason, "a reason to be revoked")
    by = by.strip() if by and by.strip() else casework.ctx.user_id

    def work(change: CaseworkChange) -> dict[int, int]:
        row = change.session.get(Suppression, suppression_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no suppression {suppression_id}")
        if row.revoked_at is not None:
            raise SuppressionRefused(f"suppression {suppression_id} is already revoked")
        row.revoked_at, row.revoked_by = change.at, by[:128]
        row.revoke_reason = change.seal(row.data_key_id, "suppressions", "revoke_reason", row.id, reason)
        change.record_rows("suppressions", "update", [row.id])
        change.record("suppression", row.id, f"suppression {row.id} revoked by {by}", patient_id=row.patient_id)
        others = [s for s in _active(change.session) if s.rule == row.rule and s.id != row.id]
        return muting.unmute_in_open_cases(change, row.id, others, by)

    return casework.change("update", work)


def propose_suppression(casework: Casework, case_id: int, finding_id: int, reason: str, expires_on: date,
                        by: str, today: date) -> int:
    """A case's finding judged a false positive: propose a suppression of its rule for its member and
    its patient (exactly those), pending until an officer other than `by` approves it; its id."""
    reason, by = _text(reason, "a reason"), _text(by, "who proposes it")
    if expires_on < today:
        raise SuppressionRefused(f"the last day {expires_on.isoformat()} is already past")

    def work(change: CaseworkChange) -> int:
        found = change.session.execute(select(CaseFinding.rule, CaseFinding.patient_id, Case.user_id)
                                       .join(Case, Case.id == CaseFinding.case_id)
                                       .where(CaseFinding.id == finding_id, CaseFinding.case_id == case_id)).first()
        if found is None:
            raise NotFound(f"no finding {finding_id} in case {case_id}")
        row = Suppression(rule=found.rule, user_id=found.user_id, patient_id=found.patient_id, expires_on=expires_on,
                          approver="", data_key_id=change.new_key("suppression"), reason=b"", created_at=change.at,
                          proposed_by=by[:128])
        change.session.add(row)
        change.session.flush()  # the id binds the sealed reason to its row
        row.reason = change.seal(row.data_key_id, "suppressions", "reason", row.id, reason)
        change.record_rows("suppressions", "create", [row.id])
        change.record("suppression", row.id, f"suppression {row.id} of {found.rule} proposed by {by} from case "
                      f"{case_id}, expires {expires_on.isoformat()}", patient_id=found.patient_id)
        return row.id

    return casework.change("create", work)


def approve_suppression(casework: Casework, suppression_id: int, by: str) -> dict[int, int]:
    """A privacy officer approves a proposed suppression: from now on it mutes, in the cases not closed
    too. Refused for one not pending, and for the proposer (two people: one proposes, another
    approves). Returns case id -> findings muted there."""
    by = _text(by, "who approves it")

    def work(change: CaseworkChange) -> dict[int, int]:
        row = change.session.get(Suppression, suppression_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no suppression {suppression_id}")
        if row.proposed_by is None or row.approved_at is not None or row.revoked_at is not None:
            raise SuppressionRefused(f"suppression {suppression_id} is not awaiting approval")
        if row.proposed_by == by:
            raise SuppressionRefused(f"suppression {suppression_id} was proposed by {by}: another officer approves it")
        row.approver, row.approved_at = by[:128], change.at
        change.record_rows("suppressions", "update", [row.id])
        change.record("suppression", row.id, f"suppression {row.id} approved by {by}", patient_id=row.patient_id)
        return muting.mute_in_open_cases(change, _matching(row), by)

    return casework.change("update", work)


def list_suppressions(records: Engine) -> list[SuppressionEntry]:
    """Every suppression, newest first (clear columns; reasons stay sealed)."""
    S = Suppression
    with records.connect() as conn:
        rows = conn.execute(select(S.id, S.rule, S.user_id, S.patient_id, S.expires_on, S.approver, S.created_at,
                                   S.revoked_at, S.revoked_by, S.proposed_by, S.approved_at)
                            .order_by(S.id.desc())).all()
    return [SuppressionEntry(*row) for row in rows]


def suppression_reasons(casework: Casework, entries: list[SuppressionEntry]) -> dict[int, str | None]:
    """The sealed reasons of `entries`, read through the gateway (audited)."""
    if not entries:
        return {}
    return casework.read("suppressions", "reason", [e.id for e in entries], "suppression", "list",
                         [e.patient_id for e in entries if e.patient_id is not None])


def _active(conn: Session) -> list[ActiveSuppression]:
    S = Suppression
    rows = conn.execute(select(S.id, S.rule, S.user_id, S.patient_id, S.expires_on)
                        .where(S.revoked_at.is_(None), or_(S.proposed_by.is_(None), S.approved_at.is_not(None)))
                        .order_by(S.id)).all()
    return [ActiveSuppression(*row) for row in rows]


def _matching(row: Suppression) -> ActiveSuppression:
    return ActiveSuppression(row.id, row.rule, row.user_id, row.patient_id, row.expires_on)


def active_suppressions(records: Engine) -> list[ActiveSuppression]:
    """The suppressions not revoked and not pending approval (expiry is judged per finding, by its time)."""
    with records.connect() as conn:
        return _active(conn)


def cases_muted_by(records: Engine, suppression_id: int) -> dict[int, int]:
    """case id -> the findings `suppression_id` mutes there (cases not closed when it became active)."""
    M = MutedFinding
    with records.connect() as conn:
        return dict(conn.execute(select(M.case_id, func.count()).where(M.suppression_id == suppression_id)
                                 .group_by(M.case_id).order_by(M.case_id)).all())


def matches(s: ActiveSuppression, f: Finding, tz: ZoneInfo) -> bool:
    """Exact match on rule and on each of user and patient the suppression names, and the finding's
    last event on or before the suppression's last day (local time)."""
    if s.rule != f.rule or (s.user_id is not None and s.user_id != f.user_id):
        return False
    if s.patient_id is not None and s.patient_id != f.patient_id:
        return False
    return muting.covers(s.expires_on, datetime.fromisoformat(f.last_at), tz)


def mute(findings: list[Finding], suppressions: list[ActiveSuppression], tz: ZoneInfo) -> int:
    """Mark the findings a suppression matches `muted` (they stay in the list); returns how many."""
    by_rule: dict[str, list[ActiveSuppression]] = {}
    for s in suppressions:
        by_rule.setdefault(s.rule, []).append(s)
    muted = 0
    for f in findings:  # one per finding, never per event
        if any(matches(s, f, tz) for s in by_rule.get(f.rule, ())):
            f.muted = True
            muted += 1
    return muted
