"""Which of the contract's four explanations covers each successful patient access ("Explained
accesses" in ../shared/spec/interchange.md), computed with merges on whole frames, never per event.

1. care team at t; 2. attending of an encounter, t within [start - 7 days, end + 30 days];
3. the user's department is the encounter's department (same window); 4. an operational role
(billing, coding, him, registration) within [start - 30 days, end + 90 days], not for sensitive
record types. The windows are parameters of policies/engine.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EXPLANATIONS = ("care_team", "attending", "department", "operational")
CLINICAL = ("care_team", "attending", "department")
_OPEN_END = pd.Timestamp("2262-01-01", tz="UTC")  # a care-team membership without an end


@dataclass(frozen=True)
class ExplanationPolicy:
    clinical_days_before: int = 7
    clinical_days_after: int = 30
    operational_days_before: int = 30
    operational_days_after: int = 90
    operational_roles: frozenset[str] = frozenset({"billing", "coding", "him", "registration"})
    sensitive_record_types: frozenset[str] = frozenset({"psychotherapy_note", "substance_use", "hiv", "genetic"})


def _within(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> np.ndarray:
    """Labels of `left` rows with a `right` row on the same keys whose [lo, hi] contains left's `at`
    (each once)."""
    left = left.dropna(subset=on)
    right = right.dropna(subset=on)
    if left.empty or right.empty:
        return np.array([], dtype="int64")
    left_key, right_key = _joint_key([left[c] for c in on], [right[c] for c in on])
    pairs = pd.DataFrame({"_key": left_key, "at": left["at"].array, "_row": left.index.to_numpy()}).merge(
        pd.DataFrame({"_key": right_key, "lo": right["lo"].array, "hi": right["hi"].array}), on="_key")
    inside = (pairs["lo"] <= pairs["at"]) & (pairs["at"] <= pairs["hi"])
    return pairs.loc[inside, "_row"].unique()


def _joint_key(left: list[pd.Series], right: list[pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per row for several key columns, equal exactly when every column is: each column
    factorised over both sides together, the codes then combined. A join on one plain integer is
    several times cheaper than on two nullable or categorical columns of ten million rows."""
    n = len(left[0])
    lkey, rkey = np.zeros(n, dtype=np.int64), np.zeros(len(right[0]), dtype=np.int64)
    for a, b in zip(left, right):
        if isinstance(a.dtype, pd.CategoricalDtype) and a.dtype == b.dtype:
            ca, cb, width = a.cat.codes.to_numpy(np.int64), b.cat.codes.to_numpy(np.int64), len(a.cat.categories)
        else:
            codes, distinct = pd.factorize(pd.concat([a, b], ignore_index=True))
            ca, cb, width = codes[:n].astype(np.int64), codes[n:].astype(np.int64), len(distinct)
        lkey, rkey = lkey * width + ca, rkey * width + cb
    return lkey, rkey


def _encounter_window(encounters: pd.DataFrame, before: int, after: int) -> pd.DataFrame:
    return encounters.assign(lo=encounters["start"] - pd.Timedelta(days=before),
                             hi=encounters["end"] + pd.Timedelta(days=after))


def explain(accesses: pd.DataFrame, encounters: pd.DataFrame, care_team: pd.DataFrame,
            policy: ExplanationPolicy) -> pd.DataFrame:
    """One row per access (same index): `explained_by` (the first explanation that holds, in the
    contract's order), `explained` and `clinically_explained` (rules 1 to 3 only). Each explanation
    is tried only on the accesses the ones before it left unexplained: the answer is the same, and
    most of a month is explained by the first two, so the later joins stay small."""
    keys = accesses[["patient_id", "workforce_id", "department", "role", "record_type", "at"]]
    if isinstance(keys["department"].dtype, pd.CategoricalDtype):  # join on the same codes, not on strings
        known = encounters["department"].where(encounters["department"].isin(keys["department"].cat.categories))
        encounters = encounters.assign(department=pd.Categorical(known, dtype=keys["department"].dtype))
    first = np.full(len(keys), "", dtype=object)
    team = care_team.assign(lo=care_team["start"], hi=care_team["end"].fillna(_OPEN_END))
    clinical = _encounter_window(encounters, policy.clinical_days_before, policy.clinical_days_after)
    operational = _encounter_window(encounters, policy.operational_days_before, policy.operational_days_after)
    # rule 4 is for operational roles only, and never explains a sensitive record type
    operational_access = (keys["role"].isin(policy.operational_roles)
                          & ~keys["record_type"].isin(policy.sensitive_record_types)).to_numpy()
    tries = (("care_team", team, ["patient_id", "workforce_id"], None),
             ("attending", clinical.rename(columns={"attending_id": "workforce_id"}), ["patient_id", "workforce_id"], None),
             ("department", clinical, ["patient_id", "department"], None),
             ("operational", operational, ["patient_id"], operational_access))
    keys = keys.reset_index(drop=True)  # labels are positions from here on
    for name, windows, on, only in tries:
        open_ = first == ""
        if only is not None:
            open_ &= only
        first[_within(keys[open_], windows, on)] = name
    out = pd.DataFrame(index=accesses.index)
    out["explained_by"] = pd.Categorical(np.where(first == "", None, first), categories=list(EXPLANATIONS))
    out["clinically_explained"] = np.isin(first, CLINICAL)
    out["explained"] = first != ""
    return out


def explained_share(explanations: pd.DataFrame) -> float | None:
    """The share of successful patient accesses that one of the four explanations covers."""
    return None if explanations.empty else float(explanations["explained"].mean())
