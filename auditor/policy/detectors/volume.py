"""Rules about how much: excessive-volume (distinct patients per local day against the peer group)
and bulk-export (print or export of many patients in one local day).

45 CFR 164.502(b) and 164.514(d): minimum necessary; 45 CFR 164.308(a)(1)(ii)(D): activity review.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from auditor.policy.context import DetectionContext
from auditor.policy.detectors import detector, hits, no_hits
from auditor.policy.frames import run_starts

INT64_LIMIT = 2**63  # combined codes must stay below it


def _user_days(accesses: pd.DataFrame, limit: int = INT64_LIMIT) -> pd.DataFrame:
    """Distinct patients per user and local day, with the user's role and department ("" when none).
    Counted on codes, not strings: each access becomes one int64 for its (user, day, role, department,
    patient), the distinct ones are kept, and those of each user-day counted. A month's ten million
    accesses are a few million distinct pairs; only the few hundred thousand user-days get text back.
    `limit`: where combined codes overflow (tests lower it to reach the overflow paths with few rows)."""
    parts = [pd.factorize(accesses["user_id"], use_na_sentinel=False),  # an account without an id is one user
             pd.factorize(accesses["local_day"])]
    for name in ("role", "department"):
        filled = _filled(accesses[name])
        parts.append((filled.cat.codes.to_numpy(), filled.cat.categories))
    patient, patients = pd.factorize(accesses["patient_id"])
    counted = (patient >= 0) & (parts[1][0] >= 0)  # as groupby and nunique: no day or no patient, not counted
    width = math.prod(len(values) for _, values in parts)
    if width >= limit:
        raise ValueError("too many users, days, roles and departments to count distinct patients in one pass")
    group = np.zeros(int(counted.sum()), dtype=np.int64)
    for codes, values in parts:
        group = group * len(values) + codes[counted]
    known = None
    if width * max(len(patients), 1) >= limit:  # (group, patient) overflows int64: number the groups first
        group, known = pd.factorize(group)
    # sorted, the distinct (group, patient) pairs are where a value changes, and so are the groups
    # (a sort of ten million int64 is several times cheaper than hashing them: most are distinct)
    pairs = np.sort(group * len(patients) + patient[counted])
    of_pair = pairs[run_starts(pairs)] // max(len(patients), 1)
    starts = np.flatnonzero(run_starts(of_pair))
    groups, count = of_pair[starts], np.diff(np.append(starts, len(of_pair)))
    if known is not None:
        groups = known[groups]
    columns = {}
    for (_, values), name in reversed(list(zip(parts, ("user_id", "local_day", "role", "department")))):
        groups, at = np.divmod(groups, len(values))
        columns[name] = values.take(at)
    days = pd.DataFrame({"user_id": pd.Series(columns["user_id"], dtype="string"),
                         "local_day": pd.Series(columns["local_day"]),
                         "role": pd.Series(columns["role"], dtype="string"),
                         "department": pd.Series(columns["department"], dtype="string"), "patients": count})
    return days.sort_values(["user_id", "local_day", "role", "department"]).reset_index(drop=True)


def _filled(values: pd.Series) -> pd.Series:
    """A text column as categories, "" for none."""
    values = values.astype("category")
    if "" not in values.cat.categories:
        values = values.cat.add_categories([""])
    return values.fillna("")


def _rows_of(accesses: pd.DataFrame, flagged: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The accesses of the flagged user-days, each with the user-day's `columns`."""
    merged = accesses[["user_id", "local_day"]].reset_index(names="event").merge(
        flagged[["user_id", "local_day", *columns]], on=["user_id", "local_day"])
    return merged.set_index("event")


@detector("excessive_volume", {"peer_multiple": "number", "minimum_patients": "int"})
def excessive_volume(ctx: DetectionContext, params) -> pd.DataFrame:
    days = _user_days(ctx.accesses)
    # the peer median: all active user-days in the period of users with the same role and department
    days["peer_median"] = days.groupby(["role", "department"])["patients"].transform("median")
    flagged = days[(days["patients"] >= params["peer_multiple"] * days["peer_median"])
                   & (days["patients"] >= params["minimum_patients"])]
    if flagged.empty:
        return no_hits()
    rows = _rows_of(ctx.accesses, flagged, ["patients", "peer_median", "role", "department"])
    day = rows["local_day"].dt.strftime("%Y-%m-%d")
    ratio = (rows["patients"] / rows["peer_median"]).round(1).astype("string")
    peers = rows["role"] + " staff in " + rows["department"].where(rows["department"] != "", "no department")
    evidence = ("opened the charts of " + rows["patients"].astype("string") + " distinct patients on " + day
                + ", " + ratio + " times the median of " + rows["peer_median"].astype("string") + " for "
                + peers + f" (threshold: {params['peer_multiple']} times the median and at least "
                + f"{params['minimum_patients']})")
    return hits(rows, day, evidence)


@detector("bulk_export", {"actions": "strings", "minimum_patients": "int"})
def bulk_export(ctx: DetectionContext, params) -> pd.DataFrame:
    out = ctx.accesses[ctx.accesses["action"].isin(params["actions"])]
    if out.empty:
        return no_hits()
    days = out.groupby(["user_id", "local_day"]).agg(patients=("patient_id", "nunique")).reset_index()
    flagged = days[days["patients"] >= params["minimum_patients"]]
    if flagged.empty:
        return no_hits()
    rows = _rows_of(out, flagged, ["patients"])
    day = rows["local_day"].dt.strftime("%Y-%m-%d")
    evidence = ("printed or exported the records of " + rows["patients"].astype("string")
                + " distinct patients on " + day + f" (threshold: {params['minimum_patients']})")
    return hits(rows, day, evidence)
