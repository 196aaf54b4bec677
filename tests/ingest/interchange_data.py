"""A small synthetic interchange export (invented names, never real data), written by the tests."""

from __future__ import annotations

import csv
from pathlib import Path

WORKFORCE = [
    {"user_id": "dr.zoe", "first_name": "Zoë", "last_name": "O'Brien-Vasquez", "birth_date": "1980-01-02",
     "role": "Physician", "department": " Cardiology ", "hire_date": "2020-01-01", "termination_date": "",
     "address_line": "12 Quillfeather Street", "city": "Larkhaven", "state": "MA", "postal_code": "01101",
     "phone": "(413) 555-0100", "patient_mrn": "", "shift_start": "7:00", "shift_end": "19:00"},
    {"user_id": "n.anouk", "first_name": "Anouk", "last_name": "Thistlewood", "birth_date": "1985-07-08",
     "role": "nurse", "department": "Oncology", "hire_date": "2020-01-01", "termination_date": "2026-12-31",
     "address_line": "9 Brambleworth Road", "city": "Larkhaven", "state": "MA", "postal_code": "01102",
     "phone": "413.555.0199", "patient_mrn": "MRN-2", "shift_start": "19:00", "shift_end": "07:00"},
    {"user_id": "b.ilse", "first_name": "Ilse", "last_name": "Marchbanks", "role": "billing", "department": "Finance"},
]
PATIENTS = [
    {"mrn": "MRN-1", "first_name": "José", "last_name": "Núñez-Okonkwo", "birth_date": "1970-03-04", "sex": "M",
     "address_line": "1 Gallowglass Lane", "city": "Larkhaven", "state": "MA", "postal_code": "01103",
     "phone": "413-555-0101", "vip": "YES", "restricted": "0"},
    {"mrn": "MRN-2", "first_name": "Anouk", "last_name": "Thistlewood", "birth_date": "1985-07-08", "sex": "F",
     "address_line": "9 Brambleworth Rd.", "city": "Larkhaven", "state": "MA", "postal_code": "01102",
     "vip": "no", "restricted": "True"},
    {"mrn": "MRN-3", "first_name": "Oskar", "last_name": "Pemberton", "birth_date": "1940-05-06",
     "death_date": "2026-10-01", "vip": "", "restricted": "false"},
]
ENCOUNTERS = [
    {"encounter_id": "E1", "mrn": "MRN-1", "department": "Cardiology", "attending_user_id": "dr.zoe",
     "type": "Outpatient", "start": "2026-10-30T09:00:00", "end": ""},
    {"encounter_id": "E2", "mrn": "MRN-2", "department": "Oncology", "attending_user_id": "",
     "type": "inpatient", "start": "2026-10-28T22:00:00-04:00", "end": "2026-11-03T10:00:00-05:00"},
]
CARE_TEAM = [
    {"mrn": "MRN-2", "user_id": "n.anouk", "role": "primary nurse", "start": "2026-10-28T22:00:00", "end": ""},
]
ACCESS_LOG = [
    {"event_id": "a1", "timestamp": "2026-11-01T01:30:00", "user_id": "dr.zoe", "mrn": "MRN-1", "action": "view",
     "record_type": "note", "outcome": "", "purpose_of_use": "treat", "break_glass": "false", "reason": "",
     "workstation": "WS-7"},
    {"event_id": "a2", "timestamp": "2026-03-08T02:30:00", "user_id": "n.anouk", "mrn": "MRN-2", "action": "VIEW",
     "outcome": "success", "purpose_of_use": "TREAT", "break_glass": "Yes",
     "reason": "coded, \"urgent\"\nsecond line"},
    {"event_id": "a3", "timestamp": "2026-11-01T01:30:00-05:00", "user_id": "ghost.account", "mrn": "MRN-3",
     "action": "export"},
    {"event_id": "a4", "timestamp": "2026-11-01T12:00:00Z", "user_id": "dr.zoe", "mrn": "", "action": "login_failed"},
]

# contract version 2 (optional files): an order, an open one, an appointment, a cancelled one, a signed note
ORDERS = [
    {"order_id": "O1", "mrn": "MRN-1", "ordering_user_id": "dr.zoe", "performing_department": " Radiology ",
     "type": "Imaging", "placed_at": "2026-11-02T09:00:00", "completed_at": "2026-11-02T11:30:00-05:00"},
    {"order_id": "O2", "mrn": "MRN-2", "ordering_user_id": "", "performing_department": "Pharmacy",
     "type": "medication", "placed_at": "2026-11-03T08:00:00Z", "completed_at": ""},
]
APPOINTMENTS = [
    {"appointment_id": "AP1", "mrn": "MRN-1", "department": "Cardiology", "provider_user_id": "dr.zoe",
     "booked_at": "2026-10-20T10:00:00", "scheduled_for": "2026-11-05T14:00:00", "status": "Booked"},
    {"appointment_id": "AP2", "mrn": "MRN-3", "department": "Oncology", "provider_user_id": "",
     "booked_at": "2026-09-01T10:00:00", "scheduled_for": "2026-09-10T10:00:00", "status": "cancelled"},
]
DOCUMENTS = [
    {"document_id": "D1", "mrn": "MRN-2", "author_user_id": "n.anouk", "record_type": "Note",
     "signed_at": "2026-10-29T06:15:00"},
]


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_export(folder: Path, **overrides: list[dict] | None) -> Path:
    """The export above with some files replaced (a value of None leaves the file out)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"workforce": WORKFORCE, "patients": PATIENTS, "encounters": ENCOUNTERS, "care_team": CARE_TEAM,
             "access_log": ACCESS_LOG, **overrides}
    for name, rows in files.items():
        if rows is not None:
            write_csv(folder / f"{name}.csv", rows)
    return folder


def write_version2(folder: Path, **overrides: list[dict] | None) -> Path:
    """The version-2 files above beside an export (a value of None leaves the file out)."""
    files = {"orders": ORDERS, "appointments": APPOINTMENTS, "documents": DOCUMENTS, **overrides}
    for name, rows in files.items():
        if rows is not None:
            write_csv(folder / f"{name}.csv", rows)
    return folder


PLAINTEXT = ["Zoë", "O'Brien-Vasquez", "Quillfeather", "Larkhaven", "555-0100", "555-0199", "Thistlewood",
             "Brambleworth", "José", "Núñez-Okonkwo", "Gallowglass", "Marchbanks", "Pemberton", "1980-01-02",
             "1970-03-04", "1985-07-08", "urgent", "MRN-1"]
