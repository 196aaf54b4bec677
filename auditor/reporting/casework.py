"""The casework the monthly report states: cases opened, closed, overdue and open at the end of the
month; the dispositions and sanctions of the cases closed (45 CFR 164.530(e)(2)). Laid out from
auditor.cases.statistics.MonthCasework."""

from __future__ import annotations

from auditor.cases.statistics import MonthCasework
from auditor.cases.workflow import DISPOSITIONS, SANCTIONS, STATUSES


def casework(facts: MonthCasework) -> dict:
    stats = facts.statistics
    return {"for_month": len(facts.began), "now": [{"status": st, "cases": facts.began_by_status.get(st, 0)}
                                                    for st in STATUSES],
            "opened": len(stats.opened), "closed": len(stats.closed),
            "overdue": len(stats.overdue), "open_at_end": facts.open_at_end,
            "overdue_days": facts.settings.overdue_after_days,
            "dispositions": [{"name": d, "cases": stats.dispositions.get(d, 0)} for d in DISPOSITIONS],
            "sanctions": [{"name": s, "cases": stats.sanctions.get(s, 0)} for s in SANCTIONS]}
