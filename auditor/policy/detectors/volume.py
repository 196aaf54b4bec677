"""Rules about how much: excessive-volume (distinct patients per local day against the peer group)
and bulk-export (print or export of many patients in one local day).

45 CFR 164.502(b) and 164.514(d): minimum necessary; 45 CFR 164.308(a)(1)(ii)(D): activity review.
"""

from __future__ import annotations

import pandas as pd

from auditor.policy.context import DetectionContext
from auditor.policy.detectors import detector, hits


def _user_days(accesses: pd.DataFrame) -> pd.DataFrame:
    """Distinct patients per user and local day, with the user's role and department ("" when none).
    Grouped on codes (the user ids factorised, role and department as categories): a month's ten
    million accesses are grouped without hashing a string each; the few user-days get their text back."""
    user, users = pd.factorize(accesses["user_id"], use_na_sentinel=False)
    keys = pd.DataFrame({"user": user, "local_day": accesses["local_day"], "role": _filled(accesses["role"]),
                         "department": _filled(accesses["department"]), "patient_id": accesses["patient_id"]})
    days = keys.groupby(["user", "local_day", "role", "department"], observed=True).agg(
        patients=("patient_id", "nunique")).reset_index()
    days.insert(0, "user_id", pd.Series(users.take(days.pop("user").to_numpy())).astype("string"))
    days = days.assign(role=days["role"].astype("string"), department=days["department"].astype("string"))
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
    days = out.groupby(["user_id", "local_day"]).agg(patients=("patient_id", "nunique")).reset_index()
    flagged = days[days["patients"] >= params["minimum_patients"]]
    rows = _rows_of(out, flagged, ["patients"])
    day = rows["local_day"].dt.strftime("%Y-%m-%d")
    evidence = ("printed or exported the records of " + rows["patients"].astype("string")
                + " distinct patients on " + day + f" (threshold: {params['minimum_patients']})")
    return hits(rows, day, evidence)
