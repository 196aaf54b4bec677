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
NONE = "(none)"  # a source or outcome missing from an event (event_counts)


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
    """The period's activity from a context: counted here from its accesses and events, or, for a
    context judged by partitions (here or on a cluster), from what each partition counted."""
    tallies = getattr(context, "access_tallies", None)
    counts = getattr(context, "event_counts", None)
    return of_tallies(context.period, context.settings,
                      [access_tally(context)] if tallies is None else tallies,
                      event_counts(context.events) if counts is None else counts)


def access_tally(context: DetectionContext) -> dict:
    """What Activity counts of a context's patient accesses, as plain data: every figure adds up over
    partitions that each hold whole members (the cluster's), the patients as their ids (a patient is
    read in several partitions)."""
    acc = context.accesses
    if acc.empty:
        return {"accesses": 0, "users": 0, "patients": [], "explained": 0, "explained_by": {}, "vip": [0, 0],
                "sensitive": {}, "break_glass": [0, 0]}
    types = sorted(context.settings.explanations.sensitive_record_types)  # a handful of types, not events
    sensitive = {t: acc.loc[acc["record_type"] == t, "clinically_explained"] for t in types}
    vip, glass = acc.loc[acc["vip"], "explained"], acc.loc[acc["break_glass"], "has_reason"]
    return {"accesses": len(acc), "users": int(acc["user_id"].nunique()),
            "patients": pd.unique(acc["patient_id"].dropna().to_numpy(dtype="int64")).tolist(),
            "explained": int(acc["explained"].sum()),
            "explained_by": {str(k): int(v) for k, v in acc["explained_by"].value_counts().items()},
            "vip": [len(vip), int((~vip).sum())],
            "sensitive": {t: [len(rows), int((~rows).sum())] for t, rows in sensitive.items()},
            "break_glass": [len(glass), int((~glass).sum())]}


def event_counts(events: pd.DataFrame) -> pd.DataFrame:
    """The period's events counted by local day, source and outcome (every event: service accounts
    and denials included: a source or outcome the database should not hold as missing, as "(none)"),
    sorted by them. Grouped on the columns as they are (categories, days), and only the few groups
    turned into dates and text: turning a month's ten million values into Python objects took most of
    the time."""
    inside = events.loc[events["in_period"].to_numpy(dtype=bool), ["local_day", "source", "outcome"]]
    sizes = inside.groupby(["local_day", "source", "outcome"], observed=True, dropna=False, sort=False).size()
    keys = sizes.index.to_frame(index=False)
    text = {name: keys[name].astype(object).where(keys[name].notna(), NONE).astype(str) for name in ("source", "outcome")}
    frame = pd.DataFrame({"day": pd.DatetimeIndex(keys["local_day"]).date, **text, "count": sizes.to_numpy(dtype="int64")})
    return frame.sort_values(["day", "source", "outcome"], kind="stable").reset_index(drop=True)


def of_tallies(period, settings, tallies: list[dict], counts: pd.DataFrame) -> Activity:
    """Activity from access tallies (one a partition) and the period's event counts."""
    accesses = sum(t["accesses"] for t in tallies)
    explained = sum(t["explained"] for t in tallies)
    by: dict[str, int] = {}
    for t in tallies:
        for name, n in t["explained_by"].items():
            by[name] = by.get(name, 0) + n
    total = lambda key, i: sum(t[key][i] for t in tallies)  # noqa: E731
    sensitive = [{"record_type": r, "accesses": sum(t["sensitive"].get(r, [0, 0])[0] for t in tallies),
                  "unexplained": sum(t["sensitive"].get(r, [0, 0])[1] for t in tallies)}
                 for r in sorted(settings.explanations.sensitive_record_types)]
    patients = set()
    for t in tallies:
        patients.update(t["patients"])
    sources = counts.groupby("source")["count"].sum()
    return Activity(
        accesses=accesses, users=sum(t["users"] for t in tallies), patients=len(patients), explained=explained,
        explained_share=explained / accesses if accesses else None,
        explained_by={str(k): int(v) for k, v in sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))},
        vip_accesses=total("vip", 0), vip_unexplained=total("vip", 1), sensitive=sensitive,
        break_glass=total("break_glass", 0), break_glass_without_reason=total("break_glass", 1),
        events=int(counts["count"].sum()), denied=int(counts.loc[counts["outcome"] == "denied", "count"].sum()),
        events_by_source={str(k): int(v) for k, v in sources.items() if v},
        days_without_events=_quiet_days(set(counts["day"]), period))


def _quiet_days(seen: set[date], period) -> list[date]:
    """Local days of the period on which no event at all arrived: a gap in the feed to explain."""
    days, day = [], period.first_day
    while day <= period.last_day:
        if day not in seen:
            days.append(day)
        day += timedelta(days=1)
    return days
