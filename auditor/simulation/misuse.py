"""Labelled misuse of time, volume and override: work far outside one's shift, an account used after
termination or before hire, a day of far too many charts, a bulk export, break-the-glass (with and
without a reason), a burst of refusals, and curiosity browsing (unusual-access). Each is labelled with
its rule by construction; the accesses themselves are explained, so no relationship rule claims them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.simulation.hospital import Hospital
from auditor.simulation.local_time import wall_to_utc
from auditor.simulation.traffic import (CAP, DAY_S, EVENT_COLUMNS, EncounterIndex, care_team_rows, choose_patients,
                                        department_codes, modes, no_encounter_pool, times_in_shift)
from auditor.simulation.violations import Violators, month_days

# per workforce member a month, as violations.RATES (break-glass: accesses, about two per member)
RATES = {"after-hours": 1.1e-3, "terminated-account": 4e-4, "before-hire-account": 1.5e-4, "census-harvest": 7.5e-5,
         "bulk-export": 7.5e-5, "break-glass": 2.2e-3, "password-guessing": 1.1e-4, "curiosity": 1.1e-4}
MINIMUM = {"census-harvest": 2, "bulk-export": 2, "password-guessing": 2}
CURIOUS_CHARTS = 30  # per curious member: over unusual-access's minimum of 10 (peers' median is about 1)
CURIOUS_MINIMUM = 15  # a member with fewer such charts in reach is not chosen
CURIOUS_AGO = (26, 29)  # days since the encounter ended: late (over 25), still in the department's window (30)
HARVEST = 48  # distinct patients in the day: over 3 x any peer median (each user-day holds at most CAP)
EXPORTED = 22  # distinct patients printed or exported: over the threshold of 20, under excessive-volume's 30
DENIALS = 6  # refusals within 25 minutes: over the threshold of 5 in 60 minutes
REASONS = ("Unresponsive patient in the trauma bay, identity confirmed by EMS",
           "Cardiac arrest on arrival; chart needed for allergies and code status",
           "Patient transferred from outside hospital, not yet on my team",
           "Rapid response called on the ward; covering for the primary team",
           "Overdose, patient unable to give history")
BREAK_GLASS_DEPARTMENTS = ("Emergency", "Intensive Care")
assert HARVEST > 3 * CAP and EXPORTED < 30


def count(rule: str, members: int) -> int:
    return max(MINIMUM.get(rule, 3), int(round(RATES[rule] * members)))


def _frame(user, patient, at, scenario: str, rule: str, *, action="view", record_type="note", purpose="TREAT",
           outcome="success", break_glass=False, reason=None, explained=True) -> pd.DataFrame:
    return pd.DataFrame({"user": user, "patient": patient, "at": at, "action": action, "record_type": record_type,
                         "outcome": outcome, "purpose": purpose, "break_glass": break_glass, "reason": reason,
                         "explained": explained, "clinical": False, "scenario": scenario, "rule": rule})


def explained_work(rng, hospital: Hospital, user: np.ndarray, at: np.ndarray, scenario: str,
                   rule: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ordinary work (explained the user's usual way, or a search for members who open no charts)
    at unusual moments; the care-team rows it relies on."""
    mode = modes(rng, hospital, user)
    mode = np.where(mode == "attending", "department", mode)
    patient, encounter, via_team = choose_patients(rng, hospital, user, at, mode)
    team = care_team_rows(hospital, user[via_team & (encounter >= 0)], at[via_team & (encounter >= 0)],
                          encounter[via_team & (encounter >= 0)])
    searched = patient < 0
    events = _frame(user, patient, at, scenario, rule, action=np.where(searched, "search", "view"),
                    record_type=np.where(searched, None, "note"), explained=~searched)
    return events, team


def after_hours(rng, hospital: Hospital, violators: Violators, members: int):
    w = hospital.workforce
    start, end = w["shift_start"].to_numpy(), w["shift_end"].to_numpy()
    users = violators.take(violators.where(start >= 0), count("after-hours", members))
    users = np.repeat(users, 1 + rng.integers(0, 3, len(users)))
    gap = 1440 - ((end[users] - start[users]) % 1440)
    minute = (end[users] + 90 + (rng.random(len(users)) * (gap - 180)).astype(np.int64)) % 1440
    wall = month_days(rng, hospital, len(users)).astype("datetime64[s]") + (minute * 60).astype("timedelta64[s]")
    return explained_work(rng, hospital, users, wall_to_utc(wall, hospital.zone), "after-hours", "after-hours")


def outside_employment(rng, hospital: Hospital, violators: Violators, members: int):
    """An account used after its owner left (or before they started): ordinary work, wrong dates."""
    w = hospital.workforce
    day_of = lambda column: w[column].to_numpy().astype("datetime64[D]")  # noqa: E731  (pandas keeps seconds)
    term, hire = day_of("termination_date"), day_of("hire_date")
    last = hospital.month_end - 3
    leaver = ~np.isnat(term) & (term + 2 < last)
    users = violators.take(np.flatnonzero(leaver), count("terminated-account", members))
    first = np.maximum(term[users] + 2, hospital.month_start + 1)
    span = ((last - first) / np.timedelta64(1, "D")).astype(np.int64)
    day = first + (rng.random(len(users)) * span).astype(np.int64).astype("timedelta64[D]")
    left, team_a = explained_work(rng, hospital, users, times_in_shift(rng, hospital, users, day),
                                  "terminated-account", "terminated-user-access")
    newcomer = hire >= hospital.month_start + 3
    users = violators.take(np.flatnonzero(newcomer), count("before-hire-account", members))
    span = ((hire[users] - 2 - hospital.month_start) / np.timedelta64(1, "D")).astype(np.int64)
    day = hospital.month_start + 1 + (rng.random(len(users)) * np.maximum(span - 1, 0)).astype(np.int64).astype(
        "timedelta64[D]")
    early, team_b = explained_work(rng, hospital, users, times_in_shift(rng, hospital, users, day),
                                   "before-hire-account", "terminated-user-access")
    return pd.concat([left, early], ignore_index=True), pd.concat([team_a, team_b], ignore_index=True)


def _operational_day(rng, hospital: Hospital, violators: Violators, roles, n: int, patients: int):
    """For n operational members on day shifts (a night shift spans two local days), one day each
    with `patients` distinct explained patients."""
    w = hospital.workforce
    start, end = w["shift_start"].to_numpy(), w["shift_end"].to_numpy()
    users = violators.take(violators.where(np.isin(w["role"].to_numpy(), roles) & (end > start)), n)
    day = month_days(rng, hospital, len(users))
    user = np.repeat(users, patients * 3)
    at = times_in_shift(rng, hospital, user, np.repeat(day, patients * 3))
    patient, _, _ = choose_patients(rng, hospital, user, at, np.full(len(user), "operational", dtype=object))
    drawn = pd.DataFrame({"user": user, "patient": patient, "at": at})
    drawn = drawn[drawn["patient"] >= 0].drop_duplicates(["user", "patient"])
    drawn = drawn[drawn.groupby("user").cumcount() < patients]
    return drawn, pd.DataFrame({"user": users, "day": day})


def census_harvest(rng, hospital: Hospital, violators: Violators, members: int):
    drawn, days = _operational_day(rng, hospital, violators, ("billing", "registration", "coding", "him"),
                                   count("census-harvest", members), HARVEST)
    return _frame(drawn["user"].to_numpy(), drawn["patient"].to_numpy(), drawn["at"].to_numpy(), "census-harvest",
                  "excessive-volume", record_type="demographics", purpose="HOPERAT"), days


def bulk_export(rng, hospital: Hospital, violators: Violators, members: int):
    drawn, days = _operational_day(rng, hospital, violators, ("him", "billing"), count("bulk-export", members),
                                   EXPORTED)
    n = len(drawn)
    return _frame(drawn["user"].to_numpy(), drawn["patient"].to_numpy(), drawn["at"].to_numpy(), "bulk-export",
                  "bulk-export", action=np.where(rng.random(n) < 0.5, "print", "export"),
                  record_type=np.asarray(("note", "lab", "demographics"), dtype=object)[rng.integers(0, 3, n)],
                  purpose="HOPERAT"), days


def break_glass(rng, hospital: Hospital, violators: Violators, members: int) -> pd.DataFrame:
    """Emergency overrides: every one is for review; one in five comes without a reason."""
    w = hospital.workforce
    acute = np.isin(w["department"].to_numpy(), BREAK_GLASS_DEPARTMENTS) & np.isin(
        w["role"].to_numpy(), ("physician", "resident", "nurse"))
    users = violators.take(violators.where(acute), count("break-glass", members) // 2 + 1)
    users = np.repeat(users, 1 + rng.integers(0, 3, len(users)))
    at = times_in_shift(rng, hospital, users, month_days(rng, hospital, len(users)))
    patient, _, _ = choose_patients(rng, hospital, users, at, np.full(len(users), "department", dtype=object))
    unknown = (rng.random(len(users)) < 0.6) | (patient < 0)
    patient[unknown] = rng.choice(no_encounter_pool(hospital), size=int(unknown.sum()))
    keep = w["own_patient"].to_numpy()[users] != patient
    given = rng.random(len(users)) < 0.8
    reason = np.where(given, np.asarray(REASONS, dtype=object)[rng.integers(0, len(REASONS), len(users))], None)
    out = _frame(users, patient, at, "break-glass", "break-glass-review", record_type="note",
                 purpose=np.where(rng.random(len(users)) < 0.5, "ETREAT", "BTG"), break_glass=True, reason=reason,
                 explained=~unknown)
    out["scenario"] = np.where(given, "break-glass-with-reason", "break-glass-without-reason")
    return out[keep]


def password_guessing(rng, hospital: Hospital, violators: Violators, members: int):
    """A burst of refused log-ins and charts within 25 minutes."""
    users = violators.take(violators.where(np.ones(len(hospital.workforce), dtype=bool)),
                           count("password-guessing", members))
    day = month_days(rng, hospital, len(users))
    t0 = np.repeat(times_in_shift(rng, hospital, users, day), DENIALS)
    at = t0 + np.sort((rng.random((len(users), DENIALS)) * 1500).astype(np.int64), axis=1).ravel().astype(
        "timedelta64[s]")
    user = np.repeat(users, DENIALS)
    chart = rng.random(len(user)) < 0.4
    patient = np.where(chart, rng.integers(0, len(hospital.patients), len(user)), -1)
    events = _frame(user, patient, at, "password-guessing", "repeated-denials",
                    action=np.where(chart, "view", "login_failed"), record_type=np.where(chart, "note", None),
                    purpose=np.where(chart, "TREAT", None), outcome="denied", explained=False)
    return events, pd.DataFrame({"user": users, "day": day})


def misuse(rng, hospital: Hospital, violators: Violators, members: int) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                 pd.DataFrame, pd.DataFrame]:
    """(events, care-team rows, user-days whose normal accesses go, user-days whose normal denials go)."""
    late, team_a = after_hours(rng, hospital, violators, members)
    away, team_b = outside_employment(rng, hospital, violators, members)
    harvest, harvest_days = census_harvest(rng, hospital, violators, members)
    export, export_days = bulk_export(rng, hospital, violators, members)
    glass = break_glass(rng, hospital, violators, members)
    denied, denial_days = password_guessing(rng, hospital, violators, members)
    frames = [f for f in (late, away, harvest, export, glass, denied) if len(f)]
    return (pd.concat(frames, ignore_index=True)[[*EVENT_COLUMNS, "rule"]], pd.concat([team_a, team_b]),
            pd.concat([harvest_days, export_days], ignore_index=True), denial_days)


def _covered(candidates: pd.DataFrame, table: pd.DataFrame, on: list[str], lo: str, hi: str,
             slack: int = 1) -> np.ndarray:
    """For each candidate (user, patient, at, ...): a row of `table` with the same `on` values whose
    [lo, hi] (widened by `slack` days) holds `at`."""
    if table.empty:
        return np.zeros(len(candidates), dtype=bool)
    pad = np.timedelta64(slack * DAY_S, "s")
    pairs = candidates[on + ["at"]].reset_index(names="row").merge(table[on + [lo, hi]], on=on)
    hit = (pairs[lo].to_numpy() - pad <= pairs["at"].to_numpy()) & (pairs["at"].to_numpy() <= pairs[hi].to_numpy() + pad)
    out = np.zeros(len(candidates), dtype=bool)
    out[pairs["row"].to_numpy()[hit]] = True
    return out


def _curious_candidates(rng, hospital: Hospital, users: np.ndarray, normal: pd.DataFrame) -> pd.DataFrame:
    """Patients whose encounter in each user's department ended CURIOUS_AGO days before a moment of
    the user's shift, whom nothing else explains to the user then (no other encounter near, no care
    team, order, appointment or note of theirs) and whom the user does not open in normal work."""
    w, enc = hospital.workforce, hospital.encounters
    user = np.repeat(users, CURIOUS_CHARTS * 8)  # a small hospital has few such encounters: draw plenty
    at = times_in_shift(rng, hospital, user, month_days(rng, hospital, len(user)))
    staff_dept, enc_dept = department_codes(hospital)
    pick = EncounterIndex(enc_dept, enc["end"].to_numpy()).draw(rng, staff_dept[user], at, CURIOUS_AGO[1],
                                                                 -CURIOUS_AGO[0])
    c = pd.DataFrame({"user": user, "at": at, "patient": enc["patient"].to_numpy()[np.maximum(pick, 0)]})[pick >= 0]
    c = c.reset_index(drop=True)
    c["dept"] = w["department"].to_numpy()[c["user"]]
    near = pd.DataFrame({"patient": enc["patient"], "lo": enc["start"] - np.timedelta64(8, "D"),
                         "hi": enc["end"] + np.timedelta64(CURIOUS_AGO[0], "D")})
    o, a, d = hospital.orders, hospital.appointments, hospital.documents
    team = hospital.care_team.rename(columns={"member": "user"})
    live = a[a["status"].to_numpy() != "cancelled"]
    booked = pd.DataFrame({"patient": live["patient"], "dept": live["department"], "user": live["provider"], "lo": live["booked"],
                           "hi": live["scheduled"] + np.timedelta64(14, "D")})
    mine = [_covered(c, near, ["patient"], "lo", "hi", slack=0),
            _covered(c, team, ["patient", "user"], "start", "end", slack=40),
            _covered(c, o.rename(columns={"orderer": "user"}).assign(hi=o["completed"].fillna(o["placed"])),
                     ["patient", "user"], "placed", "hi", slack=40),
            _covered(c, booked, ["patient", "dept"], "lo", "hi", slack=2),
            _covered(c, booked, ["patient", "user"], "lo", "hi", slack=2),
            _covered(c, d.rename(columns={"author": "user"}).assign(lo=d["signed"]), ["patient", "user"], "lo",
                     "signed", slack=40)]
    seen = pd.MultiIndex.from_arrays([normal["user"].to_numpy(), normal["patient"].to_numpy()])
    shared = pd.MultiIndex.from_arrays([c["user"], c["patient"]]).isin(seen)
    alive = hospital.patients["death_date"].isna().to_numpy()[c["patient"]]
    own = w["own_patient"].to_numpy()[c["user"]] == c["patient"].to_numpy()
    ok = ~np.logical_or.reduce(mine) & ~shared & alive & ~own
    c = c[ok].drop_duplicates("patient")
    return c[c.groupby("user").cumcount() < CURIOUS_CHARTS]


def curiosity(rng, hospital: Hospital, violators: Violators, members: int, normal: pd.DataFrame) -> pd.DataFrame:
    """Curiosity browsing (unusual-access): a few nurses and physicians who, within their shift and a
    few charts a day, open only the demographics of patients their department saw weeks ago, whom no
    colleague of theirs opens. Every access is explained by the department's window; the pattern is
    what is unusual."""
    w = hospital.workforce
    peers = w.groupby(["role", "department"])["role"].transform("size").to_numpy()
    clinical = (np.isin(w["role"].to_numpy(), ("nurse", "physician")) & (peers >= 8)  # never a fallback group
                & np.isin(w["department"].to_numpy(), hospital.encounters["department"].unique()))
    n = count("curiosity", members)
    # in a small hospital a member opens much of their department: keep members with enough charts
    pool = rng.permutation(violators.where(clinical))[:4 * n]
    c = _curious_candidates(rng, hospital, pool, normal)
    charts = c.groupby("user").size()
    users = violators.take(charts.index[charts >= CURIOUS_MINIMUM].to_numpy(), n)
    c = c[c["user"].isin(users)]
    again = rng.random(len(c)) < 0.3  # some charts opened twice within the hour
    user = np.concatenate([c["user"].to_numpy(), c["user"].to_numpy()[again]])
    patient = np.concatenate([c["patient"].to_numpy(), c["patient"].to_numpy()[again]])
    at = np.concatenate([c["at"].to_numpy(), c["at"].to_numpy()[again]
                         + (rng.integers(60, 3000, int(again.sum()))).astype("timedelta64[s]")])
    out = _frame(user, patient, at, "curiosity", "unusual-access", record_type="demographics")
    return out.assign(clinical=True)[[*EVENT_COLUMNS, "rule"]]
