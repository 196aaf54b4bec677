"""The retention plan (a dry run): for every patient in the vault, on a given day, whether the schedule
lets their records go, and if so whether a legal hold stops it.

A patient's records go together (they are sealed under one data key, and crypto-shredding destroys
that key), so a patient is eligible only when every record type they have is past its period,
counted from their last encounter or record (the latest of them: a result filed after discharge, an
order, an appointment kept or a note signed extends the period, never shortens it), none is kept permanently, and no hold in force covers any
of their records. Computed on clear columns with pandas; birth dates (for the minors rule) are read
through the gateway, audited, and only for patients whose adult period has ended. A plan is made for
a day that has come (the organisation's today at the latest): a day ahead would let go of records
whose retention has not run out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import BigInteger, Engine, Table, func, literal, select, type_coerce

from auditor.errors import InputError
from auditor.retention.holds import LegalHoldEntry, list_holds
from auditor.retention.schedules import ENCOUNTER, ORDER, Schedule, add_years
from auditor.vault.gateway.retention import RecordsManagement
from auditor.database import RecordsBase
from auditor.vault.records import Appointment, AuthoredDocument, ClinicalDocument, Encounter, Order, Patient
from auditor.vault.settings import today_in

STATUSES = ("eligible", "held", "retained", "permanent", "referenced", "no_records")
# Deleted with the patient's chart by a purge; any other table naming a patient by foreign key holds a
# record that must outlive the chart (a disclosure, a release request): such a patient is not purged.
ERASED_WITH_PATIENT = {"patients", "documents", "encounters", "care_team", "workforce", "orders", "appointments",
                       "authored_documents"}


class PlanRefused(InputError):
    """A plan that cannot be made or carried out as asked; nothing was changed."""


@dataclass(frozen=True)
class PatientRetention:
    patient_id: int
    data_key_id: int
    status: str  # one of STATUSES
    retain_until: date | None  # last day kept (None: permanently, or nothing to count from)
    basis: str
    record_types: tuple[str, ...] = ()
    first_record: date | None = None
    last_record: date | None = None
    holds: tuple[int, ...] = ()  # holds in force covering any of the patient's records


@dataclass(frozen=True)
class RetentionPlan:
    as_of: date
    schedule: Schedule
    patients: list[PatientRetention]
    holds: dict[int, LegalHoldEntry] = field(default_factory=dict)  # in force

    def having(self, status: str) -> list[PatientRetention]:
        return [p for p in self.patients if p.status == status]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for p in self.patients if p.status == s) for s in STATUSES}


def _days(us: pd.Series, tz: ZoneInfo | None) -> pd.Series:
    """Integer microseconds (UTC) -> local calendar days (naive midnight timestamps)."""
    moments = pd.to_datetime(us.astype("int64"), unit="us", utc=True)
    if tz is not None:
        moments = moments.dt.tz_convert(tz)
    return moments.dt.tz_localize(None).dt.normalize()


def load_records(records: Engine, tz: ZoneInfo | None) -> pd.DataFrame:
    """One row per record of a patient's care: patient_id, record_type, first_day, last_day (clear
    columns). Encounters and documents; and, from an EHR export's version-2 files, each order (placed
    to completed: its results are filed then), each appointment not cancelled (booked to scheduled:
    the contract counts it as an encounter, so it is one here) and each document signed in the chart
    (its record type, on the day it was signed). Whatever the vault holds of a patient's care counts
    toward the last day their retention is counted from."""
    raw = type_coerce  # the stored integer microseconds, without a datetime per row
    queries = {
        "encounters": (select(Encounter.patient_id, literal(ENCOUNTER), raw(Encounter.start, BigInteger),
                              raw(Encounter.end, BigInteger))),
        "documents": select(ClinicalDocument.patient_id, ClinicalDocument.doc_type,
                            raw(ClinicalDocument.recorded_at, BigInteger), raw(ClinicalDocument.recorded_at, BigInteger)),
        "orders": select(Order.patient_id, literal(ORDER), raw(Order.placed_at, BigInteger),
                         raw(func.coalesce(Order.completed_at, Order.placed_at), BigInteger)),
        "appointments": select(Appointment.patient_id, literal(ENCOUNTER), raw(Appointment.booked_at, BigInteger),
                               raw(Appointment.scheduled_for, BigInteger)).where(Appointment.status != "cancelled"),
        "authored": select(AuthoredDocument.patient_id, AuthoredDocument.record_type,
                           raw(AuthoredDocument.signed_at, BigInteger), raw(AuthoredDocument.signed_at, BigInteger)),
    }
    frames = []
    with records.connect() as conn:
        for query in queries.values():
            rows = pd.DataFrame(conn.execute(query).all(), columns=["patient_id", "record_type", "first", "last"])
            frames.append(pd.DataFrame({"patient_id": rows["patient_id"].astype("int64"),
                                        "record_type": rows["record_type"].astype(str),
                                        "first_day": _days(rows["first"], tz), "last_day": _days(rows["last"], tz)}))
    return pd.concat(frames, ignore_index=True)


def patients_covered(hold: LegalHoldEntry, records: pd.DataFrame) -> set[int]:
    """The patients with at least one record the hold covers (vectorised over the records)."""
    if hold.patient_id is not None and not hold.record_type and not (hold.covers_from or hold.covers_to):
        return {hold.patient_id}
    mask = pd.Series(True, index=records.index)
    if hold.patient_id is not None:
        mask &= records["patient_id"] == hold.patient_id
    if hold.record_type:
        mask &= records["record_type"] == hold.record_type
    if hold.covers_from:
        mask &= records["last_day"] >= pd.Timestamp(hold.covers_from)
    if hold.covers_to:
        mask &= records["first_day"] <= pd.Timestamp(hold.covers_to)
    return set(records.loc[mask, "patient_id"].astype("int64").tolist())


def kept_references(records: Engine, tables: list[Table] | None = None) -> dict[int, list[str]]:
    """patient id -> the tables outside the chart that name them by foreign key."""
    out: dict[int, list[str]] = {}
    tables = RecordsBase.metadata.sorted_tables if tables is None else tables
    with records.connect() as conn:
        for table in tables:
            if table.name in ERASED_WITH_PATIENT:
                continue
            for fk in table.foreign_keys:
                if fk.column.table.name == "patients":
                    for (pid,) in conn.execute(select(fk.parent).where(fk.parent.is_not(None)).distinct()):
                        out.setdefault(pid, []).append(table.name)
    return out


def _per_patient(records: pd.DataFrame, schedule: Schedule) -> pd.DataFrame:
    """first/last day, record types, the longest period in years and whether any type is permanent."""
    pairs = records[["patient_id", "record_type"]].drop_duplicates()
    pairs = pairs.assign(years=pairs["record_type"].map(schedule.record_types).fillna(schedule.adult_years),
                         permanent=pairs["record_type"].isin(schedule.permanent))
    types = pairs.groupby("patient_id").agg(years=("years", "max"), permanent=("permanent", "any"),
                                            record_types=("record_type", lambda s: tuple(sorted(s))))
    span = records.groupby("patient_id").agg(first_day=("first_day", "min"), last_day=("last_day", "max"))
    return span.join(types)


def build_plan(records: Engine, office: RecordsManagement, schedule: Schedule, as_of: date,
               tz: ZoneInfo | None, reference_tables: list[Table] | None = None) -> RetentionPlan:
    """Every patient's status on `as_of` under `schedule`, with the holds in force. Refused for a day
    after the organisation's today."""
    today = today_in(office.gateway.clock, tz)
    if as_of > today:
        raise PlanRefused(f"{as_of.isoformat()} is after today ({today.isoformat()}): records go only once their "
                          "retention has run out, so a plan is made for today or a day before")
    frame = load_records(records, tz)
    with records.connect() as conn:
        keys = dict(conn.execute(select(Patient.id, Patient.data_key_id)).all())
    frame = frame[frame["patient_id"].isin(list(keys))]
    per = _per_patient(frame, schedule)
    holds = {h.id: h for h in list_holds(records, in_force_only=True)}
    covering: dict[int, list[int]] = {}
    for hold in holds.values():
        for pid in patients_covered(hold, frame):
            covering.setdefault(pid, []).append(hold.id)
    last = {pid: ts.date() for pid, ts in per["last_day"].items()}
    adult_until = {pid: add_years(last[pid], int(years)) for pid, years in per["years"].items()}
    ended = [pid for pid, until in adult_until.items() if until < as_of and not per.at[pid, "permanent"]]
    births = office.birth_dates(ended)
    referenced = kept_references(records, reference_tables)
    out = []
    for pid in sorted(keys):
        if pid not in per.index:
            out.append(PatientRetention(pid, keys[pid], "no_records", None, "no encounter or record to count from",
                                        holds=tuple(covering.get(pid, ()))))
            continue
        row = per.loc[pid]
        types = set(row["record_types"])
        period = schedule.period(last[pid], types, births.get(pid))
        status = ("permanent" if period.retain_until is None else
                  "retained" if period.retain_until >= as_of else
                  "referenced" if pid in referenced else
                  "held" if covering.get(pid) else "eligible")
        basis = period.basis if pid in births or status == "permanent" else f"{period.basis}, at least"
        if status == "referenced":
            basis = f"{basis}; named by {', '.join(sorted(set(referenced[pid])))}, kept after the chart"
        out.append(PatientRetention(pid, keys[pid], status, period.retain_until, basis, tuple(sorted(types)),
                                    row["first_day"].date(), last[pid], tuple(covering.get(pid, ()))))
    return RetentionPlan(as_of, schedule, out, holds)
