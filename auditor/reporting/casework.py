"""The casework the monthly report states: cases opened, closed, overdue and open at the end of the
month; the dispositions and sanctions of the cases closed (45 CFR 164.530(e)(2)); and the findings
recorded in cases in earlier months, for the trend (kept six years, 164.530(j))."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, or_, select

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
    """'YYYY-MM' -> findings by severity recorded in cases, by when their first event happened."""
    out: dict[str, Counter] = {}
    with vault.records.connect() as conn:
        for p in periods:  # six months: six small grouped queries
            rows = conn.execute(select(CaseFinding.severity, func.count()).where(
                CaseFinding.first_at >= p.start.to_pydatetime(), CaseFinding.first_at < p.end.to_pydatetime())
                .group_by(CaseFinding.severity)).all()
            out[p.first_day.strftime("%Y-%m")] = Counter({sev: int(n) for sev, n in rows})
    return out
