"""The casework the monthly report states: cases opened, closed, overdue and open at the end of the
month; the dispositions and sanctions of the cases closed (45 CFR 164.530(e)(2)); and the findings
recorded in cases in earlier months, for the trend (kept six years, 164.530(j))."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import case, func, or_, select

from auditor.cases.settings import CaseSettings
from auditor.cases.statistics import case_statistics
from auditor.cases.workflow import DISPOSITIONS, SANCTIONS
from auditor.home import Vault
from auditor.policy.frames import Period
from auditor.vault.records import Case, CaseFinding


def casework(vault: Vault, period: Period, settings: CaseSettings, now: datetime) -> dict:
    stats = case_statistics(vault.records, period, settings, now)
    end = min(period.end.to_pydatetime(), now)
    with vault.records.connect() as conn:
        open_at_end = conn.scalar(select(func.count()).select_from(Case).where(
            Case.opened_at < end, or_(Case.closed_at.is_(None), Case.closed_at >= end))) or 0
        # a case belongs to the month its first finding happened in, even when the office opened it
        # the week after the month ended (the usual way: findings are run once the month is over)
        began = set(conn.scalars(select(Case.id).where(Case.first_day >= period.first_day,
                                                       Case.first_day <= period.last_day)))
    return {"opened": len(began | set(stats.opened)), "closed": len(stats.closed), "overdue": len(stats.overdue),
            "open_at_end": int(open_at_end), "overdue_days": settings.overdue_after_days,
            "dispositions": [{"name": d, "cases": stats.dispositions.get(d, 0)} for d in DISPOSITIONS],
            "sanctions": [{"name": s, "cases": stats.sanctions.get(s, 0)} for s in SANCTIONS]}


def recorded_findings(vault: Vault, periods: list[Period]) -> dict[str, Counter]:
    """'YYYY-MM' -> findings by severity recorded in cases, by when their first event happened; one
    grouped pass over the recorded findings (no index on when: each month on its own is a pass)."""
    keys = [p.first_day.strftime("%Y-%m") for p in periods]
    out: dict[str, Counter] = {key: Counter() for key in keys}
    if not periods:
        return out
    bounds = [(p.start.to_pydatetime(), p.end.to_pydatetime()) for p in periods]
    month = case(*[((CaseFinding.first_at >= lo) & (CaseFinding.first_at < hi), i)
                   for i, (lo, hi) in enumerate(bounds)], else_=None)
    first, last = min(lo for lo, _ in bounds), max(hi for _, hi in bounds)
    stmt = (select(month, CaseFinding.severity, func.count())
            .where(CaseFinding.first_at >= first, CaseFinding.first_at < last)
            .group_by(month, CaseFinding.severity))
    with vault.records.connect() as conn:
        for i, severity, n in conn.execute(stmt):
            if i is not None:
                out[keys[i]][severity] += int(n)
    return out
