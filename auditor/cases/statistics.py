"""What the monthly privacy report counts about cases in a period of local days: cases opened,
closed and overdue, and the dispositions and sanctions of the cases closed (45 CFR 164.530(e)(2):
the sanctions applied are documented; 164.530(j): that documentation is kept six years, so every
period since the vault began can be asked again: case rows are never deleted and their times never
rewritten).

A case is overdue in a period when, at some moment of the period (up to `now`), it had been neither
closed nor decided for longer than `overdue_after_days`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select

from auditor.cases.settings import CaseSettings
from auditor.cases.workflow import DISPOSITIONS, SANCTIONS
from auditor.policy.frames import Period
from auditor.vault.records import Case


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
