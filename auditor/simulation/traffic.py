"""A month of normal work in the synthetic hospital: who works which days, when (within their
shift, on the local wall clock), and whose charts they open, explained the way the contract's
"Explained accesses" and its version 2 say: the department of a recent encounter, the attending
physician, the care team (therapists, many nurses), an order the user's department carries out (the
laboratory and radiology technicians, the pharmacists), an appointment the user's clinic booked
(preparing the visit), a consult note the user signed, or an operational role within its window
(registration, billing, coding, HIM). A small residue is not explained: the curbside consult or the
phone question about a patient of another department, which no treatment record ties to the user and
no-treatment-relationship rightly reports.

Everything is vectorised: events are drawn per user-day with numpy, patients found with
searchsorted over encounters sorted by (group, start).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.simulation.hospital import CARE_TEAM_ROLES, CLINIC, DEPARTMENT_ROLES, OPERATIONAL_ROLES, Hospital
from auditor.simulation.local_time import local_days, wall_to_utc

DAY_S = 86_400
CAP = 14  # events per user-day: keeps every user-day far below excessive-volume's 30 patients
RESIDUE = 0.015  # share of clinical accesses no treatment record explains
# share of care-team work done by a colleague of the member's department covering for them: the team
# lists the member, not the colleague, so the contract's rules leave it unexplained (what `auditor
# explain mine` finds as "a member of the user's department was on the care team")
COVERING = 0.10  # of the therapists' (Rehabilitation: no encounter, order or appointment is theirs)
RATE = {"physician": 1.2, "resident": 1.3, "nurse": 1.0, "pharmacist": 1.2, "therapist": 0.7, "technician": 0.9,
        "registration": 1.1, "billing": 1.0, "coding": 1.0, "him": 0.8, "student": 0.5, "research": 0.3, "it": 0.3,
        "admin": 0.3, "volunteer": 0.3, "other": 0.2}
PURPOSE = {"billing": "HPAYMT", "coding": "HOPERAT", "him": "HOPERAT", "registration": "HOPERAT",
           "research": "HRESCH", "it": "HOPERAT", "admin": "HOPERAT", "volunteer": "HOPERAT", "other": "HOPERAT"}
CLINICAL_ACTIONS = (("view", .80), ("update", .08), ("create", .06), ("print", .025), ("search", .03), ("delete", .005))
OPERATIONAL_ACTIONS = (("view", .70), ("update", .10), ("print", .06), ("export", .02), ("disclose", .03),
                       ("search", .09))
CLINICAL_TYPES = (("demographics", .08), ("note", .30), ("lab", .20), ("imaging", .08), ("medication", .12),
                  ("order", .12), ("other", .04), ("psychotherapy_note", .01), ("substance_use", .02), ("hiv", .02),
                  ("genetic", .01))
OPERATIONAL_TYPES = (("demographics", .45), ("note", .10), ("lab", .10), ("medication", .10), ("order", .10),
                     ("other", .15))  # rule 4 never explains a sensitive record type: operations never open one
EVENT_COLUMNS = ["user", "patient", "at", "action", "record_type", "outcome", "purpose", "break_glass", "reason",
                 "explained", "clinical", "scenario"]


def _choice(rng: np.random.Generator, table, n: int) -> np.ndarray:
    names, weights = zip(*table)
    w = np.asarray(weights, dtype=float)
    return np.asarray(names, dtype=object)[rng.choice(len(names), size=n, p=w / w.sum())]


def shift_window(hospital: Hospital, user: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTC start and end of each (user, local day)'s shift; 08:00-18:00 for those without one."""
    w = hospital.workforce
    start_min = w["shift_start"].to_numpy()[user]
    end_min = w["shift_end"].to_numpy()[user]
    none = start_min < 0
    start_min = np.where(none, 8 * 60, start_min)
    length = np.where(none, 10 * 60, (end_min - start_min) % 1440)
    length = np.where(length == 0, 1440, length)
    base = day.astype("datetime64[s]")
    start = wall_to_utc(base + (start_min * 60).astype("timedelta64[s]"), hospital.zone)
    end = wall_to_utc(base + ((start_min + length) * 60).astype("timedelta64[s]"), hospital.zone)
    return start, end


def times_in_shift(rng: np.random.Generator, hospital: Hospital, user: np.ndarray, day: np.ndarray) -> np.ndarray:
    start, end = shift_window(hospital, user, day)
    span = (end - start).astype(np.int64)
    return start + (rng.random(len(user)) * (span - 60) + 30).astype("timedelta64[s]")


def employed(hospital: Hospital, user: np.ndarray, day: np.ndarray) -> np.ndarray:
    w = hospital.workforce
    hire = w["hire_date"].to_numpy()[user]
    term = w["termination_date"].to_numpy()[user]
    return (hire <= day) & (np.isnat(term) | (day <= term))


def user_days(rng: np.random.Generator, hospital: Hospital, target: int) -> pd.DataFrame:
    """The days each member works (the day before the month too: its night shift ends in the month),
    and how many events each worked day holds, scaled so the month holds about `target` events."""
    w = hospital.workforce
    days = np.arange(hospital.month_start - 1, hospital.month_end, dtype="datetime64[D]")
    start, end = w["shift_start"].to_numpy(), w["shift_end"].to_numpy()
    long_shift = (start >= 0) & ((end - start) % 1440 >= 11 * 60)
    works = rng.random((len(w), len(days))) < np.where(long_shift, 0.5, 0.7)[:, None]
    user, d = np.nonzero(works)
    day = days[d]
    keep = employed(hospital, user, day)
    user, day = user[keep], day[keep]
    rate = np.array([RATE[r] for r in w["role"]])[user]
    mean = target * 1.04 / max(len(user), 1)  # a little over: some events fall outside the month
    scale = mean / max(rate.mean(), 1e-9)
    for _ in range(3):  # clipping bends the mean: correct the scale on the expected counts
        expected = np.clip(np.minimum(rate * scale, CAP - 2), 1, CAP).mean()
        scale *= mean / expected
    count = np.clip(rng.poisson(np.minimum(rate * scale, CAP - 2)), 1, CAP)
    return pd.DataFrame({"user": user, "day": day, "count": count})


class EncounterIndex:
    """Encounters sorted by (group, start) for drawing, per event, one whose start lies in
    [t - before, t + after] within the event's group (a department, an attending, or everyone)."""

    BIG = np.int64(1) << np.int64(40)

    def __init__(self, groups: np.ndarray, start: np.ndarray) -> None:
        keys = groups.astype(np.int64) * self.BIG + start.astype("datetime64[s]").astype(np.int64)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]

    def draw(self, rng: np.random.Generator, groups: np.ndarray, at: np.ndarray, before: int, after: int) -> np.ndarray:
        """An encounter row for each event, -1 where the group has none in the window."""
        base = groups.astype(np.int64) * self.BIG + at.astype("datetime64[s]").astype(np.int64)
        lo = np.searchsorted(self.keys, base - before * DAY_S, side="left")
        hi = np.searchsorted(self.keys, base + after * DAY_S, side="right")
        pick = lo + (rng.random(len(at)) * (hi - lo)).astype(np.int64)
        return np.where(hi > lo, self.order[np.minimum(pick, len(self.order) - 1)], -1)


def department_codes(hospital: Hospital) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes for the workforce's and the encounters' departments, on one scale."""
    names = _department_names(hospital)
    return names.get_indexer(hospital.workforce["department"]), names.get_indexer(hospital.encounters["department"])


def _department_names(hospital: Hospital) -> pd.Index:
    held = [hospital.workforce["department"], hospital.encounters["department"]]
    held += [t["department"] for t in (hospital.orders, hospital.appointments) if "department" in t]
    return pd.Index(sorted(set().union(*map(set, held))))


CLINICAL_MODES = ("department", "care_team", "attending", "order", "appointment", "consult")
# how far from an access the record that explains it is drawn (days before, after), within its window
ORDER_REACH = (25, 0)  # an order placed up to 25 days before (explained to 30 days after completion)
APPOINTMENT_REACH = (12, 40)  # scheduled from 12 days before to 40 days after: booked before the access
CONSULT_REACH = (25, 0)  # a consult note signed up to 25 days before


def _version_two(rng: np.random.Generator, hospital: Hospital, user: np.ndarray, at: np.ndarray,
                 mode: np.ndarray) -> np.ndarray:
    """The patient of an order the user's department carries out, of an appointment of the user's
    clinic that is not cancelled and was booked by then, or of a consult note the user signed; -1
    where none is in reach."""
    patient = np.full(len(user), -1)
    names = _department_names(hospital)
    mine = names.get_indexer(hospital.workforce["department"])[user]
    o, a, d = hospital.orders, hospital.appointments, hospital.documents
    rows = np.flatnonzero(mode == "order")
    if len(rows) and len(o):
        pick = EncounterIndex(names.get_indexer(o["department"]), o["placed"].to_numpy()).draw(
            rng, mine[rows], at[rows], *ORDER_REACH)
        patient[rows] = np.where(pick >= 0, o["patient"].to_numpy()[np.maximum(pick, 0)], -1)
    rows = np.flatnonzero(mode == "appointment")
    if len(rows) and len(a):
        live = a[a["status"].to_numpy() != "cancelled"]
        pick = EncounterIndex(names.get_indexer(live["department"]), live["scheduled"].to_numpy()).draw(
            rng, mine[rows], at[rows], *APPOINTMENT_REACH)
        booked_by_then = live["booked"].to_numpy()[np.maximum(pick, 0)] <= at[rows]
        patient[rows] = np.where((pick >= 0) & booked_by_then, live["patient"].to_numpy()[np.maximum(pick, 0)], -1)
    rows = np.flatnonzero(mode == "consult")
    if len(rows) and len(d):
        notes = d[d["consult"].to_numpy()]
        pick = EncounterIndex(notes["author"].to_numpy() + 1, notes["signed"].to_numpy()).draw(
            rng, user[rows] + 1, at[rows], *CONSULT_REACH)
        patient[rows] = np.where(pick >= 0, notes["patient"].to_numpy()[np.maximum(pick, 0)], -1)
    return patient


def choose_patients(rng: np.random.Generator, hospital: Hospital, user: np.ndarray, at: np.ndarray,
                    mode: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patient, encounter, care-team?) per event, explained by `mode`: department, attending,
    care_team or operational. -1 where no encounter fits."""
    enc = hospital.encounters
    staff_dept, enc_dept = department_codes(hospital)
    by_dept = EncounterIndex(enc_dept, enc["start"].to_numpy())
    every = EncounterIndex(np.zeros(len(enc), dtype=np.int64), enc["start"].to_numpy())
    chosen = np.full(len(user), -1)
    for name, index, group, before, after in (
            ("department", by_dept, staff_dept[user], 30, 7), ("care_team", every, np.zeros(len(user)), 30, 1),
            ("operational", every, np.zeros(len(user)), 90, 30),
            ("attending", EncounterIndex(enc["attending"].to_numpy() + 1, enc["start"].to_numpy()), user + 1, 30, 7)):
        rows = mode == name
        chosen[rows] = index.draw(rng, group[rows], at[rows], before, after)
    other = _version_two(rng, hospital, user, at, mode)
    # a physician with no encounter, consult or appointment of their own in reach works by department
    lost = np.isin(mode, ("attending", "consult", "appointment")) & (chosen < 0) & (other < 0)
    chosen[lost] = by_dept.draw(rng, staff_dept[user[lost]], at[lost], 30, 7)
    patient = np.where(chosen >= 0, enc["patient"].to_numpy()[np.maximum(chosen, 0)], other)
    return patient, chosen, mode == "care_team"


def care_team_rows(hospital: Hospital, user: np.ndarray, at: np.ndarray, encounter: np.ndarray) -> pd.DataFrame:
    """Care-team memberships that cover the events drawn through them (one per patient and member)."""
    enc = hospital.encounters.iloc[encounter]
    hour = np.timedelta64(3600, "s")
    rows = pd.DataFrame({"patient": enc["patient"].to_numpy(), "member": user,
                         "role": hospital.workforce["role"].to_numpy()[user],
                         "start": np.minimum(enc["start"].to_numpy(), at) - hour,
                         "end": np.maximum(enc["end"].to_numpy(), at) + 12 * hour})
    return rows.groupby(["patient", "member", "role"], as_index=False).agg(start=("start", "min"), end=("end", "max"))


def covered_by(rng: np.random.Generator, hospital: Hospital, user: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """The care-team member each event's work is done for: the user, or where `asked`, another member of
    the user's role and department (the user covering for them; the user where there is none)."""
    w = hospital.workforce
    member = user.copy()
    rows = np.flatnonzero(asked)
    if not len(rows):
        return member
    group = pd.Series(w["role"].to_numpy() + "|" + w["department"].to_numpy())
    codes, names = pd.factorize(group)
    order = np.argsort(codes, kind="stable")
    keys = codes[order]
    mine = codes[user[rows]]
    lo, hi = np.searchsorted(keys, mine, "left"), np.searchsorted(keys, mine, "right")
    pick = order[np.minimum(lo + (rng.random(len(rows)) * (hi - lo)).astype(np.int64), len(order) - 1)]
    member[rows] = np.where((hi - lo > 1) & (pick != user[rows]), pick, user[rows])
    return member


def modes(rng: np.random.Generator, hospital: Hospital, user: np.ndarray) -> np.ndarray:
    w = hospital.workforce
    role, dept = w["role"].to_numpy()[user], w["department"].to_numpy()[user]
    mode = np.full(len(user), "none", dtype=object)
    mode[np.isin(role, DEPARTMENT_ROLES) | ((role == "therapist") & (dept == "Psychiatry"))] = "department"
    mode[np.isin(role, CARE_TEAM_ROLES) & (mode != "department")] = "care_team"
    mode[np.isin(role, OPERATIONAL_ROLES)] = "operational"
    # the laboratory, radiology and the pharmacy work the orders their department carries out
    mode[np.isin(dept, ("Laboratory", "Radiology", "Pharmacy")) & np.isin(role, CARE_TEAM_ROLES)] = "order"
    draw = rng.random(len(user))
    mode[(role == "physician") & (draw < 0.2)] = "attending"
    mode[(role == "physician") & (draw >= 0.2) & (draw < 0.28)] = "consult"
    mode[(role == "nurse") & (draw < 0.3)] = "care_team"
    mode[np.isin(role, ("nurse", "physician")) & np.isin(dept, CLINIC) & (draw >= 0.3) & (draw < 0.4)] = "appointment"
    return mode


def no_encounter_pool(hospital: Hospital, living: bool = False) -> np.ndarray:
    """Patients with no encounter at all: nothing can explain an access to them."""
    seen = np.zeros(len(hospital.patients), dtype=bool)
    seen[hospital.encounters["patient"].to_numpy()] = True
    if living:
        seen |= hospital.patients["death_date"].notna().to_numpy()
    return np.flatnonzero(~seen)


RESIDUE_REACH = 25  # the residue's patient: an encounter that started up to this many days before
RESIDUE_TRIES = 16  # a laboratory technician: most patients have a lab order, so most draws are tied


def _ties(hospital: Hospital) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys of (patient, department) and (patient, member) pairs the treatment data ties: the
    encounters' departments and attendings, the orders' performing departments and orderers, the
    appointments' departments and providers, the documents' authors (any time, cancelled or not)."""
    names, patients, members = _department_names(hospital), len(hospital.patients), len(hospital.workforce)
    enc = hospital.encounters
    tables = [(enc, "department", "attending")]
    tables += [(t, d, m) for t, d, m in ((hospital.orders, "department", "orderer"),
                                         (hospital.appointments, "department", "provider"),
                                         (hospital.documents, None, "author")) if len(t)]
    by_department, by_member = [], []
    for table, department, member in tables:
        patient = table["patient"].to_numpy().astype(np.int64)
        if department:
            by_department.append(names.get_indexer(table[department]).astype(np.int64) * patients + patient)
        who = table[member].to_numpy().astype(np.int64)
        by_member.append(np.where(who >= 0, who * patients + patient, -1))
    return np.unique(np.concatenate(by_department)), np.unique(np.concatenate(by_member))


def residue_patients(rng: np.random.Generator, hospital: Hospital, user: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A patient for each residue access: one in the hospital's care at the time (an encounter started in
    the RESIDUE_REACH days before), whom no encounter, order, appointment or document ties to the user
    or to the user's department; where a few draws find none, a living patient with no encounter at all.
    (A care team that lists the user after all is settled by the month: simulation.month.)"""
    patients = len(hospital.patients)
    staff_dept, _ = department_codes(hospital)
    department_ties, member_ties = _ties(hospital)
    enc = hospital.encounters
    everyone = EncounterIndex(np.zeros(len(enc), dtype=np.int64), enc["start"].to_numpy())
    out = np.full(len(user), -1, dtype=np.int64)
    for _ in range(RESIDUE_TRIES):
        open_ = np.flatnonzero(out < 0)
        row = everyone.draw(rng, np.zeros(len(open_), dtype=np.int64), at[open_], RESIDUE_REACH, 0)
        patient = np.where(row >= 0, enc["patient"].to_numpy()[np.maximum(row, 0)], -1).astype(np.int64)
        tied = (np.isin(staff_dept[user[open_]].astype(np.int64) * patients + patient, department_ties)
                | np.isin(user[open_].astype(np.int64) * patients + patient, member_ties))
        fits = (patient >= 0) & ~tied
        out[open_[fits]] = patient[fits]
    left = out < 0
    out[left] = rng.choice(no_encounter_pool(hospital, living=True), size=int(left.sum()))
    return out


def access_details(rng: np.random.Generator, hospital: Hospital, user: np.ndarray) -> pd.DataFrame:
    """action, record type and purpose of use for accesses by these users, by the kind of work."""
    w = hospital.workforce
    role = w["role"].to_numpy()[user]
    operational = np.isin(role, OPERATIONAL_ROLES)
    n = len(user)
    action = np.where(operational, _choice(rng, OPERATIONAL_ACTIONS, n), _choice(rng, CLINICAL_ACTIONS, n))
    action = np.where((action == "disclose") & (role != "him"), "view", action)
    kind = np.where(operational, _choice(rng, OPERATIONAL_TYPES, n), _choice(rng, CLINICAL_TYPES, n))
    psych = (w["department"].to_numpy()[user] == "Psychiatry") & (rng.random(n) < 0.15)
    kind = np.where(psych, "psychotherapy_note", kind)
    kind = np.where(action == "search", None, kind)
    purpose = pd.Series(role).map(PURPOSE).fillna("TREAT").to_numpy(dtype=object)
    purpose[rng.random(n) < 0.1] = None  # optional in the contract; some systems leave it out
    return pd.DataFrame({"action": action, "record_type": kind, "purpose": purpose})


def normal_traffic(rng: np.random.Generator, hospital: Hospital, target: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, care-team rows they need) for a month of normal work, about `target` events."""
    days = user_days(rng, hospital, target)
    user = np.repeat(days["user"].to_numpy(), days["count"].to_numpy())
    day = np.repeat(days["day"].to_numpy(), days["count"].to_numpy())
    at = times_in_shift(rng, hospital, user, day)
    local = local_days(at, hospital.zone)
    keep = (local >= hospital.month_start) & (local < hospital.month_end) & employed(hospital, user, local)
    user, at = user[keep], at[keep]
    if len(user) > target:
        kept = np.sort(rng.choice(len(user), size=target, replace=False))
        user, at = user[kept], at[kept]
    mode = modes(rng, hospital, user)
    patient, encounter, via_team = choose_patients(rng, hospital, user, at, mode)
    on_team = via_team & (encounter >= 0)
    therapist = hospital.workforce["role"].to_numpy()[user] == "therapist"
    member = covered_by(rng, hospital, user, on_team & therapist & (rng.random(len(user)) < COVERING))
    covering = member != user
    own = pd.MultiIndex.from_arrays([patient[on_team & ~covering], user[on_team & ~covering]])
    covering &= ~pd.MultiIndex.from_arrays([patient, user]).isin(own)  # on the team themselves: not covering
    member = np.where(covering, member, user)
    team = care_team_rows(hospital, member[on_team], at[on_team], encounter[on_team])
    clinical = np.isin(mode, CLINICAL_MODES)
    residue = clinical & (patient >= 0) & (rng.random(len(user)) < RESIDUE) & ~covering
    patient[residue] = residue_patients(rng, hospital, user[residue], at[residue])
    events = pd.DataFrame({"user": user, "patient": patient, "at": at}).join(access_details(rng, hospital, user))
    events["explained"] = (patient >= 0) & ~residue & ~covering
    events["clinical"] = clinical & events["explained"]
    no_patient = patient < 0
    events.loc[no_patient, ["action", "record_type"]] = ["search", None]
    own = hospital.workforce["own_patient"].to_numpy()[user]
    events = events[(patient < 0) | (own != patient)]  # in normal work nobody opens their own chart
    events = events.assign(outcome="success", break_glass=False, reason=None, scenario="")
    return pd.concat([events, normal_denials(rng, hospital, days)], ignore_index=True)[EVENT_COLUMNS], team


def normal_denials(rng: np.random.Generator, hospital: Hospital, days: pd.DataFrame) -> pd.DataFrame:
    """A refused chart or a mistyped password now and then: at most one per user-day, never a burst."""
    chosen = days[rng.random(len(days)) < 0.03]
    user, day = chosen["user"].to_numpy(), chosen["day"].to_numpy()
    at = times_in_shift(rng, hospital, user, day)
    restricted = np.flatnonzero(hospital.patients["restricted"].to_numpy())
    chart = (rng.random(len(user)) < 0.5) & (len(restricted) > 0)
    patient = np.where(chart, rng.choice(restricted, size=len(user)) if len(restricted) else -1, -1)
    local = local_days(at, hospital.zone)
    keep = (local >= hospital.month_start) & (local < hospital.month_end)
    return pd.DataFrame({"user": user, "patient": patient, "at": at,
                         "action": np.where(chart, "view", "login_failed"),
                         "record_type": np.where(chart, "note", None), "outcome": "denied",
                         "purpose": np.where(chart, "TREAT", None), "break_glass": False, "reason": None,
                         "explained": False, "clinical": False, "scenario": ""})[keep]
