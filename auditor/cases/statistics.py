"""What the monthly privacy report counts about cases in a period of local days: cases opened,
closed and overdue, and the dispositions and sanctions of the cases closed (45 CFR 164.530(e)(2):
the sanctions applied are documented; 164.530(j): that documentation is kept six years, so every
period since the vault began can be asked again: case rows are never deleted and their times never
rewritten).

A case is overdue in a period when, at some moment of the period (up to `now`), it had been neither
closed nor decided for longer than `overdue_after_days`. `month_casework` is what the report's
casework section states; `findings_recorded_by_month` the findings kept in cases, for its trend.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, func, or_, select

from auditor.cases.settings import CaseSettings
from auditor.cases.workflow import DISPOSITIONS, SANCTIONS
from auditor.policy.frames import Period
from auditor.vault.records import Case, CaseFinding, MutedFinding


def _bounds(period: Period) -> tuple[datetime, datetime]:
    return period.start.to_pydatetime(), period.end.to_pydatetime()


def cases_opened(records: Engine, period: Period) -> list[int]:
    start, end = _bounds(period)
    with records.connect() as conn:
        return list(conn.scalars(select(Case.id).where(Case.opened_at >= start, Case.opened_at < end)
                                 .order_by(Case.id)))


def cases_closed(records: Engine, period: Period) -> list[int]:
    start, end = _bounds(period)
    with records.connect() as conn:
        return list(conn.scalars(select(Case.id).where(Case.closed_at >= start, Case.closed_at < end)
                                 .order_by(Case.id)))


def cases_overdue(records: Engine, period: Period, settings: CaseSettings, now: datetime) -> list[int]:
    """Cases overdue at some moment of [period start, min(period end, now))."""
    start, end = _bounds(period)
    end = min(end, now)
    with records.connect() as conn:
        rows = conn.execute(select(Case.id, Case.opened_at, Case.closed_at)
                            .where(Case.opened_at < end - settings.overdue_after,
                                   or_(Case.closed_at.is_(None), Case.closed_at > start)).order_by(Case.id)).all()
    return [cid for cid, opened, closed in rows if overdue_during(opened, closed, start, end, settings.overdue_after)]


def overdue_during(opened: datetime, closed: datetime | None, start: datetime, end: datetime,
                   overdue_after: timedelta) -> bool:
    """Was there a moment t in [start, end) with t - opened > overdue_after and the case not closed at t?"""
    first = max(opened + overdue_after, start)  # overdue strictly after the due moment, until closed
    return first < end and (closed is None or first < closed)


def _closed_counts(records: Engine, period: Period, column, values: tuple[str, ...]) -> dict[str, int]:
    start, end = _bounds(period)
    with records.connect() as conn:
        rows = conn.execute(select(column, func.count(Case.id))
                            .where(Case.closed_at >= start, Case.closed_at < end).group_by(column)).all()
    counts = dict.fromkeys(values, 0)
    counts.update({value: n for value, n in rows if value is not None})
    return counts


def disposition_counts(records: Engine, period: Period) -> dict[str, int]:
    """Cases closed in the period, per disposition (every disposition named, zero included)."""
    return _closed_counts(records, period, Case.disposition, DISPOSITIONS)


def sanction_counts(records: Engine, period: Period) -> dict[str, int]:
    """Cases closed in the period, per sanction (every sanction named, zero included)."""
    return _closed_counts(records, period, Case.sanction, SANCTIONS)


@dataclass(frozen=True)
class CaseStatistics:
    opened: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    dispositions: dict[str, int] = field(default_factory=dict)
    sanctions: dict[str, int] = field(default_factory=dict)


def case_statistics(records: Engine, period: Period, settings: CaseSettings, now: datetime) -> CaseStatistics:
    return CaseStatistics(cases_opened(records, period), cases_closed(records, period),
                          cases_overdue(records, period, settings, now), disposition_counts(records, period),
                          sanction_counts(records, period))


@dataclass(frozen=True)
class MonthCasework:
    """The casework of a period as the monthly report states it."""

    statistics: CaseStatistics
    began: list[int]  # cases whose first finding happened in the period, whenever they were opened
    open_at_end: int  # cases open or under review at the period's end (or now, if sooner)
    settings: CaseSettings
    began_by_status: dict[str, int] = field(default_factory=dict)  # those cases' statuses now


def month_casework(records: Engine, period: Period, settings: CaseSettings, now: datetime) -> MonthCasework:
    stats = case_statistics(records, period, settings, now)
    end = min(period.end.to_pydatetime(), now)
    with records.connect() as conn:
        open_at_end = conn.scalar(select(func.count()).select_from(Case).where(
            Case.opened_at < end, or_(Case.closed_at.is_(None), Case.closed_at >= end))) or 0
        # a case belongs to the month its first finding happened in, even when the office opened it
        # the week after the month ended (the usual way: findings are run once the month is over)
        rows = conn.execute(select(Case.id, Case.status).where(Case.first_day >= period.first_day,
                                                               Case.first_day <= period.last_day).order_by(Case.id)).all()
    began = [case_id for case_id, _ in rows]
    return MonthCasework(stats, began, int(open_at_end), settings, dict(Counter(status for _, status in rows)))


def findings_recorded_by_month(records: Engine, periods: list[Period]) -> dict[str, Counter]:
    """'YYYY-MM' -> unmuted findings by severity recorded in cases, by when their first event happened; one
    grouped pass over the recorded findings (no index on when: each month on its own is a pass)."""
    keys = [p.first_day.strftime("%Y-%m") for p in periods]
    out: dict[str, Counter] = {key: Counter() for key in keys}
    if not periods:
        return out
    bounds = [(p.start.to_pydatetime(), p.end.to_pydatetime()) for p in periods]
    month = case(*[((CaseFinding.first_at >= lo) & (CaseFinding.first_at < hi), i)
                   for i, (lo, hi) in enumerate(bounds)], else_=None)
    first, last = min(lo for lo, _ in bounds), max(hi for _, hi in bounds)
    muted = select(MutedFinding.case_finding_id).where(MutedFinding.case_finding_id == CaseFinding.id).exists()
    stmt = (select(month, CaseFinding.severity, func.count())
            .where(CaseFinding.first_at >= first, CaseFinding.first_at < last, ~muted)  # an approved exception
            .group_by(month, CaseFinding.severity))
    with records.connect() as conn:
        for i, severity, n in conn.execute(stmt):
            if i is not None:
                out[keys[i]][severity] += int(n)
    return out
