"""Suppressions in the cases they concern.

`auditor findings` mutes what an active suppression matches before it fills the cases, so a muted
finding goes into no case. A suppression that becomes active later (added by a privacy officer, or
approved in the web app) finds its findings already in cases: each one in a case that is not closed
is marked muted there, with the suppression that muted it (a row of muted_findings), and the ranking
leaves it out. A revoked suppression mutes nothing from then on, in the cases too: what it muted in a
case not closed is un-muted, unless another active suppression matches it (then that one mutes it),
as a rerun of `auditor findings` would judge those findings. A closed case is final: never changed.

Each case changed gets one history row (which suppression, how many findings, who) and one audit
event; the marks are in the ledger of trusted rows (auditor.vault.ledger), so `auditor audit verify`
names a mark added, edited or removed behind the gateway.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Iterable, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.cases.attach import take_turns
from auditor.cases.workflow import CLOSED, record_history
from auditor.vault.gateway.casework import CaseworkChange
from auditor.vault.records import Case, CaseFinding, MutedFinding, VaultSetting
from auditor.vault.settings import ORGANISATION_TIMEZONE, UTC, time_zone

_TABLE = "muted_findings"


class Matching(Protocol):
    """What matching needs of a suppression (auditor.policy.suppressions.ActiveSuppression)."""

    id: int
    rule: str
    user_id: str | None
    patient_id: int | None
    expires_on: date


def covers(expires_on: date, last_at: datetime, tz: ZoneInfo) -> bool:
    """A suppression mutes a finding whose last event falls on or before its last day, local time."""
    return last_at.astimezone(tz).date() <= expires_on


def _zone(session: Session) -> ZoneInfo:
    """The organisation's time zone as this transaction reads it (UTC until an ingest stores one)."""
    name = session.scalar(select(VaultSetting.value).where(VaultSetting.name == ORGANISATION_TIMEZONE))
    return time_zone(name) if name else UTC


def _matches(s: Matching, rule: str, user_id: str, patient_id: int | None, last_at: datetime, tz: ZoneInfo) -> bool:
    return (s.rule == rule and s.user_id in (None, user_id) and s.patient_id in (None, patient_id)
            and covers(s.expires_on, last_at, tz))


def _cases_to_change(session: Session, case_ids: Iterable[int]) -> dict[int, Case]:
    """These cases, locked, less those closed (a closed case is final; one closed meanwhile is skipped)."""
    wanted = sorted(set(case_ids))
    if not wanted:
        return {}
    rows = session.scalars(select(Case).where(Case.id.in_(wanted), Case.status != CLOSED)
                           .order_by(Case.id).with_for_update()).all()
    return {case.id: case for case in rows}


def _recorded(change: CaseworkChange, cases: dict[int, Case], counts: Counter, by: str, action: str,
              detail) -> dict[int, int]:
    """One history row and one audit event per case changed; case id -> how many of its findings."""
    for case_id, n in sorted(counts.items()):
        text = detail(n)
        record_history(change, cases[case_id], action, by, detail=text)
        change.record("case", case_id, f"case {case_id}: {text}, by {by}", action="update")
    return dict(sorted(counts.items()))


def mute_in_open_cases(change: CaseworkChange, s: Matching, by: str) -> dict[int, int]:
    """Mark muted the findings `s` (just become active) matches in cases not closed, unless already
    muted; case id -> how many it muted there."""
    take_turns(change.session)
    F, C, M = CaseFinding, Case, MutedFinding
    stmt = (select(F.id, F.case_id, F.last_at).join(C, C.id == F.case_id)
            .where(F.rule == s.rule, C.status != CLOSED, ~select(M.case_finding_id).where(M.case_finding_id == F.id)
                   .exists()))
    if s.user_id is not None:
        stmt = stmt.where(C.user_id == s.user_id)
    if s.patient_id is not None:
        stmt = stmt.where(F.patient_id == s.patient_id)
    tz = _zone(change.session)
    found = [(fid, case_id) for fid, case_id, last_at in change.session.execute(stmt)
             if covers(s.expires_on, last_at, tz)]
    cases = _cases_to_change(change.session, [case_id for _, case_id in found])
    found = [(fid, case_id) for fid, case_id in found if case_id in cases]
    if not found:
        return {}
    change.session.add_all([MutedFinding(case_finding_id=fid, case_id=case_id, suppression_id=s.id, muted_at=change.at)
                            for fid, case_id in found])
    change.record_rows(_TABLE, "create", [fid for fid, _ in found])
    return _recorded(change, cases, Counter(case_id for _, case_id in found), by, "findings_muted",
                     lambda n: f"{n} finding(s) muted by suppression {s.id}")


def unmute_in_open_cases(change: CaseworkChange, suppression_id: int, others: list[Matching], by: str) -> dict[int, int]:
    """`suppression_id` was revoked: in cases not closed, each finding it muted is muted by the first of
    `others` (the suppressions still active) that matches it, or un-muted; case id -> how many of its
    findings are un-muted."""
    take_turns(change.session)
    F, C, M = CaseFinding, Case, MutedFinding
    rows = change.session.execute(
        select(M, F.rule, C.user_id, F.patient_id, F.last_at).join(F, F.id == M.case_finding_id)
        .join(C, C.id == M.case_id).where(M.suppression_id == suppression_id, C.status != CLOSED)).all()
    cases = _cases_to_change(change.session, [row[0].case_id for row in rows])
    tz = _zone(change.session)
    moved, freed, gone = Counter(), Counter(), []
    for mark, rule, user_id, patient_id, last_at in rows:
        if mark.case_id not in cases:
            continue
        other = next((s for s in others if _matches(s, rule, user_id, patient_id, last_at, tz)), None)
        if other is None:
            gone.append(mark)
            freed[mark.case_id] += 1
        else:
            mark.suppression_id, mark.muted_at = other.id, change.at
            moved[mark.case_id, other.id] += 1
    if moved:
        leaving = {m.case_finding_id for m in gone}
        change.record_rows(_TABLE, "update", [m.case_finding_id for m, *_ in rows
                                              if m.case_id in cases and m.case_finding_id not in leaving])
    if gone:
        change.record_rows(_TABLE, "delete", [m.case_finding_id for m in gone])  # their last digests, before they go
        for mark in gone:
            change.session.delete(mark)
        change.session.flush()
    for (case_id, other_id), n in sorted(moved.items()):
        record_history(change, cases[case_id], "findings_muted", by,
                       detail=f"suppression {suppression_id} revoked: {n} finding(s) still muted by suppression {other_id}")
        change.record("case", case_id, f"case {case_id}: {n} finding(s) now muted by suppression {other_id}, "
                      f"suppression {suppression_id} revoked by {by}", action="update")
    return _recorded(change, cases, freed, by, "findings_unmuted",
                     lambda n: f"suppression {suppression_id} revoked: {n} finding(s) un-muted")
