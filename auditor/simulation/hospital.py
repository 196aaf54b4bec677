"""The synthetic hospital: departments, a workforce with roles, shifts and homes (some of them
patients, many with family among the patients), encounters and care teams.

Whole arrays at a time with one seeded numpy Generator, so a million patients cost seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from auditor.simulation import people
from auditor.simulation.local_time import wall_to_utc

DAY = np.timedelta64(1, "D")
CLINICAL = ("Emergency", "Cardiology", "Oncology", "Internal Medicine", "General Surgery", "Orthopedics",
            "Pediatrics", "Obstetrics", "Neurology", "Psychiatry", "Intensive Care", "Family Medicine")
INPATIENT = ("Internal Medicine", "Cardiology", "Oncology", "General Surgery", "Orthopedics", "Neurology",
             "Intensive Care", "Pediatrics", "Obstetrics", "Psychiatry")
CLINIC = tuple(d for d in CLINICAL if d not in ("Emergency", "Intensive Care"))
HOME_DEPARTMENT = {"pharmacist": ("Pharmacy",), "technician": ("Radiology", "Laboratory"),
                   "therapist": ("Rehabilitation", "Rehabilitation", "Psychiatry"), "registration": ("Patient Access",),
                   "billing": ("Patient Financial Services",), "coding": ("Coding",),
                   "him": ("Health Information Management",), "research": ("Research",),
                   "it": ("Information Technology",), "admin": ("Administration",),
                   "volunteer": ("Volunteer Services",), "other": ("Facilities",)}
ROLE_MIX = {"physician": .12, "resident": .05, "nurse": .34, "pharmacist": .03, "therapist": .04, "technician": .08,
            "registration": .06, "billing": .05, "coding": .03, "him": .03, "research": .02, "it": .03,
            "admin": .04, "student": .03, "volunteer": .03, "other": .02}
# How a role's work finds its patients ("Explained accesses" in the interchange contract).
DEPARTMENT_ROLES = ("physician", "resident", "nurse", "student")
CARE_TEAM_ROLES = ("pharmacist", "technician", "therapist")  # therapists in Psychiatry work by department
OPERATIONAL_ROLES = ("registration", "billing", "coding", "him")
# Shifts: (start, end, weight); None = no fixed shift (never after-hours by the contract).
SHIFTS = {
    "nurse": (("07:00", "19:00", 4), ("19:00", "07:00", 3), ("07:00", "15:00", 1), ("15:00", "23:00", 1),
              ("23:00", "07:00", 1)),
    "physician": ((None, None, 6), ("08:00", "18:00", 3), ("19:00", "07:00", 1)),
    "resident": (("06:00", "18:00", 7), ("18:00", "06:00", 3)),
    "pharmacist": (("07:00", "15:30", 5), ("15:00", "23:30", 3), ("23:00", "07:30", 2)),
    "technician": (("07:00", "15:30", 5), ("15:00", "23:30", 3), ("23:00", "07:30", 2)),
    "therapist": (("08:00", "16:30", 1),),
    "registration": (("07:00", "15:00", 5), ("15:00", "23:00", 3), ("23:00", "07:00", 2)),
    "billing": (("08:00", "16:30", 7), (None, None, 3)), "coding": (("08:00", "16:30", 7), (None, None, 3)),
    "him": (("08:00", "16:30", 7), (None, None, 3)), "research": (("09:00", "17:00", 6), (None, None, 4)),
    "it": (("09:00", "17:00", 6), (None, None, 4)), "admin": (("09:00", "17:00", 6), (None, None, 4)),
    "student": (("08:00", "16:00", 1),), "volunteer": (("09:00", "13:00", 1), ("13:00", "17:00", 1)),
    "other": (("07:00", "15:00", 1),),
}
ENCOUNTER_TYPES = (("outpatient", .55), ("emergency", .15), ("inpatient", .12), ("telehealth", .15), ("other", .03))
ENCOUNTER_DAYS_BEFORE = 100  # encounters start up to this many days before the month


@dataclass
class Hospital:
    month_start: np.datetime64  # first local day of the simulated month
    month_end: np.datetime64  # first local day after it
    zone: ZoneInfo
    patients: pd.DataFrame
    area: people.Area
    workforce: pd.DataFrame
    encounters: pd.DataFrame
    care_team: pd.DataFrame
    # contract version 2 (auditor.simulation.treatment): orders, appointments, notes signed in charts
    orders: pd.DataFrame = field(default_factory=pd.DataFrame)
    appointments: pd.DataFrame = field(default_factory=pd.DataFrame)
    documents: pd.DataFrame = field(default_factory=pd.DataFrame)


def _minutes(text) -> int:
    return -1 if text is None else int(text[:2]) * 60 + int(text[3:])


def _shifts(rng: np.random.Generator, roles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    start, end = np.full(len(roles), -1), np.full(len(roles), -1)
    for role, options in SHIFTS.items():
        who = np.flatnonzero(roles == role)
        weights = np.array([w for *_, w in options], dtype=float)
        chosen = rng.choice(len(options), size=len(who), p=weights / weights.sum())
        start[who] = np.array([_minutes(s) for s, _, _ in options])[chosen]
        end[who] = np.array([_minutes(e) for _, e, _ in options])[chosen]
    return start, end


def _departments(rng: np.random.Generator, roles: np.ndarray) -> np.ndarray:
    out = people.pick(rng, CLINICAL, len(roles), p=_clinical_weights())
    for role, options in HOME_DEPARTMENT.items():
        who = roles == role
        out[who] = people.pick(rng, options, int(who.sum()))
    return out


def _clinical_weights() -> np.ndarray:
    w = np.array([3.0 if d in ("Emergency", "Internal Medicine") else 1.5 if d in ("Intensive Care", "Family Medicine")
                  else 1.0 for d in CLINICAL])
    return w / w.sum()


def _employment(rng: np.random.Generator, n: int, month_start: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
    hire = month_start - rng.integers(30, 25 * 365, n).astype("timedelta64[D]")
    new = rng.random(n) < 0.01
    hire[new] = month_start + rng.integers(7, 18, int(new.sum())).astype("timedelta64[D]")
    term = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    leaving = (rng.random(n) < 0.015) & ~new
    term[leaving] = month_start + rng.integers(4, 18, int(leaving.sum())).astype("timedelta64[D]")
    gone = (rng.random(n) < 0.01) & ~new & ~leaving
    term[gone] = month_start - rng.integers(5, 60, int(gone.sum())).astype("timedelta64[D]")
    return hire, term


def _homes(rng: np.random.Generator, n: int, patients: pd.DataFrame, area: people.Area,
           month_start: np.datetime64) -> pd.DataFrame:
    """Each member's home and identity. About 35% are patients themselves, 35% live with family
    among the patients, the rest in homes of their own on the same streets."""
    kind = rng.choice(3, size=n, p=[.35, .35, .30])
    age = (month_start - patients["birth_date"].to_numpy()) / np.timedelta64(365, "D")
    eligible = np.flatnonzero((age > 22) & (age < 68) & patients["death_date"].isna().to_numpy()
                              & ~patients["vip"].to_numpy())
    own = np.full(n, -1)
    as_patient = np.flatnonzero(kind == 0)[: len(eligible)]
    own[as_patient] = rng.choice(eligible, size=len(as_patient), replace=False)
    first, last = np.empty(n, dtype=object), np.empty(n, dtype=object)
    birth = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    household = np.full(n, -1, dtype=np.int64)
    mine = own >= 0
    first[mine], last[mine] = patients["first"].to_numpy()[own[mine]], patients["last"].to_numpy()[own[mine]]
    birth[mine] = patients["birth_date"].to_numpy()[own[mine]]
    household[mine] = patients["household"].to_numpy()[own[mine]]
    rest = np.flatnonzero(~mine)
    female = rng.random(len(rest)) < 0.5
    first[rest] = people.canonical_first(np.where(
        female, rng.integers(0, len(people.FIRST_NAMES_F), len(rest)),
        len(people.FIRST_NAMES_F) + rng.integers(0, len(people.FIRST_NAMES_M), len(rest))))
    birth[rest] = month_start - rng.integers(20 * 365, 66 * 365, len(rest)).astype("timedelta64[D]")
    with_family = rest[kind[rest] == 1]
    household[with_family] = rng.integers(0, len(area.households), len(with_family))
    alone = rest[kind[rest] != 1]
    household[alone] = _new_households(rng, area, len(alone))
    others = np.concatenate([with_family, alone])
    last[others] = people.canonical_last(area.households["surname"].to_numpy()[household[others]])
    return pd.DataFrame({"own_patient": own, "household": household, "first": first, "last": last,
                         "birth_date": birth})


def _new_households(rng: np.random.Generator, area: people.Area, n: int) -> np.ndarray:
    """Homes with no patient in them, on existing streets: numbers 1 mod 4 never meet the patients'."""
    first = len(area.households)
    added = pd.DataFrame({"street": rng.integers(0, len(area.streets), n), "number": 1 + 4 * np.arange(n) + 4000,
                          "unit": 0, "surname": rng.choice(len(people.LAST_NAMES), size=n, p=people.surname_weights()),
                          "phone_key": 9_100_000 + np.arange(n), "area_code": people.pick(rng, people.AREA_CODES, n)})
    area.households = pd.concat([area.households, added], ignore_index=True)
    return first + np.arange(n)


def build_workforce(rng: np.random.Generator, n: int, patients: pd.DataFrame, area: people.Area,
                    month_start: np.datetime64) -> pd.DataFrame:
    roles = people.pick(rng, list(ROLE_MIX), n, p=np.array(list(ROLE_MIX.values())) / sum(ROLE_MIX.values()))
    hire, term = _employment(rng, n, month_start)
    shift_start, shift_end = _shifts(rng, roles)
    homes = _homes(rng, n, patients, area, month_start)
    users = pd.Series(rng.permutation(n) + 1000).astype(str).str.zfill(5).to_numpy()
    initials = pd.Series(people.written_names(rng, homes["first"].to_numpy(), 1.0)).str[0].str.lower().to_numpy()
    workforce = pd.DataFrame({"user_id": initials + "." + users, "role": roles, "department": _departments(rng, roles),
                              "hire_date": hire, "termination_date": term, "shift_start": shift_start,
                              "shift_end": shift_end}).join(homes)
    adult = workforce["birth_date"].to_numpy() + np.timedelta64(18 * 365, "D")
    workforce["hire_date"] = np.maximum(workforce["hire_date"].to_numpy(), adult)  # nobody hired as a child
    households = area.households.iloc[workforce["household"].to_numpy()]
    workforce["street"] = households["street"].to_numpy()
    workforce["phone_key"] = households["phone_key"].to_numpy()
    workforce["area_code"] = households["area_code"].to_numpy()
    workforce["linked"] = (workforce["own_patient"] >= 0) & (rng.random(n) < 0.6)  # else: name + birth date
    untold = (workforce["own_patient"] < 0) & (rng.random(n) < 0.1)  # birth_date is optional in the HR feed
    workforce.loc[untold, "birth_date"] = np.datetime64("NaT")
    return workforce


def _encounter_frame(rng: np.random.Generator, patients: pd.DataFrame, share: float, month_start, month_end,
                     zone: ZoneInfo) -> pd.DataFrame:
    alive = np.flatnonzero(patients["death_date"].isna().to_numpy())
    seen = rng.choice(alive, size=int(len(alive) * share), replace=False)
    patient = np.repeat(seen, 1 + rng.poisson(0.6, len(seen)))
    n = len(patient)
    kinds, weights = zip(*ENCOUNTER_TYPES)
    kind = people.pick(rng, kinds, n, p=np.array(weights))
    span = int((month_end - month_start) / DAY) + ENCOUNTER_DAYS_BEFORE
    day = month_start - np.timedelta64(ENCOUNTER_DAYS_BEFORE, "D") + rng.integers(0, span, n).astype("timedelta64[D]")
    clinic_hours = np.isin(kind, ("outpatient", "telehealth", "other"))
    minute = np.where(clinic_hours, rng.integers(8 * 60, 17 * 60, n), rng.integers(0, 24 * 60, n))
    start = wall_to_utc(day.astype("datetime64[s]") + (minute * 60).astype("timedelta64[s]"), zone)
    length_min = np.select([kind == "inpatient", kind == "emergency", kind == "telehealth"],
                           [rng.integers(1, 10, n) * 1440 + rng.integers(0, 1440, n), rng.integers(120, 600, n),
                            rng.integers(15, 40, n)], rng.integers(20, 90, n))
    department = np.select([kind == "emergency", kind == "inpatient"],
                           [np.full(n, "Emergency", dtype=object), people.pick(rng, INPATIENT, n)],
                           people.pick(rng, CLINIC, n))
    return pd.DataFrame({"patient": patient, "type": kind, "department": department, "start": start,
                         "end": start + (length_min * 60).astype("timedelta64[s]")})


def build_encounters(rng: np.random.Generator, patients: pd.DataFrame, workforce: pd.DataFrame, month_start,
                     month_end, zone: ZoneInfo, share: float = 0.35) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Encounters of about `share` of the living patients (their attending a physician of the
    department, one in ten a consultant from another), and the nurses on inpatient and emergency teams."""
    enc = _encounter_frame(rng, patients, share, month_start, month_end, zone)
    enc = enc.sort_values("start", kind="stable").reset_index(drop=True)
    enc["encounter_id"] = "ENC" + pd.Series(np.arange(len(enc)) + 1).astype(str).str.zfill(8)
    enc["attending"] = _members_of(rng, workforce, "physician", enc["department"].to_numpy(), consult=0.1)
    acute = np.flatnonzero(np.isin(enc["type"].to_numpy(), ("inpatient", "emergency")))
    nurse = _members_of(rng, workforce, "nurse", enc["department"].to_numpy()[acute])
    team = pd.DataFrame({"patient": enc["patient"].to_numpy()[acute], "member": nurse, "role": "nurse",
                         "start": enc["start"].to_numpy()[acute], "end": enc["end"].to_numpy()[acute]})
    return enc, team[team["member"] >= 0].reset_index(drop=True)


def _members_of(rng: np.random.Generator, workforce: pd.DataFrame, role: str, departments: np.ndarray,
                consult: float = 0.0) -> np.ndarray:
    """A random active member of `role` in each department (-1 where there is none)."""
    active = workforce["termination_date"].isna().to_numpy() & (workforce["role"].to_numpy() == role)
    staff = workforce[active]
    out = np.full(len(departments), -1)
    if staff.empty:
        return out
    order = np.argsort(staff["department"].to_numpy(), kind="stable")
    keys = staff["department"].to_numpy()[order]
    rows = staff.index.to_numpy()[order]
    lo = np.searchsorted(keys, departments, side="left")
    hi = np.searchsorted(keys, departments, side="right")
    has = hi > lo
    pick = lo + (rng.random(len(departments)) * (hi - lo)).astype(np.int64)
    out[has] = rows[pick[has]]
    other = (rng.random(len(departments)) < consult) | ~has
    out[other] = rng.choice(rows, size=int(other.sum()))
    return out


def build_hospital(rng: np.random.Generator, *, patients: int, workforce: int, month_start: np.datetime64,
                   zone: ZoneInfo, seeded: pd.DataFrame | None = None) -> Hospital:
    month_end = (month_start.astype("datetime64[M]") + 1).astype("datetime64[D]")
    pts, area = people.build_patients(rng, patients, month_start)
    if seeded is not None:
        pts = people.seed_patients(pts, seeded, month_start)
    staff = build_workforce(rng, workforce, pts, area, month_start)
    enc, team = build_encounters(rng, pts, staff, month_start, month_end, zone)
    return Hospital(month_start, month_end, zone, pts, area, staff, enc, team)
