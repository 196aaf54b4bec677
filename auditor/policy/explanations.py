"""Which explanation covers each successful patient access: the contract's four ("Explained
accesses" in ../shared/spec/interchange.md) and the privacy office's own case review, computed on
whole columns, never per event.

1. care team at t; 2. attending of an encounter, t within [start - 7 days, end + 30 days];
3. the user's department is the encounter's department (same window); 4. an operational role
(billing, coding, him, registration) within [start - 30 days, end + 90 days], not for sensitive
record types; 5. case review: a read by the privacy office (one of its roles, through the vault's
gateway, for an operations purpose) of a patient named in one of the office's cases, from the moment
a finding of that case named them (45 CFR 164.308(a)(1)(ii)(D): reviewing the activity is the
office's operations). An officer who opens any other patient is explained by nothing, and the rules
find them like anyone. The windows, roles and purposes are parameters of policies/engine.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.policy.frames import run_starts
from auditor.vault.gateway.context import OWN_SOURCE

EXPLANATIONS = ("care_team", "attending", "department", "operational", "case_review")
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
    # 5. case review: the privacy office's roles, and the operations purposes (HL7 v3) they read for
    case_review_roles: frozenset[str] = frozenset({"privacy_officer", "investigator"})
    case_review_purposes: frozenset[str] = frozenset({"HOPERAT", "HCOMPL", "HLEGAL", "RECORDMGT", "PATSFTY", "FRAUD",
                                                      "TRAIN"})


def _ints(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A nullable integer column as plain int64 values and a mask of the missing ones."""
    missing = values.isna().to_numpy()
    return values.to_numpy(dtype=np.int64, na_value=0), missing


class _Coder:
    """Codes for one key column: positions among the distinct values the windows hold (-1: a value
    no window has, or none). The ten million accesses are looked up once, in a table of the few
    hundred thousand ids the encounters and care team hold; each window table maps its own (small)
    column into the same codes. A categorical column (departments) codes on its categories."""

    def __init__(self, *held: pd.Series):
        self.categories = held[0].dtype if isinstance(held[0].dtype, pd.CategoricalDtype) else None
        if self.categories is None:  # integer ids
            self.index = pd.Index(pd.unique(np.concatenate([v[~m] for v, m in map(_ints, held)])))

    @property
    def width(self) -> int:
        return len(self.categories.categories) if self.categories is not None else len(self.index)

    def codes(self, values: pd.Series) -> np.ndarray:
        if self.categories is None:
            ints, missing = _ints(values)
            codes = self.index.get_indexer(ints).astype(np.int64)
            codes[missing] = -1
            return codes
        if values.dtype == self.categories:
            return values.cat.codes.to_numpy(np.int64)
        # the encounters' departments (a few hundred thousand strings) on the accesses' categories
        return self.categories.categories.get_indexer(values.to_numpy(dtype=object, na_value=None)).astype(np.int64)


def _key(coders: list[_Coder], columns: list[pd.Series]) -> np.ndarray:
    """One int64 per row, equal exactly when every column's code is; -1 when any value is unknown.
    (Each width is at most the windows' rows, so two columns' product stays far below 2**63.)"""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    unknown = np.zeros(len(key), dtype=bool)
    for coder, column in zip(coders, columns):
        codes = coder.codes(column)
        unknown |= codes < 0
        key = key * coder.width + codes
    key[unknown] = -1
    return key


def _micros(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTC timestamps as int64 microseconds, and a mask of the missing ones (NaT compares false)."""
    return values.dt.as_unit("us").array.asi8.copy(), values.isna().to_numpy()


@dataclass
class _Windows:
    """One explanation's windows, sorted by key: rows [starts[k], ends[k]) hold key k's windows."""

    keys: np.ndarray  # the distinct keys, sorted
    starts: np.ndarray
    ends: np.ndarray
    lo: np.ndarray  # int64 microseconds, in key order
    hi: np.ndarray

    @classmethod
    def of(cls, key: np.ndarray, lo: pd.Series, hi: pd.Series) -> _Windows:
        (lo_us, lo_na), (hi_us, hi_na) = _micros(lo), _micros(hi)
        keep = (key >= 0) & ~lo_na & ~hi_na
        key, lo_us, hi_us = key[keep], lo_us[keep], hi_us[keep]
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(run_starts(key))
        ends = np.append(starts[1:], len(key))[: len(starts)]
        return cls(key[starts], starts.astype(np.int64), ends.astype(np.int64), lo_us[order], hi_us[order])

    def cover(self, key: np.ndarray, at: np.ndarray) -> np.ndarray:
        """For each (key, at): is `at` within [lo, hi] of some window with the same key."""
        slot = pd.Index(self.keys).get_indexer(key) if len(self.keys) else np.full(len(key), -1)
        asked = np.flatnonzero((slot >= 0) & (key >= 0))
        slot = slot[asked]
        count = self.ends[slot] - self.starts[slot]
        row = np.repeat(asked, count)  # one (access, window) pair per window of the access's key
        window = np.repeat(self.starts[slot] - np.cumsum(count) + count, count) + np.arange(len(row))
        t = at[row]
        hit = np.zeros(len(key), dtype=bool)
        hit[row[(self.lo[window] <= t) & (t <= self.hi[window])]] = True
        return hit


def _encounter_window(encounters: pd.DataFrame, before: int, after: int) -> tuple[pd.Series, pd.Series]:
    return encounters["start"] - pd.Timedelta(days=before), encounters["end"] + pd.Timedelta(days=after)


def _case_review(accesses: pd.DataFrame, policy: ExplanationPolicy) -> np.ndarray:
    """The accesses that may be case review: the vault's own events (the gateway checked the staff
    account and the role it acted in; an export's role column is only the export's word), in one of
    the office's roles, for one of its purposes."""
    return ((accesses["source"] == OWN_SOURCE).to_numpy(dtype=bool)
            & accesses["event_role"].isin(policy.case_review_roles).to_numpy(dtype=bool)
            & accesses["purpose"].isin(policy.case_review_purposes).to_numpy(dtype=bool))


def _no_cases() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pd.Series([], dtype="Int64"),
                         "since": pd.Series([], dtype="datetime64[us, UTC]")})


def explain(accesses: pd.DataFrame, encounters: pd.DataFrame, care_team: pd.DataFrame,
            policy: ExplanationPolicy, case_patients: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per access (same index): `explained_by` (the first explanation that holds, in the
    contract's order, case review last), `explained` and `clinically_explained` (rules 1 to 3 only).
    `case_patients`: the patients named in the office's cases and since when (patient_id, since).
    Each explanation
    is tried only on the accesses the ones before it left unexplained: the answer is the same, and
    most of a month is explained by the first two, so the later lookups stay small.

    On whole columns: every key is coded once (`_Coder`), each explanation's windows are sorted by
    key, and each access is paired with the windows of its own key only. (A pandas merge of ten
    million accesses hashed all of them into a table of their own, and took five times as long.)"""
    cases = _no_cases() if case_patients is None else case_patients
    patients = _Coder(encounters["patient_id"], care_team["patient_id"], cases["patient_id"])
    staff = _Coder(encounters["attending_id"], care_team["workforce_id"])
    departments = _Coder(accesses["department"].astype("category"))  # categorical already, from the workforce
    clinical = _encounter_window(encounters, policy.clinical_days_before, policy.clinical_days_after)
    operational = _encounter_window(encounters, policy.operational_days_before, policy.operational_days_after)
    tries = (  # (the windows, the coders of their keys, the accesses' key columns, the accesses it may explain)
        (_Windows.of(_key([patients, staff], [care_team["patient_id"], care_team["workforce_id"]]),
                     care_team["start"], care_team["end"].fillna(_OPEN_END)),
         [patients, staff], ["patient_id", "workforce_id"], None),
        (_Windows.of(_key([patients, staff], [encounters["patient_id"], encounters["attending_id"]]), *clinical),
         [patients, staff], ["patient_id", "workforce_id"], None),
        (_Windows.of(_key([patients, departments], [encounters["patient_id"], encounters["department"]]), *clinical),
         [patients, departments], ["patient_id", "department"], None),
        # rule 4 is for operational roles only, and never explains a sensitive record type
        (_Windows.of(_key([patients], [encounters["patient_id"]]), *operational), [patients], ["patient_id"],
         (accesses["role"].isin(policy.operational_roles)
          & ~accesses["record_type"].isin(policy.sensitive_record_types)).to_numpy()),
        # 5. case review: from the moment a finding named the patient, for as long as the office keeps the case
        (_Windows.of(_key([patients], [cases["patient_id"]]), cases["since"],
                     pd.Series(_OPEN_END, index=cases.index)),
         [patients], ["patient_id"], _case_review(accesses, policy)),
    )
    at, no_time = _micros(accesses["at"])
    first = np.full(len(accesses), -1, dtype=np.int8)  # the explanation's position in EXPLANATIONS
    for code, (windows, coders, on, only) in enumerate(tries):
        open_ = (first < 0) & ~no_time
        if only is not None:
            open_ &= only
        rows = np.flatnonzero(open_)
        if len(rows):
            key = _key(coders, [accesses[c].iloc[rows] for c in on])
            first[rows[windows.cover(key, at[rows])]] = code
    out = pd.DataFrame(index=accesses.index)
    out["explained_by"] = pd.Categorical.from_codes(first, categories=list(EXPLANATIONS))
    out["clinically_explained"] = (first >= 0) & (first < len(CLINICAL))
    out["explained"] = first >= 0
    return out


def explained_share(explanations: pd.DataFrame) -> float | None:
    """The share of successful patient accesses that one of the explanations covers."""
    return None if explanations.empty else float(explanations["explained"].mean())


def shares_by_explanation(explanations: pd.DataFrame) -> dict[str, float]:
    """Each explanation (in EXPLANATIONS' order) -> the share of successful patient accesses it is the
    first to explain; they add up to explained_share. The contract asks a report to state them."""
    if explanations.empty:
        return {}
    counts = explanations["explained_by"].value_counts()
    return {name: float(counts.get(name, 0)) / len(explanations) for name in EXPLANATIONS}


def shares_text(shares: dict[str, float]) -> str:
    """'care team 41.2%, attending 20.3%, ...' (the explanations that explain anything)."""
    return ", ".join(f"{name.replace('_', ' ')} {share:.1%}" for name, share in shares.items() if share)
