"""The treatment data of contract version 2 in the synthetic hospital: the orders an encounter's
attending places (the laboratory, radiology or the pharmacy carries them out), the appointments the
clinics book before they see a patient (and the ones booked for after the month, or cancelled), and
the notes signed in the chart (the attending's, and a consultant's from another department).

Normal work depends on them the way real work does (auditor.simulation.traffic): a technician or a
pharmacist opens the chart of an order their department carries out, a clinic prepares the visit it
booked, a consultant rereads the patient they wrote about. Only patients with an encounter get any of
them, so a patient with none stays one that nothing explains.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.simulation.hospital import Hospital, _members_of

HOUR = np.timedelta64(3600, "s")
DAY = 24 * HOUR
# what an order is, and who carries it out (performing department)
ORDER_TYPES = (("lab", .5, "Laboratory"), ("imaging", .2, "Radiology"), ("medication", .3, "Pharmacy"))
ORDERS_PER_ENCOUNTER = 1.4  # Poisson mean
OPEN_ORDERS = 0.08  # share never completed in the export
BOOKED_TYPES = ("outpatient", "telehealth")  # the encounters a clinic books ahead
CANCELLED = 0.07  # booked appointments later cancelled (no encounter follows)
AHEAD = 0.25  # appointments per booked encounter scheduled after the month (booked during it)
CONSULTED = 0.12  # encounters with a consult note by a physician of another department


def build_orders(rng: np.random.Generator, hospital: Hospital) -> pd.DataFrame:
    """patient, orderer (workforce row, -1 none), type, performing department, placed, completed (NaT: open)."""
    enc = hospital.encounters
    counts = rng.poisson(ORDERS_PER_ENCOUNTER, len(enc))
    row = np.repeat(np.arange(len(enc)), counts)
    n = len(row)
    names, weights, departments = zip(*ORDER_TYPES)
    kind = rng.choice(len(names), size=n, p=np.array(weights) / sum(weights))
    start, end = enc["start"].to_numpy()[row], enc["end"].to_numpy()[row]
    length = np.maximum((end - start).astype("timedelta64[s]").astype(np.int64), 60)
    placed = start + (rng.random(n) * np.minimum(length, 86_400)).astype("timedelta64[s]")
    completed = placed + (rng.integers(1, 48, n) * 3600).astype("timedelta64[s]")
    completed[rng.random(n) < OPEN_ORDERS] = np.datetime64("NaT")
    orders = pd.DataFrame({"patient": enc["patient"].to_numpy()[row], "orderer": enc["attending"].to_numpy()[row],
                           "type": np.asarray(names, dtype=object)[kind],
                           "department": np.asarray(departments, dtype=object)[kind], "placed": placed,
                           "completed": completed})
    orders = orders.sort_values("placed", kind="stable").reset_index(drop=True)
    orders["order_id"] = "ORD" + pd.Series(np.arange(len(orders)) + 1).astype(str).str.zfill(9)
    return orders


def build_appointments(rng: np.random.Generator, hospital: Hospital) -> pd.DataFrame:
    """patient, provider (workforce row, -1 none), department, status, booked, scheduled: one per
    clinic encounter (booked 2 to 40 days before it), some cancelled, some for after the month."""
    enc = hospital.encounters
    clinic = enc[np.isin(enc["type"].to_numpy(), BOOKED_TYPES)]
    n = len(clinic)
    kept = pd.DataFrame({"patient": clinic["patient"].to_numpy(), "provider": clinic["attending"].to_numpy(),
                         "department": clinic["department"].to_numpy(), "scheduled": clinic["start"].to_numpy()})
    kept["booked"] = kept["scheduled"] - (rng.integers(2 * 24, 40 * 24, n) * 3600).astype("timedelta64[s]")
    month_end = np.datetime64(hospital.month_end, "s")
    kept["status"] = np.where(kept["scheduled"] < month_end, "completed", "booked")
    extra = rng.choice(n, size=int(n * (CANCELLED + AHEAD)), replace=False) if n else np.array([], dtype=int)
    cancelled, ahead = extra[: int(n * CANCELLED)], extra[int(n * CANCELLED):]
    other = kept.iloc[cancelled].assign(status="cancelled")
    other["scheduled"] = other["scheduled"] + (rng.integers(1, 20, len(other)) * 86_400).astype("timedelta64[s]")
    later = kept.iloc[ahead].assign(status="booked")
    month_start = np.datetime64(hospital.month_start, "s")
    later["booked"] = month_start + (rng.random(len(later)) * (month_end - month_start).astype(np.int64)).astype(
        "timedelta64[s]")
    later["scheduled"] = month_end + (rng.integers(1, 45, len(later)) * 86_400 + 9 * 3600).astype("timedelta64[s]")
    later["provider"] = _members_of(rng, hospital.workforce, "physician", later["department"].to_numpy())
    booked = pd.concat([kept, other, later], ignore_index=True).sort_values("booked", kind="stable")
    booked = booked.reset_index(drop=True)
    booked["appointment_id"] = "APT" + pd.Series(np.arange(len(booked)) + 1).astype(str).str.zfill(9)
    return booked


def build_documents(rng: np.random.Generator, hospital: Hospital) -> pd.DataFrame:
    """patient, author (workforce row), record type, signed: the attending's note at each encounter's
    end, and a consult note by a physician of another department on some."""
    enc = hospital.encounters
    has = enc["attending"].to_numpy() >= 0
    notes = pd.DataFrame({"patient": enc["patient"].to_numpy()[has], "author": enc["attending"].to_numpy()[has],
                          "signed": enc["end"].to_numpy()[has] + (rng.integers(0, 12, int(has.sum())) * 3600)
                          .astype("timedelta64[s]")})
    asked = np.flatnonzero(rng.random(len(enc)) < CONSULTED)
    w = hospital.workforce
    physicians = np.flatnonzero((w["role"].to_numpy() == "physician") & w["termination_date"].isna().to_numpy())
    consultant = rng.choice(physicians, size=len(asked)) if len(physicians) else np.full(len(asked), -1)
    same = w["department"].to_numpy()[np.maximum(consultant, 0)] == enc["department"].to_numpy()[asked]
    asked, consultant = asked[~same & (consultant >= 0)], consultant[~same & (consultant >= 0)]
    start = enc["start"].to_numpy()[asked]
    consults = pd.DataFrame({"patient": enc["patient"].to_numpy()[asked], "author": consultant,
                             "signed": start + (rng.integers(1, 30, len(asked)) * 3600).astype("timedelta64[s]")})
    docs = pd.concat([notes.assign(record_type="note", consult=False),
                      consults.assign(record_type="note", consult=True)], ignore_index=True)
    docs = docs.sort_values("signed", kind="stable").reset_index(drop=True)
    docs["document_id"] = "DOC" + pd.Series(np.arange(len(docs)) + 1).astype(str).str.zfill(9)
    return docs


def add_treatment_data(rng: np.random.Generator, hospital: Hospital) -> None:
    """The hospital's orders, appointments and signed notes, from its encounters."""
    hospital.orders = build_orders(rng, hospital)
    hospital.appointments = build_appointments(rng, hospital)
    hospital.documents = build_documents(rng, hospital)
