"""Which explanation covers each successful patient access: the contract's seven ("Explained
accesses" and "Version 2" in ../shared/spec/interchange.md) and the privacy office's own case review,
computed on whole columns, never per event.

Clinical (they explain sensitive record types too):
1. care team at t; 2. attending of an encounter, t within [start - 7 days, end + 30 days];
3. the user's department is the encounter's department (same window);
5. an order: the user placed it, or the user's department performs it, t within [placed - 1 day,
   (completed, else placed) + 30 days];
6. an appointment not cancelled: the user is its provider, or the user's department is its
   department, t within [booked, scheduled + 14 days];
7. a document the user signed in the chart, t within 30 days either side of its signing.
Operational: 4. an operational role (billing, coding, him, registration) within [start - 30 days,
end + 90 days] of an encounter, or of an appointment not cancelled (booked to scheduled), never for a
sensitive record type. Then: case review, a read by the privacy office (one of its roles, through
the vault's gateway, for an operations purpose) of a patient named in one of the office's cases, from
the moment a finding of that case named them (45 CFR 164.308(a)(1)(ii)(D): reviewing the activity is
the office's operations). An officer who opens any other patient is explained by nothing, and the
rules find them like anyone. The windows, roles and purposes are parameters of policies/engine.yaml.

An access is credited to the first explanation that holds in EXPLANATIONS' order: the clinical ones
first (1-3, then 5-7), then the operational one, then case review; the shares a report states
follow that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.policy.frames import run_starts
from auditor.policy.templates import ApprovedTemplate, Template
from auditor.policy.templates import windows as template_windows
from auditor.policy.typed_frames import (APPOINTMENT_COLUMNS, AUTHORED_COLUMNS, ORDER_COLUMNS, typed_appointments,
                                         typed_authored, typed_orders)
from auditor.vault.gateway.context import OWN_SOURCE

EXPLANATIONS = ("care_team", "attending", "department", "order", "appointment", "document", "operational",
                "approved", "case_review")
CLINICAL = ("care_team", "attending", "department", "order", "appointment", "document")
_OPEN_END = pd.Timestamp("2262-01-01", tz="UTC")  # a care-team membership without an end


@dataclass(frozen=True)
class ExplanationPolicy:
    clinical_days_before: int = 7
    clinical_days_after: int = 30
    operational_days_before: int = 30
    operational_days_after: int = 90
    order_days_before: int = 1  # 5. orders: [placed - 1 day, (completed, else placed) + 30 days]
    order_days_after: int = 30
    appointment_days_before: int = 0  # 6. appointments: [booked, scheduled + 14 days]
    appointment_days_after: int = 14
    document_days_before: int = 30  # 7. documents signed: 30 days either side
    document_days_after: int = 30
    cancelled_statuses: frozenset[str] = frozenset({"cancelled"})  # an appointment with one explains nothing
    # explanation templates a privacy officer approved into the site's policy (auditor.policy.templates)
    approved: tuple[ApprovedTemplate, ...] = ()
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
    column into the same codes. A categorical column (departments) codes on its categories.
    The columns passed by name are coded as the table is made (one hashing of them all): `held[name]`."""

    def __init__(self, *unnamed: pd.Series, **named: pd.Series):
        held = [*unnamed, *named.values()]
        self.categories = held[0].dtype if isinstance(held[0].dtype, pd.CategoricalDtype) else None
        self.held: dict[str, np.ndarray] = {}
        if self.categories is None:  # integer ids
            ints = [_ints(v) for v in held]
            codes, distinct = pd.factorize(np.concatenate([v[~m] for v, m in ints]))
            self.index = pd.Index(distinct)
            start = sum(int((~m).sum()) for _, m in ints[:len(unnamed)])
            for name, (_, missing) in zip(named, ints[len(unnamed):]):
                self.held[name] = np.full(len(missing), -1, dtype=np.int64)
                self.held[name][~missing] = codes[start:start + int((~missing).sum())]
                start += int((~missing).sum())

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
    """One int64 per row, equal exactly when every column's code is; -1 when any value is unknown."""
    return _combined(coders, [coder.codes(column) for coder, column in zip(coders, columns)])


def _combined(coders: list[_Coder], codes: list[np.ndarray]) -> np.ndarray:
    """_key of columns already coded by `coders`. (Each width is at most the windows' rows, so two
    columns' product stays far below 2**63.)"""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    unknown = np.zeros(len(key), dtype=bool)
    for coder, coded in zip(coders, codes):
        unknown |= coded < 0
        key = key * coder.width + coded
    key[unknown] = -1
    return key


class _Coded:
    """The accesses' key columns, each coded once, when a try first asks for it: every try and the
    under-care check read their rows' codes from here rather than looking the ids up again (the
    lookups were half of explain's time on a month of ten million accesses)."""

    def __init__(self, accesses: pd.DataFrame):
        self.accesses, self.done = accesses, {}

    def __call__(self, coder: _Coder, column: str) -> np.ndarray:
        key = (id(coder), column)  # the coders live as long as explain's call, so their ids stay theirs
        if key not in self.done:
            self.done[key] = coder.codes(self.accesses[column])
        return self.done[key]


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


def _window(start: pd.Series, end: pd.Series, before: int, after: int) -> tuple[pd.Series, pd.Series]:
    return start - pd.Timedelta(days=before), end + pd.Timedelta(days=after)


def _encounter_window(encounters: pd.DataFrame, before: int, after: int) -> tuple[pd.Series, pd.Series]:
    return _window(encounters["start"], encounters["end"], before, after)


def _as_encounters(encounters: pd.DataFrame, appointments: pd.DataFrame) -> pd.DataFrame:
    """Rule 4's encounters: the encounters, and each appointment not cancelled from booked to scheduled."""
    booked = pd.DataFrame({"patient_id": appointments["patient_id"], "start": appointments["booked_at"],
                           "end": appointments["scheduled_for"]})
    if booked.empty:
        return encounters[["patient_id", "start", "end"]]
    return pd.concat([encounters[["patient_id", "start", "end"]], booked], ignore_index=True)


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


@dataclass(frozen=True)
class TreatmentData:
    """What explains an access besides the encounters and the care team (contract version 2; empty
    frames when an export has none): orders, appointments and documents signed in a chart, typed as
    auditor.policy.frames makes them."""

    orders: pd.DataFrame
    appointments: pd.DataFrame
    authored: pd.DataFrame
    workforce: pd.DataFrame | None = None  # the members' departments, for the approved templates


READS = ("patient_id", "workforce_id", "department", "at", "role", "record_type", "source", "event_role", "purpose")
"""The accesses' columns explain reads: a caller may hand it only these."""


def explain(accesses: pd.DataFrame, encounters: pd.DataFrame, care_team: pd.DataFrame,
            policy: ExplanationPolicy, case_patients: pd.DataFrame | None = None,
            more: TreatmentData | None = None) -> pd.DataFrame:
    """One row per access (same index): `explained_by` (the first explanation that holds, in
    EXPLANATIONS' order), `explained` and `clinically_explained` (the clinical rules only).
    `case_patients`: the patients named in the office's cases and since when (patient_id, since).
    `more`: orders, appointments and authored documents (rules 5 to 7).
    Each explanation
    is tried only on the accesses the ones before it left unexplained: the answer is the same, and
    most of a month is explained by the first two, so the later lookups stay small.

    On whole columns: every key is coded once (`_Coder`), each explanation's windows are sorted by
    key, and each access is paired with the windows of its own key only. (A pandas merge of ten
    million accesses hashed all of them into a table of their own, and took five times as long.)"""
    cases = _no_cases() if case_patients is None else case_patients
    more = more or _no_more()
    orders, authored = more.orders, more.authored
    booked = more.appointments[~more.appointments["status"].isin(policy.cancelled_statuses).to_numpy(dtype=bool)]
    patients = _Coder(encounters=encounters["patient_id"], care_team=care_team["patient_id"], cases=cases["patient_id"],
                      orders=orders["patient_id"], booked=booked["patient_id"], authored=authored["patient_id"])
    staff = _Coder(encounters=encounters["attending_id"], care_team=care_team["workforce_id"],
                   orders=orders["ordering_id"], booked=booked["provider_id"], authored=authored["author_id"])
    departments = _Coder(accesses["department"].astype("category"))  # categorical already, from the workforce
    pid, by = patients.held, staff.held
    clinical = _encounter_window(encounters, policy.clinical_days_before, policy.clinical_days_after)
    as_encounters = _as_encounters(encounters, booked)
    operational = _encounter_window(as_encounters, policy.operational_days_before, policy.operational_days_after)
    ordered = _window(orders["placed_at"], orders["completed_at"].fillna(orders["placed_at"]),
                      policy.order_days_before, policy.order_days_after)
    appointed = _window(booked["booked_at"], booked["scheduled_for"], policy.appointment_days_before,
                        policy.appointment_days_after)
    signed = _window(authored["signed_at"], authored["signed_at"], policy.document_days_before,
                     policy.document_days_after)
    by_user, by_department = ["patient_id", "workforce_id"], ["patient_id", "department"]
    both, with_department = [patients, staff], [patients, departments]
    tries = (  # (the windows, the coders of their keys, the accesses' key columns, the accesses it may explain)
        (_Windows.of(_combined(both, [pid["care_team"], by["care_team"]]),
                     care_team["start"], care_team["end"].fillna(_OPEN_END)), both, by_user, None),
        (_Windows.of(_combined(both, [pid["encounters"], by["encounters"]]), *clinical), both, by_user, None),
        (_Windows.of(_combined(with_department, [pid["encounters"], departments.codes(encounters["department"])]),
                     *clinical),
         with_department, by_department, None),
        # 5. an order the user placed, or that the user's department performs
        (_Windows.of(_combined(both, [pid["orders"], by["orders"]]), *ordered), both, by_user, None),
        (_Windows.of(_combined(with_department, [pid["orders"], departments.codes(orders["performing_department"])]),
                     *ordered),
         with_department, by_department, None),
        # 6. an appointment not cancelled, of which the user is the provider, or in the user's department
        (_Windows.of(_combined(both, [pid["booked"], by["booked"]]), *appointed), both, by_user, None),
        (_Windows.of(_combined(with_department, [pid["booked"], departments.codes(booked["department"])]), *appointed),
         with_department, by_department, None),
        # 7. a document the user signed in the chart
        (_Windows.of(_combined(both, [pid["authored"], by["authored"]]), *signed), both, by_user, None),
        # 4. operational roles only, never for a sensitive record type
        (_Windows.of(_combined([patients], [np.concatenate([pid["encounters"], pid["booked"]])]), *operational),
         [patients], ["patient_id"],
         (accesses["role"].isin(policy.operational_roles)
          & ~accesses["record_type"].isin(policy.sensitive_record_types)).to_numpy()),
    )
    # the explanation each try credits (two tries each for orders and appointments: the user, the department)
    credits = [EXPLANATIONS.index(name) for name in ("care_team", "attending", "department", "order", "order",
                                                     "appointment", "appointment", "document", "operational")]
    at, no_time = _micros(accesses["at"])
    coded = _Coded(accesses)
    first = np.full(len(accesses), -1, dtype=np.int8)  # the explanation's position in EXPLANATIONS
    for code, (windows, coders, on, only) in zip(credits, tries):
        _try(first, code, windows, coders, [coded(coder, c) for coder, c in zip(coders, on)], only, at, no_time)
    if policy.approved:  # never a sensitive record type; colleague_first reads what the clinical ones explained
        plain = ~accesses["record_type"].isin(policy.sensitive_record_types).to_numpy(dtype=bool)
        clinically = (first >= 0) & (first < len(CLINICAL))
        workforce = more.workforce if more.workforce is not None else _no_workforce()
        for approved in policy.approved:
            rows = np.flatnonzero((first < 0) & ~no_time & plain)
            if len(rows):
                hit = template_explains(approved.template, accesses, workforce, encounters, care_team, clinically, rows)
                first[rows[hit]] = EXPLANATIONS.index("approved")
    # case review: from the moment a finding named the patient, for as long as the office keeps the case
    _try(first, EXPLANATIONS.index("case_review"),
         _Windows.of(_combined([patients], [pid["cases"]]), cases["since"], pd.Series(_OPEN_END, index=cases.index)),
         [patients], [coded(patients, "patient_id")], _case_review(accesses, policy), at, no_time)
    out = pd.DataFrame(index=accesses.index)
    out["explained_by"] = pd.Categorical.from_codes(first, categories=list(EXPLANATIONS))
    out["clinically_explained"] = (first >= 0) & (first < len(CLINICAL))
    out["explained"] = first >= 0
    out["under_care"] = _under_care(first, patients, coded(patients, "patient_id"), at, no_time,
                                    [clinical, ordered, appointed],
                                    [pid["encounters"], pid["orders"], pid["booked"]])
    return out


def _under_care(first: np.ndarray, patients: _Coder, patient: np.ndarray, at: np.ndarray, no_time: np.ndarray,
                windows: list[tuple[pd.Series, pd.Series]], of: list[np.ndarray]) -> np.ndarray:
    """Was the patient in the organisation's care when accessed: within the clinical window of one of
    their encounters, or the window of one of their orders or appointments, whoever's it was (rules 2-3,
    5-6 without the user). Every explained access is; for the rest it tells an access to a patient of
    another department (a consult, a question) from one to someone the hospital was not treating.
    `of`: each window table's patients, coded by `patients`."""
    care = np.ones(len(first), dtype=bool)
    rows = np.flatnonzero((first < 0) & ~no_time)
    held = [(lo, hi, patient) for (lo, hi), patient in zip(windows, of) if len(patient)]
    care[rows] = False
    if len(rows) and held:
        lo, hi, held_by = zip(*held)
        windows_ = _Windows.of(_combined([patients], [np.concatenate(held_by)]), pd.concat(lo, ignore_index=True),
                               pd.concat(hi, ignore_index=True))
        care[rows] = windows_.cover(_combined([patients], [patient[rows]]), at[rows])
    care[no_time] = False
    return care


def _try(first: np.ndarray, code: int, windows: _Windows, coders: list[_Coder], codes: list[np.ndarray],
         only: np.ndarray | None, at: np.ndarray, no_time: np.ndarray) -> None:
    """Credit `code` to each access not yet explained (among `only`) that one of `windows` covers
    (`codes`: the accesses' key columns, coded by `coders`)."""
    open_ = (first < 0) & ~no_time
    if only is not None:
        open_ &= only
    rows = np.flatnonzero(open_)
    if len(rows):
        key = _combined(coders, [c[rows] for c in codes])
        first[rows[windows.cover(key, at[rows])]] = code


def template_explains(template: Template, accesses: pd.DataFrame, workforce: pd.DataFrame, encounters: pd.DataFrame,
                      care_team: pd.DataFrame, clinically: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For the accesses at positions `rows`: does `template` explain each (its patient and the user's
    department in one of the template's windows at the access's time)."""
    patient, department, lo, hi = template_windows(template, accesses, workforce, encounters, care_team, clinically)
    patients = _Coder(patient.astype("Int64"))
    departments = _Coder(accesses["department"].astype("category"))
    windows = _Windows.of(_key([patients, departments], [patient, department]), lo, hi)
    at, _ = _micros(accesses["at"].iloc[rows])
    return windows.cover(_key([patients, departments], [accesses["patient_id"].iloc[rows],
                                                        accesses["department"].iloc[rows]]), at)


def _no_workforce() -> pd.DataFrame:
    return pd.DataFrame({"workforce_id": pd.Series([], dtype="Int64"), "department": pd.Series([], dtype="string")})


def _no_more() -> TreatmentData:
    empty = lambda columns: pd.DataFrame({name: [] for name in columns}, dtype=object)  # noqa: E731
    return TreatmentData(typed_orders(empty(ORDER_COLUMNS)), typed_appointments(empty(APPOINTMENT_COLUMNS)),
                         typed_authored(empty(AUTHORED_COLUMNS)))


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
