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

from auditor.policy.explanation_windows import (Coded, Coder, ExplanationWindows, TreatmentData, Windows, combined,
                                                key_of, micros)
from auditor.policy.templates import ApprovedTemplate, Template
from auditor.policy.templates import windows as template_windows
from auditor.vault.gateway.context import OWN_SOURCE

EXPLANATIONS = ("care_team", "attending", "department", "order", "appointment", "document", "operational",
                "approved", "case_review")
CLINICAL = ("care_team", "attending", "department", "order", "appointment", "document")


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


def _case_review(accesses: pd.DataFrame, policy: ExplanationPolicy) -> np.ndarray:
    """The accesses that may be case review: the vault's own events (the gateway checked the staff
    account and the role it acted in; an export's role column is only the export's word), in one of
    the office's roles, for one of its purposes."""
    return ((accesses["source"] == OWN_SOURCE).to_numpy(dtype=bool)
            & accesses["event_role"].isin(policy.case_review_roles).to_numpy(dtype=bool)
            & accesses["purpose"].isin(policy.case_review_purposes).to_numpy(dtype=bool))


READS = ("patient_id", "workforce_id", "department", "at", "role", "record_type", "source", "event_role", "purpose")
"""The accesses' columns explain reads: a caller may hand it only these."""


def explain(accesses: pd.DataFrame, encounters: pd.DataFrame, care_team: pd.DataFrame,
            policy: ExplanationPolicy, case_patients: pd.DataFrame | None = None,
            more: TreatmentData | None = None, windows: ExplanationWindows | None = None,
            under_care: bool = True) -> pd.DataFrame:
    """One row per access (same index): `explained_by` (the first explanation that holds, in
    EXPLANATIONS' order), `explained` and `clinically_explained` (the clinical rules only).
    `case_patients`: the patients named in the office's cases and since when (patient_id, since).
    `more`: orders, appointments and authored documents (rules 5 to 7).
    `windows`: the windows of these tables made already (a month's, for a partition of it); made here
    when None. `under_care`: False leaves that column out (lateness reads only what is explained).
    Each explanation is tried only on the accesses the ones before it left unexplained: the
    answer is the same, and most of a month is explained by the first two, so the later lookups stay
    small.

    On whole columns (auditor.policy.explanation_windows): every key is coded once, each explanation's
    windows are sorted by key, and each access is paired with the windows of its own key only. (A
    pandas merge of ten million accesses hashed all of them into a table of their own, and took five
    times as long.)"""
    book = windows if windows is not None else ExplanationWindows(encounters, care_team, case_patients, more)
    at, no_time = micros(accesses["at"])
    coded = Coded(accesses, book.coders)
    operational = (accesses["role"].isin(policy.operational_roles)
                   & ~accesses["record_type"].isin(policy.sensitive_record_types)).to_numpy()
    first = np.full(len(accesses), -1, dtype=np.int8)  # the explanation's position in EXPLANATIONS
    for tried in book.tries(policy):
        coders = [book.coders[coder] for coder, _ in tried.on]
        _try(first, EXPLANATIONS.index(tried.credits), tried.windows, coders, [coded(*on) for on in tried.on],
             operational if tried.credits == "operational" else None, at, no_time)
    if policy.approved:  # never a sensitive record type; colleague_first reads what the clinical ones explained
        plain = ~accesses["record_type"].isin(policy.sensitive_record_types).to_numpy(dtype=bool)
        clinically = (first >= 0) & (first < len(CLINICAL))
        workforce = more.workforce if more is not None and more.workforce is not None else _no_workforce()
        for approved in policy.approved:
            rows = np.flatnonzero((first < 0) & ~no_time & plain)
            if len(rows):
                hit = template_explains(approved.template, accesses, workforce, encounters, care_team, clinically, rows)
                first[rows[hit]] = EXPLANATIONS.index("approved")
    # case review: from the moment a finding named the patient, for as long as the office keeps the case
    patient = coded("patients", "patient_id")
    _try(first, EXPLANATIONS.index("case_review"), book.case_review(), [book.patients], [patient],
         _case_review(accesses, policy), at, no_time)
    out = pd.DataFrame(index=accesses.index)
    out["explained_by"] = pd.Categorical.from_codes(first, categories=list(EXPLANATIONS))
    out["clinically_explained"] = (first >= 0) & (first < len(CLINICAL))
    out["explained"] = first >= 0
    if under_care:
        out["under_care"] = _under_care(first, book, policy, patient, at, no_time)
    return out


def _under_care(first: np.ndarray, book: ExplanationWindows, policy: ExplanationPolicy, patient: np.ndarray,
                at: np.ndarray, no_time: np.ndarray) -> np.ndarray:
    """Was the patient in the organisation's care when accessed: within the clinical window of one of
    their encounters, or the window of one of their orders or appointments, whoever's it was (rules 2-3,
    5-6 without the user). Every explained access is; for the rest it tells an access to a patient of
    another department (a consult, a question) from one to someone the hospital was not treating.
    `patient`: the accesses' patients, coded by the book's."""
    care = np.ones(len(first), dtype=bool)
    rows = np.flatnonzero((first < 0) & ~no_time)
    care[rows] = False
    if len(rows):
        care[rows] = book.under_care(policy).cover(combined([book.patients], [patient[rows]]), at[rows])
    care[no_time] = False
    return care


def _try(first: np.ndarray, code: int, windows: Windows, coders: list[Coder], codes: list[np.ndarray],
         only: np.ndarray | None, at: np.ndarray, no_time: np.ndarray) -> None:
    """Credit `code` to each access not yet explained (among `only`) that one of `windows` covers
    (`codes`: the accesses' key columns, coded by `coders`)."""
    open_ = (first < 0) & ~no_time
    if only is not None:
        open_ &= only
    rows = np.flatnonzero(open_)
    if len(rows):
        key = combined(coders, [c[rows] for c in codes])
        first[rows[windows.cover(key, at[rows])]] = code


def template_explains(template: Template, accesses: pd.DataFrame, workforce: pd.DataFrame, encounters: pd.DataFrame,
                      care_team: pd.DataFrame, clinically: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For the accesses at positions `rows`: does `template` explain each (its patient and the user's
    department in one of the template's windows at the access's time)."""
    patient, department, lo, hi = template_windows(template, accesses, workforce, encounters, care_team, clinically)
    patients = Coder(patient.astype("Int64"))
    departments = Coder(accesses["department"].astype("category"))
    windows = Windows.of(key_of([patients, departments], [patient, department]), lo, hi)
    at, _ = micros(accesses["at"].iloc[rows])
    return windows.cover(key_of([patients, departments], [accesses["patient_id"].iloc[rows],
                                                          accesses["department"].iloc[rows]]), at)


def _no_workforce() -> pd.DataFrame:
    return pd.DataFrame({"workforce_id": pd.Series([], dtype="Int64"), "department": pd.Series([], dtype="string")})


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
