"""Rules about when: after-hours (outside the user's shift, local wall clock) and accounts used
outside employment (terminated-user-access).

45 CFR 164.308(a)(3)(ii)(C): termination procedures end access when employment ends;
45 CFR 164.308(a)(1)(ii)(D): review of system activity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.policy.context import DetectionContext
from auditor.policy.detectors import detector, hits, no_hits

DAY = 1440


def _clock(minutes: pd.Series) -> pd.Series:
    whole = minutes.astype("int64")
    return (whole // 60).astype("string").str.zfill(2) + ":" + (whole % 60).astype("string").str.zfill(2)


def minutes_outside_shift(minute: pd.Series, start: pd.Series, end: pd.Series) -> pd.Series:
    """How far (in minutes) a wall-clock minute lies outside the shift start..end; 0 inside it.

    The shift runs forward from start to end, so 19:00-07:00 crosses midnight; start == end is a
    24-hour shift. Distance is measured to the nearer edge, around the clock."""
    length = (end - start) % DAY
    length = length.where(length != 0, DAY)
    offset = (minute - start) % DAY
    after_end = offset - length
    before_start = DAY - offset
    outside = np.minimum(after_end, before_start)
    return outside.where(offset > length, 0.0).astype("float64")


@detector("after_hours", {"tolerance_minutes": "int"})
def after_hours(ctx: DetectionContext, params) -> pd.DataFrame:
    a = ctx.activity  # measured on whole columns; only the late rows are copied out
    start, end = (pd.Series(a[c].to_numpy("float64", na_value=np.nan), index=a.index)
                  for c in ("shift_start", "shift_end"))
    outside = minutes_outside_shift(a["minute_of_day"].astype("float64"), start, end)
    late = (outside > params["tolerance_minutes"]) & start.notna() & end.notna()  # no shift on file: never late
    if not late.any():
        return no_hits()
    rows = a[late.to_numpy()].assign(outside=outside[late])
    day = rows["local_day"].dt.strftime("%Y-%m-%d")
    group = rows.groupby([rows["user_id"], day], sort=False)["outside"]
    furthest = group.transform("max")
    at_furthest = rows["minute_of_day"].where(rows["outside"] == furthest).groupby(
        [rows["user_id"], day], sort=False).transform("max")
    evidence = ("worked in patient records outside their " + _clock(rows["shift_start"]) + "-"
                + _clock(rows["shift_end"]) + " shift{times} on " + day + ", the furthest at "
                + _clock(at_furthest.fillna(0)) + ", " + furthest.round().astype("int64").astype("string")
                + f" minutes outside it (tolerance: {params['tolerance_minutes']} minutes)")
    return hits(rows, day, evidence)


@detector("terminated_user_access")
def terminated_user_access(ctx: DetectionContext, params) -> pd.DataFrame:
    a = ctx.activity
    after = (a["local_day"] > a["termination_date"]).fillna(False).astype(bool)
    before = (a["local_day"] < a["hire_date"]).fillna(False).astype(bool) & ~after
    rows = a[after | before]
    if rows.empty:
        return no_hits()
    ended = "after their employment ended on " + rows["termination_date"].dt.strftime("%Y-%m-%d")
    hired = "before their hire date " + rows["hire_date"].dt.strftime("%Y-%m-%d")
    was_after = after[after | before]
    reason = ended.where(was_after, hired)
    unit = pd.Series(np.where(was_after, "after-termination", "before-hire"), index=rows.index)
    return hits(rows, unit, "used their account{times}{when}, " + reason)
