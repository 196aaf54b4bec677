"""The windows the explanations (auditor.policy.explanations) look each access up in, made from the
context tables and kept.

Every key is coded once (`Coder`): the patients, staff and departments the tables hold are numbered in
one hashing of them all, and the ten million accesses are looked up in those numbers, never merged on
their ids. Each explanation's windows are sorted by key (`Windows`), and an access is paired with the
windows of its own key only.

`ExplanationWindows` makes each explanation's windows when first asked and keeps them by the policy
values they depend on. A month judged in partitions (auditor.cluster.local_partitions) makes them once
for the month, and every partition looks its accesses up in them: each window's key holds its patient,
and a partition's accesses name only patients whose context the partition holds, so the answer is the
partition's own. unusual-access's lateness asks again with shorter clinical and operational windows
(auditor.policy.detectors.peers): only those are made anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from auditor.policy.frames import run_starts
from auditor.policy.typed_frames import (APPOINTMENT_COLUMNS, AUTHORED_COLUMNS, ORDER_COLUMNS, typed_appointments,
                                         typed_authored, typed_orders)

OPEN_END = pd.Timestamp("2262-01-01", tz="UTC")  # a care-team membership without an end


def _values(values: pd.Series, text: bool) -> tuple[np.ndarray, np.ndarray]:
    """A column's values (int64 ids, or objects for text) and a mask of the missing ones."""
    missing = values.isna().to_numpy()
    if text:
        return values.to_numpy(dtype=object, na_value=None), missing
    return values.to_numpy(dtype=np.int64, na_value=0), missing


class Coder:
    """Codes for one key column: positions among the distinct values the windows hold (-1: a value
    no window has, or none). The columns passed by name are coded as the table of distinct values is
    made (one hashing of them all): `held[name]`. Text is coded as categories (`categories`), so that a
    categorical column of the accesses (the users' departments) is coded on its few categories, not
    value by value. A coder of one categorical column codes on its categories."""

    def __init__(self, *unnamed: pd.Series, text: bool = False, **named: pd.Series):
        held = [*unnamed, *named.values()]
        self.categories = held[0].dtype if len(held) == 1 and isinstance(held[0].dtype, pd.CategoricalDtype) else None
        self.held: dict[str, np.ndarray] = {}
        self.index = pd.Index([])
        if self.categories is not None:
            return
        values = [_values(v, text) for v in held]
        codes, distinct = pd.factorize(np.concatenate([v[~m] for v, m in values]))
        if text:
            self.categories = pd.CategoricalDtype(pd.Index(distinct, dtype=object))
        else:
            self.index = pd.Index(distinct)
        start = sum(int((~m).sum()) for _, m in values[:len(unnamed)])
        for name, (_, missing) in zip(named, values[len(unnamed):]):
            self.held[name] = np.full(len(missing), -1, dtype=np.int64)
            self.held[name][~missing] = codes[start:start + int((~missing).sum())]
            start += int((~missing).sum())

    @property
    def width(self) -> int:
        return len(self.categories.categories) if self.categories is not None else len(self.index)

    def codes(self, values: pd.Series) -> np.ndarray:
        if self.categories is None:
            ints, missing = _values(values, False)
            codes = self.index.get_indexer(ints).astype(np.int64) if len(self.index) else np.full(len(ints), -1)
            codes[missing] = -1
            return codes
        if values.dtype == self.categories:
            return values.cat.codes.to_numpy(np.int64)
        if isinstance(values.dtype, pd.CategoricalDtype):  # its categories looked up, not its values
            found = self.categories.categories.get_indexer(values.cat.categories.to_numpy(dtype=object))
            codes = values.cat.codes.to_numpy(np.int64)
            return np.where(codes >= 0, found[np.maximum(codes, 0)] if len(found) else -1, -1)
        return self.categories.categories.get_indexer(values.to_numpy(dtype=object, na_value=None)).astype(np.int64)


def key_of(coders: list[Coder], columns: list[pd.Series]) -> np.ndarray:
    """One int64 per row, equal exactly when every column's code is; -1 when any value is unknown."""
    return combined(coders, [coder.codes(column) for coder, column in zip(coders, columns)])


def combined(coders: list[Coder], codes: list[np.ndarray]) -> np.ndarray:
    """key_of columns already coded by `coders`. (Each width is at most the windows' rows, so two
    columns' product stays far below 2**63.)"""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    unknown = np.zeros(len(key), dtype=bool)
    for coder, coded in zip(coders, codes):
        unknown |= coded < 0
        key = key * coder.width + coded
    key[unknown] = -1
    return key


def micros(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTC timestamps as int64 microseconds, and a mask of the missing ones (NaT compares false)."""
    return values.dt.as_unit("us").array.asi8.copy(), values.isna().to_numpy()


@dataclass
class Windows:
    """One explanation's windows, sorted by key: rows [starts[k], ends[k]) hold key k's windows."""

    keys: np.ndarray  # the distinct keys, sorted
    starts: np.ndarray
    ends: np.ndarray
    lo: np.ndarray  # int64 microseconds, in key order
    hi: np.ndarray

    @classmethod
    def of(cls, key: np.ndarray, lo: pd.Series, hi: pd.Series) -> Windows:
        (lo_us, lo_na), (hi_us, hi_na) = micros(lo), micros(hi)
        keep = (key >= 0) & ~lo_na & ~hi_na
        key, lo_us, hi_us = key[keep], lo_us[keep], hi_us[keep]
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(run_starts(key))
        ends = np.append(starts[1:], len(key))[: len(starts)]
        return cls(key[starts], starts.astype(np.int64), ends.astype(np.int64), lo_us[order], hi_us[order])

    def __post_init__(self) -> None:
        self.index = pd.Index(self.keys)  # its hash table is made at the first lookup and kept with it

    def cover(self, key: np.ndarray, at: np.ndarray) -> np.ndarray:
        """For each (key, at): is `at` within [lo, hi] of some window with the same key."""
        slot = self.index.get_indexer(key) if len(self.keys) else np.full(len(key), -1)
        asked = np.flatnonzero((slot >= 0) & (key >= 0))
        slot = slot[asked]
        count = self.ends[slot] - self.starts[slot]
        row = np.repeat(asked, count)  # one (access, window) pair per window of the access's key
        window = np.repeat(self.starts[slot] - np.cumsum(count) + count, count) + np.arange(len(row))
        t = at[row]
        hit = np.zeros(len(key), dtype=bool)
        hit[row[(self.lo[window] <= t) & (t <= self.hi[window])]] = True
        return hit


class Coded:
    """The accesses' key columns, each coded once, when a try first asks for it: every try and the
    under-care check read their rows' codes from here rather than looking the ids up again (the
    lookups were half of explain's time on a month of ten million accesses)."""

    def __init__(self, accesses: pd.DataFrame, coders: dict[str, Coder]):
        self.accesses, self.coders, self.done = accesses, coders, {}

    def __call__(self, coder: str, column: str) -> np.ndarray:
        if (coder, column) not in self.done:
            self.done[coder, column] = self.coders[coder].codes(self.accesses[column])
        return self.done[coder, column]


@dataclass(frozen=True)
class TreatmentData:
    """What explains an access besides the encounters and the care team (contract version 2; empty
    frames when an export has none): orders, appointments and documents signed in a chart, typed as
    auditor.policy.frames makes them."""

    orders: pd.DataFrame
    appointments: pd.DataFrame
    authored: pd.DataFrame
    workforce: pd.DataFrame | None = None  # the members' departments, for the approved templates


def no_treatment_data() -> TreatmentData:
    empty = lambda columns: pd.DataFrame({name: [] for name in columns}, dtype=object)  # noqa: E731
    return TreatmentData(typed_orders(empty(ORDER_COLUMNS)), typed_appointments(empty(APPOINTMENT_COLUMNS)),
                         typed_authored(empty(AUTHORED_COLUMNS)))


def no_cases() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pd.Series([], dtype="Int64"),
                         "since": pd.Series([], dtype="datetime64[us, UTC]")})


@dataclass(frozen=True)
class Try:
    """One explanation's try: its windows, and the coders ("patients", "staff", "departments") of the
    accesses' key columns it looks them up by."""

    credits: str  # the explanation it credits (EXPLANATIONS)
    windows: Windows
    on: tuple[tuple[str, str], ...]  # (coder, the accesses' column)


_BY_USER = (("patients", "patient_id"), ("staff", "workforce_id"))
_BY_DEPARTMENT = (("patients", "patient_id"), ("departments", "department"))


class ExplanationWindows:
    """The context tables' windows, each made when first asked and kept by the policy values it
    depends on (`policy`: an ExplanationPolicy): a policy that differs in a few windows (lateness's)
    makes only those anew."""

    def __init__(self, encounters: pd.DataFrame, care_team: pd.DataFrame, case_patients: pd.DataFrame | None,
                 more: TreatmentData | None):
        more = more or no_treatment_data()
        self.encounters, self.care_team, self.more = encounters, care_team, more
        self.cases = no_cases() if case_patients is None else case_patients
        orders, appointments, authored = more.orders, more.appointments, more.authored
        self.patients = Coder(encounters=encounters["patient_id"], care_team=care_team["patient_id"],
                              cases=self.cases["patient_id"], orders=orders["patient_id"],
                              appointments=appointments["patient_id"], authored=authored["patient_id"])
        self.staff = Coder(encounters=encounters["attending_id"], care_team=care_team["workforce_id"],
                           orders=orders["ordering_id"], appointments=appointments["provider_id"],
                           authored=authored["author_id"])
        self.departments = Coder(text=True, encounters=encounters["department"], orders=orders["performing_department"],
                                 appointments=appointments["department"])
        self.coders = {"patients": self.patients, "staff": self.staff, "departments": self.departments}
        self._made: dict[tuple, object] = {}

    def _kept(self, key: tuple, make: Callable[[], object]):
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def _booked(self, cancelled: tuple[str, ...]) -> np.ndarray:
        """The positions of the appointments not cancelled."""
        return self._kept(("booked", cancelled), lambda: np.flatnonzero(
            ~self.more.appointments["status"].isin(cancelled).to_numpy(dtype=bool)))

    def _windows(self, policy, cancelled: tuple[str, ...]) -> dict[str, Callable[[], tuple[pd.Series, pd.Series]]]:
        """Each kind of window's (lo, hi), in its table's row order (the appointments: those not cancelled)."""
        enc, orders, authored = self.encounters, self.more.orders, self.more.authored

        def booked() -> pd.DataFrame:
            return self.more.appointments.iloc[self._booked(cancelled)]
        return {
            "clinical": lambda: _window(enc["start"], enc["end"], policy.clinical_days_before,
                                        policy.clinical_days_after),
            "order": lambda: _window(orders["placed_at"], orders["completed_at"].fillna(orders["placed_at"]),
                                     policy.order_days_before, policy.order_days_after),
            "appointment": lambda: _window(booked()["booked_at"], booked()["scheduled_for"],
                                           policy.appointment_days_before, policy.appointment_days_after),
            "document": lambda: _window(authored["signed_at"], authored["signed_at"], policy.document_days_before,
                                        policy.document_days_after),
            # rule 4's encounters: the encounters, then each appointment not cancelled from booked to
            # scheduled (their rows here, and their patients' codes in tries, in that same order)
            "operational": lambda: _window(pd.concat([enc["start"], booked()["booked_at"]], ignore_index=True),
                                           pd.concat([enc["end"], booked()["scheduled_for"]], ignore_index=True),
                                           policy.operational_days_before, policy.operational_days_after),
        }

    def tries(self, policy) -> list[Try]:
        """The explanations' tries, in the order explain makes them: the clinical ones, then the
        operational one (see auditor.policy.explanations)."""
        pid, by, dep = self.patients.held, self.staff.held, self.departments.held
        both, with_department = [self.patients, self.staff], [self.patients, self.departments]
        cancelled = tuple(sorted(policy.cancelled_statuses))
        booked = self._booked(cancelled)
        bp, bs, bd = pid["appointments"][booked], by["appointments"][booked], dep["appointments"][booked]
        window = self._windows(policy, cancelled)
        days = {"clinical": (policy.clinical_days_before, policy.clinical_days_after),
                "order": (policy.order_days_before, policy.order_days_after),
                "appointment": (cancelled, policy.appointment_days_before, policy.appointment_days_after),
                "document": (policy.document_days_before, policy.document_days_after),
                "operational": (cancelled, policy.operational_days_before, policy.operational_days_after)}

        def kept(name: str, kind: str, coders: list[Coder], codes: list[np.ndarray]) -> Windows:
            return self._kept((name, *days[kind]), lambda: Windows.of(combined(coders, codes), *window[kind]()))
        ct = self.care_team
        return [
            Try("care_team", self._kept(("care_team",), lambda: Windows.of(
                combined(both, [pid["care_team"], by["care_team"]]), ct["start"], ct["end"].fillna(OPEN_END))),
                _BY_USER),
            Try("attending", kept("attending", "clinical", both, [pid["encounters"], by["encounters"]]), _BY_USER),
            Try("department", kept("department", "clinical", with_department, [pid["encounters"], dep["encounters"]]),
                _BY_DEPARTMENT),
            # 5. an order the user placed, or that the user's department performs
            Try("order", kept("order by user", "order", both, [pid["orders"], by["orders"]]), _BY_USER),
            Try("order", kept("order by department", "order", with_department, [pid["orders"], dep["orders"]]),
                _BY_DEPARTMENT),
            # 6. an appointment not cancelled, of which the user is the provider, or in the user's department
            Try("appointment", kept("appointment by user", "appointment", both, [bp, bs]), _BY_USER),
            Try("appointment", kept("appointment by department", "appointment", with_department, [bp, bd]),
                _BY_DEPARTMENT),
            # 7. a document the user signed in the chart
            Try("document", kept("document", "document", both, [pid["authored"], by["authored"]]), _BY_USER),
            # 4. operational roles only (explain says which accesses it may explain)
            Try("operational", kept("operational", "operational", [self.patients],
                                    [np.concatenate([pid["encounters"], bp])]), (("patients", "patient_id"),)),
        ]

    def case_review(self) -> Windows:
        """From the moment a finding named the patient, for as long as the office keeps the case."""
        cases = self.cases
        return self._kept(("case_review",), lambda: Windows.of(
            combined([self.patients], [self.patients.held["cases"]]), cases["since"],
            pd.Series(OPEN_END, index=cases.index)))

    def under_care(self, policy) -> Windows:
        """The clinical windows of the encounters, and the windows of the orders and of the
        appointments not cancelled, whoever's they were: keyed by their patient alone."""
        cancelled = tuple(sorted(policy.cancelled_statuses))
        key = ("under care", cancelled, policy.clinical_days_before, policy.clinical_days_after,
               policy.order_days_before, policy.order_days_after, policy.appointment_days_before,
               policy.appointment_days_after)
        return self._kept(key, lambda: self._under_care(policy, cancelled))

    def _under_care(self, policy, cancelled: tuple[str, ...]) -> Windows:
        window, pid = self._windows(policy, cancelled), self.patients.held
        held = [(window[kind], codes) for kind, codes in (
            ("clinical", pid["encounters"]), ("order", pid["orders"]),
            ("appointment", pid["appointments"][self._booked(cancelled)])) if len(codes)]
        if not held:
            nothing = pd.Series([], dtype="datetime64[us, UTC]")
            return Windows.of(np.zeros(0, dtype=np.int64), nothing, nothing)
        lo, hi = zip(*(made() for made, _ in held))
        return Windows.of(combined([self.patients], [np.concatenate([codes for _, codes in held])]),
                          pd.concat(lo, ignore_index=True), pd.concat(hi, ignore_index=True))


def _window(start: pd.Series, end: pd.Series, before: int, after: int) -> tuple[pd.Series, pd.Series]:
    return start - pd.Timedelta(days=before), end + pd.Timedelta(days=after)
