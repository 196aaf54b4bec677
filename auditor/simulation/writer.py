"""Writing a simulated month as an interchange directory (../shared/spec/interchange.md):
workforce.csv, patients.csv, encounters.csv, care_team.csv and access_log.csv, version 2's
orders.csv, appointments.csv and documents.csv, and beside them
labels.csv (event_id, rule, injected, scenario, day) and simulation.json, which ingest does not read (it
reads only the contract's files).

The files hold synthetic PHI; they are written readable by their owner only, like every export
that holds PHI.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from auditor.simulation import people
from auditor.simulation.local_time import written
from auditor.simulation.month import SimulatedMonth, simulate_month

FILES = ("workforce.csv", "patients.csv", "encounters.csv", "care_team.csv", "orders.csv", "appointments.csv",
         "documents.csv", "access_log.csv")
LABELS = "labels.csv"
MANIFEST = "simulation.json"
EVENTS_PER_MEMBER = 150  # default workforce: one member per 150 events in the month
EVENTS_PER_PATIENT = 10
LOG_CHUNK = 500_000  # access-log rows formatted and written at a time


@dataclass(frozen=True)
class HospitalFiles:
    folder: Path
    paths: dict[str, Path]
    rows: dict[str, int]
    label_counts: dict[str, int]  # rule -> labelled events
    injected_events: int
    seed: int
    month: str


def _dates(values) -> np.ndarray:
    values = np.asarray(values, dtype="datetime64[D]")
    out = np.datetime_as_string(values).astype(object)
    out[np.isnat(values)] = ""
    return out


def _flags(values, rng: np.random.Generator) -> np.ndarray:
    """Booleans the way exports write them: mostly true/false, sometimes yes/no or 1/0."""
    values = np.asarray(values, dtype=bool)
    style = rng.choice(3, size=len(values), p=[.9, .05, .05])
    words = np.array([["false", "true"], ["no", "yes"], ["0", "1"]], dtype=object)
    return words[style, values.astype(int)]


def _clock(minutes: np.ndarray) -> np.ndarray:
    text = (pd.Series(minutes // 60).astype(str).str.zfill(2) + ":" + pd.Series(minutes % 60).astype(str).str.zfill(2))
    return np.where(minutes >= 0, text.to_numpy(), "")


def patients_table(month: SimulatedMonth, rng: np.random.Generator) -> pd.DataFrame:
    p, area = month.hospital.patients, month.hospital.area
    address = people.written_addresses(rng, area, p["household"].to_numpy())
    return pd.DataFrame({
        "mrn": p["mrn"], "first_name": people.written_names(rng, p["first"].to_numpy(), 0.05),
        "last_name": people.written_names(rng, p["last"].to_numpy(), 0.05), "birth_date": _dates(p["birth_date"]),
        "death_date": _dates(p["death_date"]), "sex": p["sex"], **{c: address[c].to_numpy() for c in address},
        "phone": people.written_phones(rng, p["area_code"].to_numpy(), p["phone_key"].to_numpy()),
        "vip": _flags(p["vip"], rng), "restricted": _flags(p["restricted"], rng)})


def workforce_table(month: SimulatedMonth, rng: np.random.Generator) -> pd.DataFrame:
    """The HR feed: its own spelling of names, addresses and phones (accents dropped, 'St.')."""
    w, h = month.hospital.workforce, month.hospital
    address = people.written_addresses(rng, h.area, w["household"].to_numpy())
    mrn = np.where(w["linked"].to_numpy(), h.patients["mrn"].to_numpy()[np.maximum(w["own_patient"].to_numpy(), 0)], "")
    return pd.DataFrame({
        "user_id": w["user_id"], "first_name": people.written_names(rng, w["first"].to_numpy(), 0.3),
        "last_name": people.written_names(rng, w["last"].to_numpy(), 0.3), "birth_date": _dates(w["birth_date"]),
        "role": w["role"], "department": w["department"], "hire_date": _dates(w["hire_date"]),
        "termination_date": _dates(w["termination_date"]), **{c: address[c].to_numpy() for c in address},
        "phone": people.written_phones(rng, w["area_code"].to_numpy(), w["phone_key"].to_numpy()),
        "patient_mrn": mrn, "shift_start": _clock(w["shift_start"].to_numpy()),
        "shift_end": _clock(w["shift_end"].to_numpy())})


def _department_spelling(names: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Departments compare after trimming and case folding: feeds differ in exactly that."""
    names = pd.Series(names, dtype=object)
    style = rng.choice(3, size=len(names), p=[.85, .1, .05])
    return np.where(style == 1, names.str.upper(), np.where(style == 2, names + " ", names))


def encounters_table(month: SimulatedMonth, rng: np.random.Generator) -> pd.DataFrame:
    h = month.hospital
    e = h.encounters
    attending = e["attending"].to_numpy()
    return pd.DataFrame({
        "encounter_id": e["encounter_id"], "mrn": h.patients["mrn"].to_numpy()[e["patient"].to_numpy()],
        "department": _department_spelling(e["department"].to_numpy(), rng),
        "attending_user_id": np.where(attending >= 0, h.workforce["user_id"].to_numpy()[np.maximum(attending, 0)], ""),
        "type": e["type"], "start": written(e["start"].to_numpy(), h.zone), "end": written(e["end"].to_numpy(), h.zone)})


def care_team_table(month: SimulatedMonth) -> pd.DataFrame:
    h, t = month.hospital, month.care_team
    table = pd.DataFrame({"mrn": h.patients["mrn"].to_numpy()[t["patient"].to_numpy()],
                          "user_id": h.workforce["user_id"].to_numpy()[t["member"].to_numpy()], "role": t["role"],
                          "start": written(t["start"].to_numpy(), h.zone), "end": written(t["end"].to_numpy(), h.zone)})
    return table.drop_duplicates(["mrn", "user_id", "start"])


def _times(values, zone) -> np.ndarray:
    """Local timestamps, "" for none (an order not completed)."""
    values = np.asarray(values, dtype="datetime64[s]")
    out = np.full(len(values), "", dtype=object)
    known = ~np.isnat(values)
    out[known] = written(values[known], zone)
    return out


def _user_ids(month: SimulatedMonth, rows: np.ndarray) -> np.ndarray:
    return np.where(rows >= 0, month.hospital.workforce["user_id"].to_numpy()[np.maximum(rows, 0)], "")


def orders_table(month: SimulatedMonth, rng: np.random.Generator) -> pd.DataFrame:
    h, o = month.hospital, month.hospital.orders
    return pd.DataFrame({
        "order_id": o["order_id"], "mrn": h.patients["mrn"].to_numpy()[o["patient"].to_numpy()],
        "ordering_user_id": _user_ids(month, o["orderer"].to_numpy()),
        "performing_department": _department_spelling(o["department"].to_numpy(), rng), "type": o["type"],
        "placed_at": _times(o["placed"].to_numpy(), h.zone), "completed_at": _times(o["completed"].to_numpy(), h.zone)})


def appointments_table(month: SimulatedMonth, rng: np.random.Generator) -> pd.DataFrame:
    h, a = month.hospital, month.hospital.appointments
    return pd.DataFrame({
        "appointment_id": a["appointment_id"], "mrn": h.patients["mrn"].to_numpy()[a["patient"].to_numpy()],
        "department": _department_spelling(a["department"].to_numpy(), rng),
        "provider_user_id": _user_ids(month, a["provider"].to_numpy()),
        "booked_at": _times(a["booked"].to_numpy(), h.zone), "scheduled_for": _times(a["scheduled"].to_numpy(), h.zone),
        "status": a["status"]})


def documents_table(month: SimulatedMonth) -> pd.DataFrame:
    h, d = month.hospital, month.hospital.documents
    return pd.DataFrame({
        "document_id": d["document_id"], "mrn": h.patients["mrn"].to_numpy()[d["patient"].to_numpy()],
        "author_user_id": _user_ids(month, d["author"].to_numpy()), "record_type": d["record_type"],
        "signed_at": _times(d["signed"].to_numpy(), h.zone)})


def access_log_table(month: SimulatedMonth, rng: np.random.Generator, rows: slice = slice(None)) -> pd.DataFrame:
    h, ev = month.hospital, month.events.iloc[rows]
    patient, user = ev["patient"].to_numpy(), ev["user"].to_numpy()
    station = (pd.Series(h.workforce["department"].to_numpy()[user]).str.replace(r"[^A-Za-z]", "", regex=True)
               .str[:4].str.upper() + "-" + pd.Series(rng.integers(1, 40, len(ev))).astype(str).str.zfill(2))
    return pd.DataFrame({
        "event_id": ev["event_id"], "timestamp": written(ev["at"].to_numpy(), h.zone),
        "user_id": h.workforce["user_id"].to_numpy()[user],
        "mrn": np.where(patient >= 0, h.patients["mrn"].to_numpy()[np.maximum(patient, 0)], ""),
        "action": ev["action"], "record_type": ev["record_type"].fillna(""), "outcome": ev["outcome"],
        "purpose_of_use": ev["purpose"].fillna(""), "break_glass": np.where(ev["break_glass"], "true", "false"),
        "reason": ev["reason"].fillna(""), "workstation": "WS-" + station.to_numpy()})


def _private(path: Path) -> None:
    """An empty file readable by its owner only, before any PHI goes into it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)


def _write(frame: pd.DataFrame, path: Path, header: bool = True) -> None:
    if header:
        _private(path)
    frame.to_csv(path, index=False, lineterminator="\n", mode="a", header=header)


def write_month(month: SimulatedMonth, folder: Path, seed: int, month_name: str) -> HospitalFiles:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 1])  # spellings: a stream of their own, so files stay stable
    tables = {"workforce.csv": workforce_table(month, rng), "patients.csv": patients_table(month, rng),
              "encounters.csv": encounters_table(month, rng), "care_team.csv": care_team_table(month),
              "orders.csv": orders_table(month, rng), "appointments.csv": appointments_table(month, rng),
              "documents.csv": documents_table(month)}
    paths = {}
    for name, table in tables.items():
        paths[name] = folder / name
        _write(table, paths[name])
    paths["access_log.csv"] = folder / "access_log.csv"
    rows = {**{n: len(t) for n, t in tables.items()}, "access_log.csv": len(month.events)}
    for first in range(0, max(len(month.events), 1), LOG_CHUNK):  # millions of rows: a chunk at a time
        _write(access_log_table(month, rng, slice(first, first + LOG_CHUNK)), paths["access_log.csv"], header=not first)
    paths[LABELS] = folder / LABELS
    labels = month.labels.assign(injected=np.where(month.labels["injected"], "true", "false"))
    _write(labels, paths[LABELS])
    counts = {str(k): int(v) for k, v in month.labels.groupby("rule").size().items()}
    injected = int(month.labels.loc[month.labels["injected"], "event_id"].nunique())
    result = HospitalFiles(folder, paths, rows, counts, injected, seed, month_name)
    manifest = {"format": "auditor-simulation/1", "seed": seed, "month": month_name,
                "time_zone": month.hospital.zone.key, "rows": result.rows, "labelled_events_per_rule": counts,
                "injected_events": injected}
    paths[MANIFEST] = folder / MANIFEST
    _private(paths[MANIFEST])
    paths[MANIFEST].write_text(json.dumps(manifest, indent=2) + "\n")
    return result


def write_hospital(out_dir: Path, seed: int = 1, *, events: int = 200_000, patients: int | None = None,
                   workforce: int | None = None, month: str = "2026-11", zone: str = "America/New_York",
                   synthea: Path | None = None) -> HospitalFiles:
    """Simulate a month and write it as an interchange directory; returns the paths, row counts and
    labelled events per rule. Sizes default to the events: one member per 150, one patient per 10."""
    seeded = people.read_synthea(synthea) if synthea else None
    simulated = simulate_month(seed, events=events, patients=patients or max(500, events // EVENTS_PER_PATIENT),
                               workforce=workforce or max(100, events // EVENTS_PER_MEMBER), month=month,
                               zone=ZoneInfo(zone), seeded=seeded)
    return write_month(simulated, Path(out_dir), seed, month)
