"""The engine's frames typed: each table's columns as the detectors compute on them (nullable integer
ids, categorical text, UTC timestamps, local dates, shift minutes, departments compared after trimming
and case folding), from what auditor.policy.frames reads. Nothing here reads a database."""

from __future__ import annotations

import pandas as pd

from auditor.audit.events import ACTIONS, OUTCOMES

IDENTITIES = ("name_dob", "last_name", "household", "street", "phone")
ACTION_TYPE = pd.CategoricalDtype(list(ACTIONS))
OUTCOME_TYPE = pd.CategoricalDtype(list(OUTCOMES))


def normalize_departments(values: pd.Series) -> pd.Series:
    """Departments compare exactly after trimming and case folding (interchange contract)."""
    cleaned = values.astype("string").str.strip().str.casefold()
    return cleaned.mask(cleaned == "").astype("string")


def _timestamps(values: pd.Series) -> pd.Series:
    """Integer microseconds since the epoch (as stored), or aware datetimes, as UTC timestamps."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    try:
        micros = values.astype("Int64")
    except (TypeError, ValueError):
        return pd.to_datetime(values, utc=True, format="ISO8601")
    return pd.to_datetime(micros, unit="us", utc=True)


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="ISO8601").astype("datetime64[s]")


def _minutes(values: pd.Series) -> pd.Series:
    """'HH:MM' wall-clock as minutes after midnight."""
    parts = values.astype("string").str.extract(r"^\s*(\d{1,2}):(\d{2})\s*$")
    return (parts[0].astype("Int64") * 60 + parts[1].astype("Int64")).astype("Int64")


def _event_refs(source_id: pd.Series, seq: pd.Series) -> pd.Series:
    """The source's event id, or "vault:<seq>" for the vault's own events (built only for those)."""
    own = source_id.isna()
    if not own.any():
        return source_id
    return source_id.mask(own, "vault:" + seq[own].astype("string"))


def _category(values: pd.Series) -> pd.Series:
    """Text as a categorical with sorted categories (an Arrow dictionary column arrives categorical
    already: only its few categories are reordered, no string per event is compared)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories.astype("string")
        return values.cat.rename_categories(categories).cat.reorder_categories(categories.sort_values())
    return values.astype("string").astype("category")


def typed_events(df: pd.DataFrame) -> pd.DataFrame:
    seq = df["seq"].astype("int64")
    source_id = df["source_event_id"].astype("string")
    return pd.DataFrame({
        "seq": seq,
        "event_ref": _event_refs(source_id, seq),  # the ids findings cite
        "at": _timestamps(df["at_us"]),
        "source": _category(df["source"]),
        "user_id": df["user_id"].astype("string"),
        "event_role": _category(df["role"]),
        "action": df["action"].astype(ACTION_TYPE),
        "patient_id": df["patient_id"].astype("Int64"),
        "record_type": _category(df["record_type"]),
        "outcome": df["outcome"].astype(OUTCOME_TYPE),
        "purpose": _category(df["purpose"]),
        "break_glass": df["break_glass"].fillna(False).astype(bool),
        "has_reason": df["has_reason"].fillna(False).astype(bool),
    }).reset_index(drop=True)


def typed_workforce(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "workforce_id": df["workforce_id"].astype("Int64"),
        "user_id": df["user_id"].astype("string"),
        "role": df["role"].astype("string").astype("category"),
        "department": normalize_departments(df["department"]).astype("category"),
        "department_label": df["department"].astype("string").str.strip(),
        "hire_date": _dates(df["hire_date"]),
        "termination_date": _dates(df["termination_date"]),
        "shift_start": _minutes(df["shift_start"]),
        "shift_end": _minutes(df["shift_end"]),
        "own_patient_id": df["own_patient_id"].astype("Int64"),
    })
    for name in IDENTITIES:
        out[name] = df[name].astype("Int64")
    return out


def typed_patients(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "patient_id": df["patient_id"].astype("Int64"),
        "vip": df["vip"].fillna(False).astype(bool),
        "restricted": df["restricted"].fillna(False).astype(bool),
        "deceased_on": _dates(df["deceased_on"]),
    })
    for name in IDENTITIES:
        out[name] = df[name].astype("Int64")
    return out


def typed_encounters(df: pd.DataFrame) -> pd.DataFrame:
    start = _timestamps(df["start"])
    end = _timestamps(df["end"])
    return pd.DataFrame({
        "patient_id": df["patient_id"].astype("Int64"),
        "department": normalize_departments(df["department"]),
        "attending_id": df["attending_id"].astype("Int64"),
        "start": start,
        "end": end.fillna(start),  # an encounter without an end lasts an instant
    })


def typed_care_team(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": df["patient_id"].astype("Int64"),
        "workforce_id": df["workforce_id"].astype("Int64"),
        "start": _timestamps(df["start"]),
        "end": _timestamps(df["end"]),  # NaT: still on the team
    })


ORDER_COLUMNS = ("patient_id", "ordering_id", "performing_department", "type", "placed_at", "completed_at")
APPOINTMENT_COLUMNS = ("patient_id", "provider_id", "department", "status", "booked_at", "scheduled_for")
AUTHORED_COLUMNS = ("patient_id", "author_id", "record_type", "signed_at")


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    """A table with `columns` and no row, for a typed_* function to type."""
    return pd.DataFrame({name: [] for name in columns}, dtype=object)


def typed_orders(df: pd.DataFrame) -> pd.DataFrame:
    """Orders (rule 5): `ordering_id` the workforce id of who placed it; `completed_at` NaT while open."""
    return pd.DataFrame({
        "patient_id": df["patient_id"].astype("Int64"),
        "ordering_id": df["ordering_id"].astype("Int64"),
        "performing_department": normalize_departments(df["performing_department"]),
        "type": df["type"].astype("string"),
        "placed_at": _timestamps(df["placed_at"]),
        "completed_at": _timestamps(df["completed_at"]),
    })


def typed_appointments(df: pd.DataFrame) -> pd.DataFrame:
    """Appointments (rule 6, and rule 4's encounters): `provider_id` a workforce id or missing."""
    return pd.DataFrame({
        "patient_id": df["patient_id"].astype("Int64"),
        "provider_id": df["provider_id"].astype("Int64"),
        "department": normalize_departments(df["department"]),
        "status": df["status"].astype("string"),
        "booked_at": _timestamps(df["booked_at"]),
        "scheduled_for": _timestamps(df["scheduled_for"]),
    })


def typed_authored(df: pd.DataFrame) -> pd.DataFrame:
    """Documents signed in a chart (rule 7): who wrote them, when (their bodies are never exported)."""
    return pd.DataFrame({
        "patient_id": df["patient_id"].astype("Int64"),
        "author_id": df["author_id"].astype("Int64"),
        "record_type": df["record_type"].astype("string"),
        "signed_at": _timestamps(df["signed_at"]),
    })


def typed_case_patients(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": df["patient_id"].astype("Int64"), "since": _timestamps(df["since"])})
