"""The period's activity as the report states it: what was accessed, by whom, how much of it the
treatment data explains, and the sensitive corners (VIP, sensitive record types, break-the-glass).
Everything is computed from the engine's DetectionContext, so the report's numbers are the
numbers the findings were computed from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from auditor.policy.context import DetectionContext

SEVERITIES = ("critical", "high", "medium", "low")


@dataclass
class Activity:
    accesses: int
    users: int
    patients: int
    explained: int
    explained_share: float | None
    explained_by: dict[str, int]
    vip_accesses: int
    vip_unexplained: int
    sensitive: list[dict] = field(default_factory=list)  # per record type: accesses, unexplained
    break_glass: int = 0
    break_glass_without_reason: int = 0
    events: int = 0  # every event in the period, service accounts and denials included
    denied: int = 0
    events_by_source: dict[str, int] = field(default_factory=dict)
    days_without_events: list[date] = field(default_factory=list)


def activity(context: DetectionContext) -> Activity:
    acc = context.accesses
    explained = int(acc["explained"].sum()) if not acc.empty else 0
    by = acc["explained_by"].value_counts().to_dict() if not acc.empty else {}
    sensitive_types = sorted(context.settings.explanations.sensitive_record_types)
    sensitive = []
    for record_type in sensitive_types:  # a handful of types, not events
        rows = acc[acc["record_type"] == record_type]
        sensitive.append({"record_type": record_type, "accesses": len(rows),
                          "unexplained": int((~rows["clinically_explained"]).sum())})
    vip = acc[acc["vip"]] if not acc.empty else acc
    glass = acc[acc["break_glass"]] if not acc.empty else acc
    period_events = context.events[context.events["in_period"]]
    return Activity(
        accesses=len(acc), users=int(acc["user_id"].nunique()), patients=int(acc["patient_id"].nunique()),
        explained=explained, explained_share=context.explained_share,
        explained_by={str(k): int(v) for k, v in by.items()},
        vip_accesses=len(vip), vip_unexplained=int((~vip["explained"]).sum()) if len(vip) else 0,
        sensitive=sensitive, break_glass=len(glass),
        break_glass_without_reason=int((~glass["has_reason"]).sum()) if len(glass) else 0,
        events=len(period_events), denied=int((period_events["outcome"] == "denied").sum()),
        events_by_source={str(k): int(v) for k, v in period_events["source"].value_counts().items() if v},
        days_without_events=_quiet_days(period_events, context))


def _quiet_days(events: pd.DataFrame, context: DetectionContext) -> list[date]:
    """Local days of the period on which no event at all arrived: a gap in the feed to explain."""
    period = context.period
    seen = set(pd.DatetimeIndex(events["local_day"].unique()).date)  # the days first: 30, not 10 million
    days, day = [], period.first_day
    while day <= period.last_day:
        if day not in seen:
            days.append(day)
        day += timedelta(days=1)
    return days
