"""Rules for review: every break-glass access, and repeated denials.

45 CFR 164.312(a)(2)(ii): emergency access procedure (break-glass), reviewed after the fact;
45 CFR 164.308(a)(5)(ii)(C): log-in monitoring (repeated refusals); 164.308(a)(1)(ii)(D).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from auditor.policy.context import DetectionContext
from auditor.policy.detectors import detector, hits, no_hits
from auditor.policy.frames import run_starts


@detector("break_glass_review", {"severity_without_reason": "severity"})
def break_glass_review(ctx: DetectionContext, params) -> pd.DataFrame:
    rows = ctx.accesses[ctx.accesses["break_glass"]]
    if rows.empty:
        return no_hits()
    reason = rows["has_reason"].to_numpy()
    evidence = np.where(reason, "broke the glass to open the chart of a patient{times}{when}; review the reason given",
                        "broke the glass to open the chart of a patient{times}{when} without giving a reason")
    severity = np.where(reason, None, params["severity_without_reason"])
    unit = rows["patient_id"].astype("string") + np.where(reason, "|reason", "|no-reason")
    return hits(rows, unit, evidence, severity)


def _bursts(denials: pd.DataFrame, count: int, window: pd.Timedelta) -> pd.Series:
    """For denials sorted by user and time: a burst number for each event inside some window of
    `count` events within `window` (inclusive), NA elsewhere. Vectorised: the window ending at
    event i holds events i - count + 1 .. i when they share the user and fit in `window`."""
    n, k = len(denials), count - 1
    if n == 0:
        return pd.Series(pd.NA, index=denials.index, dtype="Int64")
    # user codes and UTC datetime64 values: no Python string or Timestamp per denial
    users, at = pd.factorize(denials["user_id"])[0], denials["at"].dt.tz_convert(None).to_numpy()
    ends = np.zeros(n, dtype=bool)
    if n > k:
        same_user = users[k:] == users[: n - k]
        ends[k:] = same_user & ((at[k:] - at[: n - k]) <= window.to_timedelta64())
    cover = np.zeros(n + 1, dtype="int64")  # +1 at i - k, -1 after i, for every window end i
    idx = np.flatnonzero(ends)
    np.add.at(cover, idx - k, 1)
    np.add.at(cover, idx + 1, -1)
    marked = np.cumsum(cover[:n]) > 0
    gap = np.r_[True, (at[1:] - at[:-1]) > window.to_timedelta64()]
    new_user = run_starts(users)  # sorted by user
    starts = marked & (new_user | gap | ~np.r_[False, marked[:-1]])
    return pd.Series(np.where(marked, np.cumsum(starts), 0), index=denials.index).astype("Int64").replace(0, pd.NA)


@detector("repeated_denials", {"minimum_denials": "int", "window_minutes": "int"},
          lookback=lambda params: timedelta(minutes=params["window_minutes"]))
def repeated_denials(ctx: DetectionContext, params) -> pd.DataFrame:
    window = pd.Timedelta(minutes=params["window_minutes"])
    denials = ctx.denials[ctx.denials["user_id"].notna()].sort_values(["user_id", "at"], kind="stable")
    burst = _bursts(denials, max(int(params["minimum_denials"]), 1), window)
    if not burst.notna().any():
        return no_hits()
    rows = denials[burst.notna()].assign(burst=burst[burst.notna()].astype("int64"))
    group = rows.groupby("burst")
    rows = rows[group["in_period"].transform("last").astype(bool)]  # reported in the period it ends in
    if rows.empty:
        return no_hits()
    group = rows.groupby("burst")
    local = rows["at"].dt.tz_convert(ctx.period.tz)
    first, last = local.groupby(rows["burst"]).transform("min"), local.groupby(rows["burst"]).transform("max")
    evidence = ("was refused{times} between " + first.dt.strftime("%Y-%m-%d %H:%M") + " and "
                + last.dt.strftime("%Y-%m-%d %H:%M") + f" ({params['minimum_denials']} or more refusals within "
                + f"{params['window_minutes']} minutes)")
    return hits(rows, "burst-" + group["event_ref"].transform("first"), evidence)
