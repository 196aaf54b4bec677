"""Cases as the privacy office reads them: a ranked list, and one case's file.

Ranking: repeat offenders first (members with more cases, then more findings in this case), then
the highest risk, then the oldest case. A case is overdue when it is not closed and was opened more
than `overdue_after_days` ago (policies/cases.yaml). A case file opens its findings' sentences and its
notes through the gateway (audited), and the MRNs as svc:report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import Engine, func, select

from auditor.cases.settings import CaseSettings
from auditor.cases.workflow import CLOSED, STATUSES
from auditor.errors import InputError, NotFound
from auditor.policy.findings import Directory
from auditor.vault.gateway.casework import Casework
from auditor.vault.records import Case, CaseFinding, CaseHistoryEntry


@dataclass(frozen=True)
class CaseSummary:
    id: int
    user_id: str
    status: str
    first_day: date
    last_day: date
    opened_at: datetime
    closed_at: datetime | None
    disposition: str | None
    sanction: str | None
    findings: int
    max_risk: int
    user_cases: int  # how many cases this member has had, this one included
    overdue: bool

    def to_dict(self) -> dict:
        out = asdict(self)
        for name in ("first_day", "last_day", "opened_at", "closed_at"):
            out[name] = out[name].isoformat() if out[name] is not None else None
        return out


def is_overdue(status: str, opened_at: datetime, now: datetime, settings: CaseSettings) -> bool:
    return status != CLOSED and now - opened_at > settings.overdue_after


def ranking_key(c: CaseSummary) -> tuple:
    return (-c.user_cases, -c.findings, -c.max_risk, c.opened_at, c.id)


def summaries(records: Engine, settings: CaseSettings, now: datetime, *conditions) -> list[CaseSummary]:
    """The cases meeting `conditions`, with their counts, ranked."""
    F = CaseFinding
    counts = (select(F.case_id, func.count(F.id).label("n"), func.max(F.risk).label("risk"))
              .group_by(F.case_id).subquery())
    per_user = select(Case.user_id, func.count(Case.id).label("cases")).group_by(Case.user_id).subquery()
    stmt = (select(Case.id, Case.user_id, Case.status, Case.first_day, Case.last_day, Case.opened_at, Case.closed_at,
                   Case.disposition, Case.sanction, func.coalesce(counts.c.n, 0), func.coalesce(counts.c.risk, 0),
                   per_user.c.cases)
            .outerjoin(counts, counts.c.case_id == Case.id).join(per_user, per_user.c.user_id == Case.user_id)
            .where(*conditions))
    with records.connect() as conn:
        rows = conn.execute(stmt).all()
    found = [CaseSummary(*row, overdue=is_overdue(row[2], row[5], now, settings)) for row in rows]
    return sorted(found, key=ranking_key)


def list_cases(records: Engine, settings: CaseSettings, now: datetime, *, status: str | None = None,
               first_day: date | None = None, last_day: date | None = None) -> list[CaseSummary]:
    """Cases ranked; `status` one of STATUSES or "overdue"; days: cases whose span meets them."""
    conditions = []
    if status == "overdue":
        conditions.append(Case.status != CLOSED)
    elif status is not None:
        if status not in STATUSES:
            raise InputError(f"unknown status {status!r}: one of {', '.join(STATUSES)}, overdue")
        conditions.append(Case.status == status)
    if first_day is not None:
        conditions.append(Case.last_day >= first_day)
    if last_day is not None:
        conditions.append(Case.first_day <= last_day)
    found = summaries(records, settings, now, *conditions)
    return [c for c in found if c.overdue] if status == "overdue" else found


@dataclass(frozen=True)
class CaseFindingView:
    rule: str
    severity: str
    risk: int
    mrn: str | None
    event_ids: list[str]
    first_at: str
    last_at: str
    explanation: str | None


@dataclass(frozen=True)
class HistoryView:
    at: str
    action: str
    by: str
    status: str
    disposition: str | None
    sanction: str | None
    detail: str | None
    note: str | None


@dataclass(frozen=True)
class CaseFile:
    case: CaseSummary
    findings: list[CaseFindingView]
    history: list[HistoryView]

    def to_dict(self) -> dict:
        return {"case": self.case.to_dict(), "findings": [asdict(f) for f in self.findings],
                "history": [asdict(h) for h in self.history]}


def case_file(casework: Casework, directory: Directory, case_id: int, settings: CaseSettings,
              now: datetime) -> CaseFile:
    """One case with its findings (sentences opened) and its history (notes opened), oldest first."""
    records = casework.gateway.records
    found = summaries(records, settings, now, Case.id == case_id)
    if not found:
        raise NotFound(f"no case {case_id}")
    F, H = CaseFinding, CaseHistoryEntry
    with records.connect() as conn:
        findings = conn.execute(select(F.id, F.rule, F.severity, F.risk, F.patient_id, F.event_ids, F.first_at,
                                       F.last_at).where(F.case_id == case_id)
                                .order_by(F.risk.desc(), F.first_at, F.rule)).all()
        history = conn.execute(select(H.id, H.at, H.action, H.by, H.status, H.disposition, H.sanction, H.detail)
                               .where(H.case_id == case_id).order_by(H.position)).all()
    patients = sorted({r.patient_id for r in findings if r.patient_id is not None})
    sentences = casework.read("case_findings", "explanation", [r.id for r in findings], "case", case_id,
                              patients) if findings else {}
    notes = casework.read("case_history", "note", [r.id for r in history], "case", case_id)
    mrns = directory.mrns(patients)
    return CaseFile(found[0], [
        CaseFindingView(r.rule, r.severity, r.risk, mrns.get(r.patient_id) if r.patient_id is not None else None,
                        json.loads(r.event_ids), r.first_at.isoformat(), r.last_at.isoformat(), sentences.get(r.id))
        for r in findings
    ], [HistoryView(r.at.isoformat(), r.action, r.by, r.status, r.disposition, r.sanction, r.detail, notes.get(r.id))
        for r in history])
