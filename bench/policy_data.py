"""A synthetic interchange export for the policy benchmark: one month (November 2026, local time in
America/New_York, daylight saving ending on the 1st) of a hospital's EHR access log, with the
workforce, patients, encounters and care team that explain most of it. Invented data, never real.

Vectorised numpy throughout, one seeded Generator: the same --events and seed give the same files.

    shape:   workforce ~ events / 500 (a clinician opens ~500 charts a month), patients ~ events / 40,
             encounters ~ 1.3 per patient from September to November (their windows reach the month),
             care team: two nurses of the department on each inpatient or emergency encounter;
             contract version 2: ~1.4 orders per encounter (imaging done by Radiology, labs by
             Pathology, medication by the encounter's department), an appointment booked 2-40 days
             ahead for each outpatient or telehealth visit (7 % more cancelled), the attending's note
             signed at each encounter's end.
    access:  most are explained (department or attending within the encounter's clinical window, an
             order the user's department carries out (5 %),
             billing/coding/HIM/registration within the operational window), a few percent go to a
             random patient (no treatment relationship: 3 %), ~3 % of a shift worker's accesses fall at a
             random hour (after-hours), a few user-days open 60 charts each (excessive volume), and
             break-glass, denials, failed logins, prints and exports at realistic rates.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TIME_ZONE = "America/New_York"
FIRST_DAY, DAYS = np.datetime64("2026-11-01"), 30  # the month the accesses fall in (local days)
HISTORY_START = np.datetime64("2026-09-01")  # encounters begin from here
MINUTES = 1440

ROLES = {"nurse": .33, "physician": .14, "resident": .08, "technician": .08, "pharmacist": .03, "therapist": .04,
         "registration": .06, "billing": .05, "coding": .03, "him": .03, "research": .02, "it": .02, "admin": .04,
         "student": .03, "volunteer": .02}
OPERATIONAL = ("registration", "billing", "coding", "him")
CLINICAL_DEPARTMENTS = (
    "Cardiology", "Oncology", "Emergency Medicine", "Internal Medicine", "Pediatrics", "Obstetrics", "Neurology",
    "Orthopedics", "Radiology", "Surgery", "Psychiatry", "Nephrology", "Pulmonology", "Gastroenterology",
    "Endocrinology", "Dermatology", "Urology", "Ophthalmology", "Anesthesiology", "Intensive Care", "Geriatrics",
    "Infectious Disease", "Rheumatology", "Hematology", "Otolaryngology", "Neonatology", "Pathology",
    "Physical Medicine", "Transplant", "Palliative Care")
OFFICE_DEPARTMENTS = {"registration": "Patient Access", "billing": "Revenue Cycle", "coding": "Revenue Cycle",
                      "him": "Health Information Management", "it": "Information Services",
                      "admin": "Administration", "research": "Clinical Research"}
FIRST = np.array(["Ana", "Bo", "Chen", "Dmitri", "Eve", "Fatima", "Gus", "Hana", "Ivan", "José", "Kai", "Lena",
                  "Mo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Yara"])
LAST = np.array(["Smith", "Nguyen", "García", "O'Brien", "Müller", "Kowalski", "Okafor", "Haddad", "Tanaka",
                 "Silva", "Johnson", "Patel", "Kim", "Rossi", "Novak", "Cohen", "Dubois", "Larsen", "Moreau",
                 "Ivanova", "Mensah", "Yilmaz", "Brennan", "Takahashi", "Hernández", "Lindqvist"])
STREETS = np.array(["Main Street", "Elm Rd", "Oak Avenue", "Hill Lane", "River Dr", "Park Blvd", "Cedar Court",
                    "Maple Place", "Harbor Terrace", "Mill Circle"])
RECORD_TYPES = {"note": .30, "lab": .24, "medication": .15, "order": .10, "demographics": .09, "imaging": .08,
                "other": .02, "psychotherapy_note": .005, "substance_use": .005, "hiv": .005, "genetic": .005}
ACTIONS = {"view": .82, "update": .08, "create": .04, "print": .03, "search": .02, "export": .01}
REASONS = np.array(["patient in the emergency department, attending unavailable", "code blue, covering",
                    "transfer from outside hospital, chart needed", "consult requested by phone, urgent"])


@dataclass(frozen=True)
class ExportShape:
    events: int
    workforce: int
    patients: int
    encounters: int
    care_team: int
    seed: int
    orders: int = 0
    appointments: int = 0
    documents: int = 0


def shape_for(events: int) -> tuple[int, int]:
    """Workforce and patients for a month of `events` accesses."""
    return int(np.clip(events // 500, 60, 40_000)), int(np.clip(events // 40, 500, 300_000))


def _choice(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _ids(prefix: str, n: int, width: int) -> pd.Series:
    return prefix + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)


def _clock(minutes: np.ndarray) -> pd.Series:
    m = pd.Series(minutes % MINUTES)
    return (m // 60).astype(str).str.zfill(2) + ":" + (m % 60).astype(str).str.zfill(2)


def _contact(rng: np.random.Generator, n: int) -> dict[str, pd.Series]:
    postal = 2100 + rng.integers(0, max(20, n // 400), n)  # a few hundred people per postal code
    return {"address_line": pd.Series(rng.integers(1, 400, n)).astype(str) + " " + STREETS[rng.integers(0, len(STREETS), n)],
            "city": pd.Series(np.full(n, "Larkhaven")), "state": pd.Series(np.full(n, "MA")),
            "postal_code": pd.Series(postal).astype(str).str.zfill(5),
            "phone": "(617) 555-" + pd.Series(rng.integers(0, 10_000, n)).astype(str).str.zfill(4)}


def _birth_dates(rng: np.random.Generator, n: int, oldest: str, youngest: str) -> np.ndarray:
    lo, hi = np.datetime64(oldest), np.datetime64(youngest)
    return lo + rng.integers(0, (hi - lo).astype(int), n).astype("timedelta64[D]")


def workforce(rng: np.random.Generator, n: int) -> pd.DataFrame:
    role = _choice(rng, ROLES, n)
    clinical = np.array(CLINICAL_DEPARTMENTS)
    weight = 1 / np.arange(1, len(clinical) + 1) ** 0.6  # some departments are much larger than others
    department = clinical[rng.choice(len(clinical), n, p=weight / weight.sum())]
    office = pd.Series(role).map(OFFICE_DEPARTMENTS)
    department = np.where(office.notna(), office, department)
    shift = rng.random(n)
    # nurses: day 07-19 or night 19-07; physicians 07-18 or none; everyone else 08-17 (a tenth without shift)
    start = np.select([(role == "nurse") & (shift < .6), role == "nurse", role == "physician"],
                      [7 * 60, 19 * 60, 7 * 60], 8 * 60)
    end = np.select([(role == "nurse") & (shift < .6), role == "nurse", role == "physician"],
                    [19 * 60, 7 * 60, 18 * 60], 17 * 60)
    has_shift = ~(((role == "physician") & (shift < .3)) | ((role != "nurse") & (shift > .9)))
    terminated = rng.random(n) < .004  # accounts not closed when employment ended in October
    frame = pd.DataFrame({
        "user_id": _ids("u", n, 6), "first_name": FIRST[rng.integers(0, len(FIRST), n)],
        "last_name": LAST[rng.integers(0, len(LAST), n)],
        "birth_date": pd.Series(_birth_dates(rng, n, "1950-01-01", "2004-01-01")).astype(str),
        "role": role, "department": department,
        "hire_date": pd.Series(_birth_dates(rng, n, "2000-01-01", "2026-06-01")).astype(str),
        "termination_date": np.where(terminated, "2026-10-15", ""), **_contact(rng, n), "patient_mrn": "",
        "shift_start": np.where(has_shift, _clock(start), ""), "shift_end": np.where(has_shift, _clock(end), "")})
    return frame


def patients(rng: np.random.Generator, n: int) -> pd.DataFrame:
    dead = rng.random(n) < .005
    died = pd.Series(_birth_dates(rng, n, "2025-01-01", "2026-10-01")).astype(str)
    return pd.DataFrame({
        "mrn": _ids("M", n, 8), "first_name": FIRST[rng.integers(0, len(FIRST), n)],
        "last_name": LAST[rng.integers(0, len(LAST), n)],
        "birth_date": pd.Series(_birth_dates(rng, n, "1925-01-01", "2026-10-01")).astype(str),
        "death_date": np.where(dead, died, ""), "sex": np.where(rng.random(n) < .5, "F", "M"), **_contact(rng, n),
        "vip": np.where(rng.random(n) < .001, "true", "false"),
        "restricted": np.where(rng.random(n) < .002, "true", "false")})


def encounters(rng: np.random.Generator, n: int, n_patients: int, staff: pd.DataFrame) -> pd.DataFrame:
    """Encounters of clinical departments, each attended by a physician of that department."""
    physicians = staff[staff["role"] == "physician"]
    by_department = physicians.groupby("department")["user_id"].agg(list)
    departments = by_department.index.to_numpy()
    sizes = by_department.map(len).to_numpy()
    department = rng.choice(len(departments), n, p=sizes / sizes.sum())
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    pool = np.concatenate(by_department.to_numpy())
    attending = pool[offsets[department] + (rng.random(n) * sizes[department]).astype(int)]
    kind = _choice(rng, {"outpatient": .62, "inpatient": .15, "emergency": .15, "telehealth": .08}, n)
    minutes = (HISTORY_START + np.timedelta64(DAYS + 31 + 30 - 1, "D") - HISTORY_START).astype(int) * MINUTES
    start = HISTORY_START.astype("datetime64[m]") + rng.integers(0, minutes, n).astype("timedelta64[m]")
    length = np.select([kind == "inpatient", kind == "emergency"],
                       [rng.integers(MINUTES, 10 * MINUTES, n), rng.integers(240, 720, n)], rng.integers(20, 90, n))
    return pd.DataFrame({"encounter_id": _ids("V", n, 9), "mrn": _ids("M", n_patients, 8).to_numpy()[
        rng.integers(0, n_patients, n)], "department": departments[department], "attending_user_id": attending,
        "type": kind, "start": np.datetime_as_string(start, unit="s"),
        "end": np.datetime_as_string(start + length.astype("timedelta64[m]"), unit="s")})


def care_team(rng: np.random.Generator, visits: pd.DataFrame, staff: pd.DataFrame) -> pd.DataFrame:
    """Two nurses of the encounter's department on each inpatient or emergency stay."""
    stays = visits[visits["type"].isin(["inpatient", "emergency"])]
    nurses = staff[staff["role"] == "nurse"].groupby("department")["user_id"].agg(list)
    stays = stays[stays["department"].isin(nurses.index)]
    sizes = stays["department"].map(nurses.map(len)).to_numpy()
    offsets = stays["department"].map(pd.Series(np.concatenate(([0], np.cumsum(nurses.map(len))[:-1])),
                                                 index=nurses.index)).to_numpy()
    pool = np.concatenate(nurses.to_numpy())
    picks = [pool[offsets + (rng.random(len(stays)) * sizes).astype(int)] for _ in range(2)]
    team = pd.concat([pd.DataFrame({"mrn": stays["mrn"].to_numpy(), "user_id": p, "role": "nurse",
                                    "start": stays["start"].to_numpy(), "end": stays["end"].to_numpy()})
                      for p in picks])
    return team.drop_duplicates(["mrn", "user_id", "start"])


def _pick(rng: np.random.Generator, wanted: np.ndarray, members: pd.Series) -> np.ndarray:
    """For each value of `wanted` (a group name), a random element of `members[group]`; "" where none."""
    sizes = members.map(len)
    offsets = pd.Series(np.concatenate(([0], np.cumsum(sizes.to_numpy())[:-1])), index=members.index)
    size = pd.Series(wanted).map(sizes).fillna(0).to_numpy(dtype=np.int64)
    start = pd.Series(wanted).map(offsets).fillna(0).to_numpy(dtype=np.int64)
    pool = np.append(np.concatenate(members.to_numpy()), "")
    index = np.where(size > 0, start + (rng.random(len(wanted)) * size).astype(np.int64), len(pool) - 1)
    return pool[index]


def _window_minutes(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, before: int, after: int) -> np.ndarray:
    """A minute of the month inside [start - before days, end + after days] (a day's margin each side,
    so that moving the time within its day stays inside); -1 where the window misses the month."""
    month = (start.astype("datetime64[m]") - FIRST_DAY.astype("datetime64[m]")).astype(np.int64)
    lo = np.maximum(month - (before - 1) * MINUTES, 0)
    ends = (end.astype("datetime64[m]") - FIRST_DAY.astype("datetime64[m]")).astype(np.int64)
    hi = np.minimum(ends + (after - 1) * MINUTES, DAYS * MINUTES - 1)
    at = lo + (rng.random(len(start)) * np.maximum(hi - lo, 0)).astype(np.int64)
    return np.where(hi >= lo, at, -1)


def _kinds(rng: np.random.Generator, n: int) -> np.ndarray:
    return _choice(rng, {"department": .49, "order": .05, "care_team": .08, "attending": .08, "operational": .25,
                         "random": .03, "failed_login": .02}, n)


def _stamp(values: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(values, unit="s").astype(object)
    text[np.isnat(values)] = ""
    return text


def orders(rng: np.random.Generator, visits: pd.DataFrame) -> pd.DataFrame:
    """~1.4 orders per encounter, placed during it, completed 1-48 hours later (8 % still open)."""
    row = np.repeat(np.arange(len(visits)), rng.poisson(1.4, len(visits)))
    n = len(row)
    kind = _choice(rng, {"lab": .5, "imaging": .2, "medication": .3}, n)
    start = visits["start"].to_numpy(dtype="datetime64[m]")[row]
    end = visits["end"].to_numpy(dtype="datetime64[m]")[row]
    span = np.maximum((end - start).astype(np.int64), 1)
    placed = start + (rng.random(n) * np.minimum(span, MINUTES)).astype("timedelta64[m]")
    done = placed + rng.integers(60, 48 * 60, n).astype("timedelta64[m]")
    done[rng.random(n) < .08] = np.datetime64("NaT")
    performing = np.select([kind == "imaging", kind == "lab"], ["Radiology", "Pathology"],
                           visits["department"].to_numpy()[row])
    return pd.DataFrame({"order_id": _ids("O", n, 9), "mrn": visits["mrn"].to_numpy()[row],
                         "ordering_user_id": visits["attending_user_id"].to_numpy()[row],
                         "performing_department": performing, "type": kind, "placed_at": _stamp(placed),
                         "completed_at": _stamp(done)})


def appointments(rng: np.random.Generator, visits: pd.DataFrame) -> pd.DataFrame:
    """An appointment booked 2-40 days ahead of each outpatient or telehealth visit; 7 % more cancelled."""
    booked_visits = visits[visits["type"].isin(["outpatient", "telehealth"])]
    again = booked_visits.iloc[rng.choice(len(booked_visits), int(len(booked_visits) * .07), replace=False)]
    both = pd.concat([booked_visits.assign(status="completed"), again.assign(status="cancelled")], ignore_index=True)
    scheduled = both["start"].to_numpy(dtype="datetime64[m]")
    booked = scheduled - rng.integers(2 * MINUTES, 40 * MINUTES, len(both)).astype("timedelta64[m]")
    month_end = (FIRST_DAY + DAYS).astype("datetime64[m]")
    status = np.where((both["status"] == "completed") & (scheduled >= month_end), "booked", both["status"])
    return pd.DataFrame({"appointment_id": _ids("P", len(both), 9), "mrn": both["mrn"].to_numpy(),
                         "department": both["department"].to_numpy(),
                         "provider_user_id": both["attending_user_id"].to_numpy(), "booked_at": _stamp(booked),
                         "scheduled_for": _stamp(scheduled), "status": status})


def documents(rng: np.random.Generator, visits: pd.DataFrame) -> pd.DataFrame:
    """The attending's note, signed 0-12 hours after each encounter's end."""
    signed = visits["end"].to_numpy(dtype="datetime64[m]") + rng.integers(0, 12 * 60, len(visits)).astype(
        "timedelta64[m]")
    return pd.DataFrame({"document_id": _ids("D", len(visits), 9), "mrn": visits["mrn"].to_numpy(),
                         "author_user_id": visits["attending_user_id"].to_numpy(), "record_type": "note",
                         "signed_at": _stamp(signed)})


def access_log(rng: np.random.Generator, n: int, staff: pd.DataFrame, visits: pd.DataFrame,
               team: pd.DataFrame, n_patients: int, placed: pd.DataFrame | None = None) -> pd.DataFrame:
    kind = _kinds(rng, n)
    user = np.full(n, "", dtype=object)
    mrn = np.full(n, "", dtype=object)
    minute = np.full(n, -1, dtype=np.int64)
    v_start = visits["start"].to_numpy(dtype="datetime64[m]")
    v_end = visits["end"].to_numpy(dtype="datetime64[m]")
    clinical = staff[~staff["role"].isin([*OPERATIONAL, "it", "admin", "research"])]
    members = clinical.groupby("department")["user_id"].agg(list)
    for what, before, after in (("department", 7, 30), ("attending", 7, 30), ("operational", 30, 90)):
        rows = np.flatnonzero(kind == what)
        reaching = np.flatnonzero(v_end + np.timedelta64(after - 1, "D") >= FIRST_DAY)  # windows that reach the month
        pick = reaching[rng.integers(0, len(reaching), len(rows))]
        mrn[rows] = visits["mrn"].to_numpy()[pick]
        minute[rows] = _window_minutes(rng, v_start[pick], v_end[pick], before, after)
        if what == "department":
            user[rows] = _pick(rng, visits["department"].to_numpy()[pick], members)
        elif what == "attending":
            user[rows] = visits["attending_user_id"].to_numpy()[pick]
        else:
            office = staff.loc[staff["role"].isin(OPERATIONAL), "user_id"].to_numpy()
            user[rows] = office[rng.integers(0, len(office), len(rows))]
    rows = np.flatnonzero(kind == "order")
    if placed is not None and len(placed) and len(rows):  # the department that carries the order out opens the chart
        start = placed["placed_at"].to_numpy(dtype="datetime64[m]")
        done = pd.to_datetime(placed["completed_at"].replace("", None)).to_numpy(dtype="datetime64[m]")
        done = np.where(np.isnat(done), start, done)
        reaching = np.flatnonzero(done + np.timedelta64(29, "D") >= FIRST_DAY)
        pick = reaching[rng.integers(0, len(reaching), len(rows))]
        mrn[rows] = placed["mrn"].to_numpy()[pick]
        minute[rows] = _window_minutes(rng, start[pick], done[pick], 1, 30)
        user[rows] = _pick(rng, placed["performing_department"].to_numpy()[pick], members)
    else:
        kind[rows] = "department"
    rows = np.flatnonzero(kind == "care_team")
    pick = rng.integers(0, len(team), len(rows))
    user[rows], mrn[rows] = team["user_id"].to_numpy()[pick], team["mrn"].to_numpy()[pick]
    minute[rows] = _window_minutes(rng, team["start"].to_numpy(dtype="datetime64[m]")[pick],
                                   team["end"].to_numpy(dtype="datetime64[m]")[pick], 1, 1)
    everyone = staff["user_id"].to_numpy()
    loose = (kind == "random") | (kind == "failed_login") | (user == "")
    user[loose] = everyone[rng.integers(0, len(everyone), int(loose.sum()))]
    patient_ids = _ids("M", n_patients, 8).to_numpy()
    random = kind == "random"
    mrn[random] = patient_ids[rng.integers(0, n_patients, int(random.sum()))]
    mrn[kind == "failed_login"] = ""
    unplaced = minute < 0
    minute[unplaced] = rng.integers(0, DAYS * MINUTES, int(unplaced.sum()))
    user, mrn, minute = _snoopers(rng, user, mrn, minute, clinical, patient_ids)
    at = _on_shift(rng, user, minute, staff)
    return _columns(rng, kind, user, mrn, at, staff)


def _snoopers(rng, user, mrn, minute, clinical, patient_ids):
    """A few user-days that open 60 charts each (excessive volume), written over the tail."""
    days, per_day = max(1, len(user) // 250_000), 60
    if days * per_day * 4 > len(user):
        return user, mrn, minute
    who = clinical["user_id"].to_numpy()[rng.integers(0, len(clinical), days)]
    rows = len(user) - days * per_day + np.arange(days * per_day)
    user[rows] = np.repeat(who, per_day)
    mrn[rows] = patient_ids[rng.integers(0, len(patient_ids), len(rows))]
    minute[rows] = np.repeat(rng.integers(0, DAYS, days) * MINUTES, per_day) + rng.integers(0, MINUTES, len(rows))
    return user, mrn, minute


def _shift_minutes(staff: pd.DataFrame, column: str) -> pd.Series:
    """A workforce clock column ("HH:MM", "" for none) as minutes after midnight by user id (-1: none)."""
    text = staff[column]
    given = (text != "").to_numpy()
    minutes = np.full(len(staff), -1, dtype=np.int64)
    minutes[given] = (text[given].str[:2].astype(int) * 60 + text[given].str[3:5].astype(int)).to_numpy()
    return pd.Series(minutes, index=staff["user_id"].to_numpy())


def _on_shift(rng: np.random.Generator, user: np.ndarray, minute: np.ndarray, staff: pd.DataFrame) -> np.ndarray:
    """Local wall-clock times: the event's day, at a time inside the user's shift (3 % anywhere in the
    day: after-hours), 07:00-20:00 for users without a shift; seconds at random."""
    s = pd.Series(user).map(_shift_minutes(staff, "shift_start")).to_numpy()
    e = pd.Series(user).map(_shift_minutes(staff, "shift_end")).to_numpy()
    has = s >= 0
    length = np.where((e - s) % MINUTES == 0, MINUTES, (e - s) % MINUTES)
    inside = (s + rng.random(len(user)) * length).astype(np.int64) % MINUTES
    anywhere = rng.integers(0, MINUTES, len(user))
    office = rng.integers(7 * 60, 20 * 60, len(user))
    of_day = np.where(has, np.where(rng.random(len(user)) < .97, inside, anywhere), office)
    day = minute // MINUTES
    return (FIRST_DAY.astype("datetime64[s]") + (day * MINUTES + of_day) * 60 + rng.integers(0, 60, len(user)))


def _columns(rng, kind, user, mrn, at, staff) -> pd.DataFrame:
    n = len(user)
    role = pd.Series(user).map(staff.set_index("user_id")["role"]).to_numpy()
    operational = np.isin(role, OPERATIONAL)
    action = np.where(kind == "failed_login", "login_failed", _choice(rng, ACTIONS, n))
    record = np.where(kind == "failed_login", "", _choice(rng, RECORD_TYPES, n))
    sensitive = np.isin(record, ["psychotherapy_note", "substance_use", "hiv", "genetic"])
    record = np.where(operational & sensitive, "lab", record)
    purpose = np.select([kind == "failed_login", np.isin(role, ["billing", "coding"]), operational],
                        ["", "HPAYMT", "HOPERAT"], "TREAT")
    glass = (rng.random(n) < .0005) & (kind != "failed_login")
    reason = np.where(glass & (rng.random(n) < .8), REASONS[rng.integers(0, len(REASONS), n)], "")
    denied = (kind == "failed_login") | (rng.random(n) < .003)
    order = np.argsort(at, kind="stable")  # an EHR exports its log in time order
    frame = pd.DataFrame({
        "timestamp": np.datetime_as_string(at, unit="s"), "user_id": user, "mrn": mrn, "action": action,
        "record_type": record, "outcome": np.where(denied, "denied", "success"), "purpose_of_use": purpose,
        "break_glass": np.where(glass, "true", "false"), "reason": reason,
        "workstation": "WS-" + pd.Series(rng.integers(1, 5000, n)).astype(str)}).iloc[order]
    frame.insert(0, "event_id", _ids("A", n, 9).to_numpy())
    return frame.reset_index(drop=True)


# A month of more accesses is made in parts of this many, each in time order, then merged by time: the
# whole of a 60-million-event month as Python strings would not fit this machine's memory
LOG_PART_EVENTS = 10_000_000


def _access_log_in_parts(folder: Path, rng, events: int, staff, visits, team, n_patients: int, placed) -> None:
    """access_log.csv of `events` accesses made LOG_PART_EVENTS at a time, merged in time order and
    numbered A000000001... in that order, as access_log numbers a month made whole."""
    parts, header = [], ""
    for i, start in enumerate(range(0, events, LOG_PART_EVENTS)):
        log = access_log(rng, min(LOG_PART_EVENTS, events - start), staff, visits, team, n_patients, placed)
        parts.append(folder / f".access_log.{i}.csv")
        log.to_csv(parts[-1], index=False, header=False)
        header = ",".join(log.columns)
        del log
    files = [p.open(encoding="utf-8", newline="") for p in parts]
    try:
        with (folder / "access_log.csv").open("w", newline="", encoding="utf-8") as out:
            out.write(header + "\n")
            # each part's lines start "A" + 9 digits + "," then the timestamp (19 characters)
            for n, line in enumerate(heapq.merge(*files, key=lambda line: line[11:30]), start=1):
                out.write(f"A{n:09d}{line[10:]}")
    finally:
        for f in files:
            f.close()
        for p in parts:
            p.unlink()


def write_export(folder: Path, events: int, seed: int = 20261101, chunk_rows: int = 1_000_000) -> ExportShape:
    """The interchange files of a month of `events` accesses, in `folder`: the five of the contract and
    the three of its version 2."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_staff, n_patients = shape_for(events)
    staff = workforce(rng, n_staff)
    people = patients(rng, n_patients)
    visits = encounters(rng, int(n_patients * 1.3), n_patients, staff)
    team = care_team(rng, visits, staff)
    placed, booked, signed = orders(rng, visits), appointments(rng, visits), documents(rng, visits)
    for name, frame in (("workforce", staff), ("patients", people), ("encounters", visits), ("care_team", team),
                        ("orders", placed), ("appointments", booked), ("documents", signed)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    if events <= LOG_PART_EVENTS:
        log = access_log(rng, events, staff, visits, team, n_patients, placed)
        with (folder / "access_log.csv").open("w", newline="", encoding="utf-8") as f:
            for i in range(0, len(log), chunk_rows):
                log.iloc[i : i + chunk_rows].to_csv(f, index=False, header=i == 0)
    else:
        _access_log_in_parts(folder, rng, events, staff, visits, team, n_patients, placed)
    return ExportShape(events, n_staff, n_patients, len(visits), len(team), seed, len(placed), len(booked), len(signed))
