"""Cases as the privacy office reads them: a list (in case order: auditor.review.triage ranks it, the
one ranking of every list of cases), and one case's file.

A case is overdue when it is not closed and was opened more than `overdue_after_days` ago
(policies/cases.yaml). A case file opens its findings' sentences and its notes through the gateway
(audited), and the MRNs as svc:report (or as the reader the caller gives).

A finding a suppression muted in its case (auditor.cases.muting) stays in the case file, marked with
the suppression; it counts for nothing in the list: not in the case's findings, risk, critical,
severity or rules, nor in the filters by rule and severity. A case all of whose findings are muted
stays in the list, last among equals, saying so.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import aliased

from auditor.cases.settings import CaseSettings
from auditor.cases.workflow import CLOSED, STATUSES
from auditor.database import read_snapshot
from auditor.errors import InputError, NotFound
from auditor.policy.findings import Directory
from auditor.policy.validation import SEVERITIES
from auditor.vault.gateway.casework import Casework
from auditor.vault.gateway.context import normalize_department
from auditor.vault.records import Case, CaseFinding, CaseHistoryEntry, MutedFinding, WorkforceMember

NOT_CLOSED = "not_closed"  # open or under review: the office's work in hand
_CHUNK = 900


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
    critical: bool = False  # one of its findings is critical (the triage order puts it first)
    muted: int = 0  # its findings a suppression muted: counted in none of the above

    def to_dict(self) -> dict:
        out = asdict(self)
        for name in ("first_day", "last_day", "opened_at", "closed_at"):
            out[name] = out[name].isoformat() if out[name] is not None else None
        return out

    @property
    def counted(self) -> str:
        """Its findings as the office reads them: "3 finding(s)", "2 finding(s), 1 muted", "all 3 finding(s) muted"."""
        if not self.muted:
            return f"{self.findings} finding(s)"
        if not self.findings:
            return f"all {self.muted} finding(s) muted"
        return f"{self.findings} finding(s), {self.muted} muted"


def is_overdue(status: str, opened_at: datetime, now: datetime, settings: CaseSettings) -> bool:
    return status != CLOSED and now - opened_at > settings.overdue_after


def _not_muted(F=CaseFinding):
    return ~select(MutedFinding.case_finding_id).where(MutedFinding.case_finding_id == F.id).exists()


def _with_unmuted(column: str, value: str):
    """Case.id is a case's with an unmuted finding whose `column` is `value`: the cases with such a
    finding, less those in which a suppression muted every one (found from the few muted findings, so
    the findings are read from the index of r0015 alone)."""
    F, G, M = CaseFinding, aliased(CaseFinding), MutedFinding
    of_case = select(func.count()).select_from(G).where(G.case_id == M.case_id, getattr(G, column) == value)
    muted_value = select(getattr(F, column)).where(F.id == M.case_finding_id).scalar_subquery()  # from M, not F
    every_one_muted = (select(M.case_id).where(muted_value == value).group_by(M.case_id)
                       .having(func.count() == of_case.correlate(M).scalar_subquery()))
    return Case.id.in_(select(F.case_id).where(getattr(F, column) == value)) & Case.id.not_in(every_one_muted)


def _summary_query(*conditions):
    """Every case meeting `conditions` with its unmuted findings' count, highest risk and whether one is
    critical, its muted findings' count and its member's count of cases: per case, from the indexes of
    r0015 (no aggregate of all findings); the highest risk reads its findings from the top down to the
    first unmuted one."""
    F, M, other = CaseFinding, MutedFinding, aliased(Case)
    muted = select(func.count()).where(M.case_id == Case.id).scalar_subquery()
    n = (select(func.count()).where(F.case_id == Case.id).scalar_subquery() - muted).label("n")
    top = select(F.risk).where(F.case_id == Case.id, _not_muted()).order_by(F.risk.desc()).limit(1)
    risk = func.coalesce(top.scalar_subquery(), 0).label("risk")
    per_user = select(func.count()).where(other.user_id == Case.user_id).scalar_subquery()
    critical = case((_with_unmuted("severity", "critical"), 1), else_=0).label("critical")
    stmt = select(Case.id, Case.user_id, Case.status, Case.first_day, Case.last_day, Case.opened_at, Case.closed_at,
                  Case.disposition, Case.sanction, n, risk, per_user, critical, muted.label("muted")).where(*conditions)
    return stmt, (critical.desc(), risk.desc(), n.desc(), Case.id)  # by label: each computed once a case


def _summaries(conn, settings: CaseSettings, now: datetime, stmt) -> list[CaseSummary]:
    return [CaseSummary(*row[:12], overdue=is_overdue(row[2], row[5], now, settings), critical=bool(row[12]),
                        muted=row[13]) for row in conn.execute(stmt).all()]


def summaries(records: Engine, settings: CaseSettings, now: datetime, *conditions) -> list[CaseSummary]:
    """The cases meeting `conditions`, with their counts, in case order."""
    stmt, _ = _summary_query(*conditions)
    with records.connect() as conn:
        return _summaries(conn, settings, now, stmt.order_by(Case.id))


def ranked_page(records: Engine, settings: CaseSettings, now: datetime, conditions: list, offset: int,
                limit: int) -> tuple[list[CaseSummary], int]:
    """One page of the cases meeting `conditions` in triage order, ranked and cut by the database, and
    how many cases meet them. The ORDER BY is auditor.review.triage.triage_order written in SQL
    (critical first, highest risk, more findings, the older case); tests/cases/test_ranked_page.py
    checks the two agree on SQLite and PostgreSQL. The count and the page are read in one snapshot."""
    stmt, triage_order = _summary_query(*conditions)
    with records.connect() as conn:
        read_snapshot(conn)
        total = conn.scalar(select(func.count()).select_from(Case).where(*conditions))
        return _summaries(conn, settings, now, stmt.order_by(*triage_order).offset(offset).limit(limit)), total


def filter_conditions(settings: CaseSettings, now: datetime, *, status: str | None = None,
                      first_day: date | None = None, last_day: date | None = None, rule: str | None = None,
                      severity: str | None = None, user_ids=None) -> list:
    """The WHERE of a list of cases: `status` one of STATUSES, "overdue" or "not_closed"; days: cases
    whose span meets them; `rule`, `severity`: cases with such a finding, unmuted; `user_ids` (a list or a
    select of user ids): these members' cases."""
    conditions = _status(status)
    if status == "overdue":  # is_overdue in SQL: not closed and opened longer ago than overdue_after
        conditions.append(Case.opened_at < now - settings.overdue_after)
    if first_day is not None:
        conditions.append(Case.last_day >= first_day)
    if last_day is not None:
        conditions.append(Case.first_day <= last_day)
    if rule is not None:
        conditions.append(_with_unmuted("rule", rule))
    if severity is not None:
        conditions.append(_with_unmuted("severity", severity))
    if user_ids is not None:
        conditions.append(Case.user_id.in_(user_ids if not isinstance(user_ids, list) else sorted(set(user_ids))))
    return conditions


def _status(status: str | None) -> list:
    if status is None:
        return []
    if status in ("overdue", NOT_CLOSED):
        return [Case.status != CLOSED]
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}: one of {', '.join(STATUSES)}, overdue")
    return [Case.status == status]


def list_cases(records: Engine, settings: CaseSettings, now: datetime, *, status: str | None = None,
               first_day: date | None = None, last_day: date | None = None, rule: str | None = None,
               severity: str | None = None, user_ids: list[str] | None = None) -> list[CaseSummary]:
    """Cases in case order; the filters as filter_conditions takes them."""
    found = summaries(records, settings, now, *filter_conditions(
        settings, now, status=status, first_day=first_day, last_day=last_day, rule=rule, severity=severity,
        user_ids=user_ids))
    return [c for c in found if c.overdue] if status == "overdue" else found


def _unmuted_values(records: Engine, column: str, case_ids: list[int]) -> dict[int, set[str]]:
    """case id -> the values of `column` among its unmuted findings: each value's count per case (from
    the index) less its muted findings' count (from the few muted ones)."""
    F, M = CaseFinding, MutedFinding
    value = getattr(F, column)
    counts: Counter = Counter()
    with records.connect() as conn:
        for i in range(0, len(case_ids), _CHUNK):
            part = case_ids[i : i + _CHUNK]
            for case_id, v, n in conn.execute(select(F.case_id, value, func.count()).where(F.case_id.in_(part))
                                              .group_by(F.case_id, value)):
                counts[case_id, v] += n
            for case_id, v, n in conn.execute(select(F.case_id, value, func.count()).join(M, M.case_finding_id == F.id)
                                              .where(M.case_id.in_(part)).group_by(F.case_id, value)):
                counts[case_id, v] -= n
    out: dict[int, set[str]] = {}
    for (case_id, v), n in counts.items():
        if n > 0:
            out.setdefault(case_id, set()).add(v)
    return out


def rules_of(records: Engine, case_ids: list[int]) -> dict[int, list[str]]:
    """case id -> the rules of its unmuted findings, sorted."""
    return {case_id: sorted(rules) for case_id, rules in _unmuted_values(records, "rule", case_ids).items()}


def severities_of(records: Engine, case_ids: list[int]) -> dict[int, str]:
    """case id -> the highest severity among its unmuted findings."""
    return {case_id: max(found, key=SEVERITIES.index)
            for case_id, found in _unmuted_values(records, "severity", case_ids).items()}


def case_status_of_events(records: Engine, patient_id: int) -> dict[str, str]:
    """The source event ids of unmuted findings about one patient -> the status of the case holding
    them (a closed case over an open one: what the office has decided is what there is to say). A muted
    finding is an exception the office approved: it puts its events under no review."""
    out: dict[str, str] = {}
    with records.connect() as conn:
        rows = conn.execute(select(CaseFinding.event_ids, Case.status).join(Case, Case.id == CaseFinding.case_id)
                            .where(CaseFinding.patient_id == patient_id, _not_muted())).all()
    for event_ids, status in rows:
        for event_id in json.loads(event_ids):
            if event_id not in out or STATUSES.index(status) > STATUSES.index(out[event_id]):
                out[event_id] = status
    return out


def _ascending(conn, column, *conditions) -> list:
    """The distinct values of an indexed column meeting `conditions`, in one query that probes the
    index once per value (a loose index scan; DISTINCT would read every row: half a million findings
    in a month)."""
    values = select(func.min(column).label("value")).where(*conditions).cte("ascending", recursive=True)
    following = select(func.min(column)).where(*conditions, column > values.c.value).scalar_subquery()
    values = values.union_all(select(following).where(values.c.value.is_not(None)))
    return list(conn.scalars(select(values.c.value).where(values.c.value.is_not(None))))


def case_rules(records: Engine) -> list[str]:
    """Every rule some case has a finding of, sorted."""
    with records.connect() as conn:
        return sorted(_ascending(conn, CaseFinding.rule))  # in Python's order, whatever the collation


def _with_cases():
    return select(Case.id).where(Case.user_id == WorkforceMember.user_id).exists()


def case_departments(records: Engine) -> dict[str, list[str]]:
    """Each department (trimmed and case-folded, as the rules compare them) of the members with a case
    -> the department names on file that read as it (clear columns of the workforce file)."""
    with records.connect() as conn:
        raw = _ascending(conn, WorkforceMember.department, _with_cases())
    out: dict[str, list[str]] = {}
    for name in raw:
        if (dept := normalize_department(name)) is not None:
            out.setdefault(dept, []).append(name)
    return dict(sorted(out.items()))


def members_of(names: list[str]):
    """The user ids of the members whose department is on file as one of `names` (a select)."""
    return select(WorkforceMember.user_id).where(WorkforceMember.department.in_(names))


def member_departments(records: Engine, user_ids: list[str] | None = None) -> dict[str, str]:
    """The user id -> department (trimmed and case-folded, as the rules compare them) of every member
    with a case (or of these members) and a department on file (clear columns of the workforce file)."""
    W = WorkforceMember
    which = W.user_id.in_(select(Case.user_id).distinct()) if user_ids is None else W.user_id.in_(sorted(set(user_ids)))
    with records.connect() as conn:
        rows = conn.execute(select(W.user_id, W.department).where(which)).all()
    return {user_id: dept for user_id, raw in rows if (dept := normalize_department(raw)) is not None}


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
    finding_id: int = 0  # the case_findings row: what a proposed suppression names
    patient_id: int | None = None  # internal: the MRN names the patient outside the vault
    muted_by: int | None = None  # the suppression that muted it in this case (auditor.cases.muting)

    @property
    def muted(self) -> bool:
        return self.muted_by is not None

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["finding_id"], out["patient_id"]
        return {**out, "muted": self.muted}


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
    position: int = 0  # 1, 2, ... within the case


@dataclass(frozen=True)
class CaseFile:
    case: CaseSummary
    findings: list[CaseFindingView]
    history: list[HistoryView]

    def to_dict(self) -> dict:
        return {"case": self.case.to_dict(), "findings": [f.to_dict() for f in self.findings],
                "history": [asdict(h) for h in self.history]}


def case_file(casework: Casework, directory: Directory | None, case_id: int, settings: CaseSettings,
              now: datetime, *, opened: bool = True) -> CaseFile:
    """One case with its findings (sentences opened) and its history (notes opened), oldest first.
    `opened` False: clear columns only, nothing read through the gateway (no sentence, note or MRN),
    for a reader whose role opens no patient information."""
    records = casework.gateway.records
    found = summaries(records, settings, now, Case.id == case_id)
    if not found:
        raise NotFound(f"no case {case_id}")
    F, H, M = CaseFinding, CaseHistoryEntry, MutedFinding
    with records.connect() as conn:  # the unmuted findings first
        findings = conn.execute(select(F.id, F.rule, F.severity, F.risk, F.patient_id, F.event_ids, F.first_at,
                                       F.last_at, M.suppression_id)
                                .outerjoin(M, M.case_finding_id == F.id).where(F.case_id == case_id)
                                .order_by(M.suppression_id.is_not(None), F.risk.desc(), F.first_at, F.rule)).all()
        history = conn.execute(select(H.id, H.at, H.action, H.by, H.status, H.disposition, H.sanction, H.detail,
                                      H.position).where(H.case_id == case_id).order_by(H.position)).all()
    patients = sorted({r.patient_id for r in findings if r.patient_id is not None})
    sentences: dict = {}
    notes: dict = {}
    mrns: dict = {}
    if opened:
        sentences = casework.read("case_findings", "explanation", [r.id for r in findings], "case", case_id,
                                  patients) if findings else {}
        notes = casework.read("case_history", "note", [r.id for r in history], "case", case_id)
        mrns = directory.mrns(patients) if directory is not None else {}
    return CaseFile(found[0], [
        CaseFindingView(r.rule, r.severity, r.risk, mrns.get(r.patient_id) if r.patient_id is not None else None,
                        json.loads(r.event_ids), r.first_at.isoformat(), r.last_at.isoformat(), sentences.get(r.id),
                        r.id, r.patient_id, r.suppression_id)
        for r in findings
    ], [HistoryView(r.at.isoformat(), r.action, r.by, r.status, r.disposition, r.sanction, r.detail, notes.get(r.id),
                    r.position) for r in history])
