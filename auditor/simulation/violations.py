"""Labelled violations injected into the month: snooping on oneself, family, coworkers, neighbours,
VIPs, the dead and sensitive records, and charts opened with no relationship at all; the misuse of
time and volume (misuse.py). Rates are per workforce member and month: together with misuse.py's,
about one member in a hundred commits one labelled violation in the month (about 690 incidents in the
10-million-event month, whose default workforce is 66,666), so a month's violations fit the review
budget a privacy office works to (auditor.cases.settings, 1,000 cases) with room to spare. Each rule
keeps a minimum, so a small month still has enough of each to score.

Each injector draws its violators from members not used by another rule, so one incident never
blurs into another, and draws targets nothing in the treatment data explains (patients with no
encounter), or explained targets where the rule is about something else (a sensitive record opened
by billing staff). Which relationship rule an access is reported under is decided afterwards from
the generator's ground truth (truth.py), in the contract's precedence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.simulation.hospital import DEPARTMENT_ROLES, Hospital
from auditor.simulation.traffic import EVENT_COLUMNS, choose_patients, no_encounter_pool, times_in_shift

# incidents per workforce member a month (each incident is 1-3 events by one member on one patient)
RATES = {"snooping-self": 7.5e-4, "snooping-family": 1.1e-3, "snooping-coworker": 7.5e-4, "snooping-neighbor": 6e-4,
         "snooping-vip": 6e-4, "snooping-deceased": 4e-4, "sensitive-record-billing": 4e-4,
         "sensitive-record-curious": 4e-4, "snooping-stranger": 1.1e-3}
MIN_INCIDENTS = 3
SENSITIVE = ("psychotherapy_note", "substance_use", "hiv", "genetic")


class Violators:
    """Members eligible to violate: employed all month unless a rule wants otherwise; each used once."""

    def __init__(self, rng: np.random.Generator, hospital: Hospital) -> None:
        self.rng, self.hospital = rng, hospital
        w = hospital.workforce
        self.used = np.zeros(len(w), dtype=bool)
        self.steady = ((w["hire_date"].to_numpy() < hospital.month_start)
                       & w["termination_date"].isna().to_numpy())

    def take(self, candidates: np.ndarray, n: int) -> np.ndarray:
        """Up to n distinct unused members among `candidates` (positions may repeat; order random)."""
        candidates = np.unique(candidates)
        free = candidates[~self.used[candidates]]
        chosen = self.rng.permutation(free)[:n]
        self.used[chosen] = True
        return chosen

    def where(self, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask & self.steady & ~self.used)


def incidents(rule: str, members: int) -> int:
    return max(MIN_INCIDENTS, int(round(RATES[rule] * members)))


def month_days(rng: np.random.Generator, hospital: Hospital, n: int, first: int = 2, margin: int = 3) -> np.ndarray:
    days = int((hospital.month_end - hospital.month_start) / np.timedelta64(1, "D"))
    return hospital.month_start + rng.integers(first, days - margin, n).astype("timedelta64[D]")


def incident_events(rng: np.random.Generator, hospital: Hospital, user: np.ndarray, patient: np.ndarray,
                    scenario: str, record_type=None, explained: bool = False) -> pd.DataFrame:
    """1-3 accesses per (user, patient) incident, within the user's shift, over a few days."""
    times = 1 + rng.poisson(0.6, len(user)).clip(0, 2)
    user, patient = np.repeat(user, times), np.repeat(patient, times)
    first_day = np.repeat(month_days(rng, hospital, len(times)), times)
    day = first_day + rng.integers(0, 3, len(user)).astype("timedelta64[D]")
    at = times_in_shift(rng, hospital, user, day)
    kind = np.repeat(record_type, times) if record_type is not None else np.asarray(
        ("note", "lab", "demographics", "imaging"), dtype=object)[rng.integers(0, 4, len(user))]
    return pd.DataFrame({"user": user, "patient": patient, "at": at, "action": "view", "record_type": kind,
                         "outcome": "success", "purpose": "TREAT", "break_glass": False, "reason": None,
                         "explained": explained, "clinical": False, "scenario": scenario, "rule": ""})


def _pairs(rng: np.random.Generator, violators: Violators, pairs: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n (user, patient) pairs with distinct unused users, from a frame of candidate pairs."""
    pairs = pairs[violators.steady[pairs["user"].to_numpy()] & ~violators.used[pairs["user"].to_numpy()]]
    pairs = pairs.sample(frac=1.0, random_state=rng).drop_duplicates("user")
    users = violators.take(pairs["user"].to_numpy(), n)
    chosen = pairs.set_index("user").loc[users, "patient"].to_numpy()
    return users, chosen


def _staff(hospital: Hospital) -> pd.DataFrame:
    w = hospital.workforce
    return pd.DataFrame({"user": np.arange(len(w)), "household": w["household"].to_numpy(),
                         "last": w["last"].to_numpy(), "phone_key": w["phone_key"].to_numpy(),
                         "street": w["street"].to_numpy(), "department": w["department"].to_numpy(),
                         "own": w["own_patient"].to_numpy(), "role": w["role"].to_numpy()})


def _pool_patients(hospital: Hospital) -> pd.DataFrame:
    p = hospital.patients
    pool = no_encounter_pool(hospital)
    return pd.DataFrame({"patient": pool, "household": p["household"].to_numpy()[pool],
                         "last": p["last"].to_numpy()[pool], "phone_key": p["phone_key"].to_numpy()[pool],
                         "street": p["street"].to_numpy()[pool]})


def snoop_self(rng, hospital, violators, members: int) -> pd.DataFrame:
    own = hospital.workforce["own_patient"].to_numpy()
    users = violators.take(violators.where(own >= 0), incidents("snooping-self", members))
    return incident_events(rng, hospital, users, own[users], "snooping-self")


def snoop_family(rng, hospital, violators, members: int) -> pd.DataFrame:
    staff, pool = _staff(hospital), _pool_patients(hospital)
    home = staff.merge(pool, on=["household", "last"], suffixes=("", "_p"))
    phone = staff.merge(pool, on=["phone_key", "last"], suffixes=("", "_p"))
    pairs = pd.concat([home[["user", "patient", "own"]], phone[["user", "patient", "own"]]])
    pairs = pairs[pairs["own"] != pairs["patient"]]
    users, patients = _pairs(rng, violators, pairs, incidents("snooping-family", members))
    return incident_events(rng, hospital, users, patients, "snooping-family")


def snoop_coworker(rng, hospital, violators, members: int) -> pd.DataFrame:
    staff = _staff(hospital)
    colleagues = staff[staff["own"] >= 0][["own", "department", "user"]].rename(
        columns={"own": "patient", "user": "colleague"})
    colleagues = colleagues[np.isin(colleagues["patient"], no_encounter_pool(hospital))]
    pairs = staff[["user", "department"]].merge(colleagues, on="department")
    pairs = pairs[pairs["user"] != pairs["colleague"]]
    users, patients = _pairs(rng, violators, pairs, incidents("snooping-coworker", members))
    return incident_events(rng, hospital, users, patients, "snooping-coworker")


def snoop_neighbor(rng, hospital, violators, members: int) -> pd.DataFrame:
    staff, pool = _staff(hospital), _pool_patients(hospital)
    sample = pool.sample(n=min(len(pool), 200_000), random_state=rng)  # plenty, and bounded at any size
    pairs = staff[["user", "street", "household"]].merge(sample, on="street", suffixes=("", "_p"))
    pairs = pairs[pairs["household"] != pairs["household_p"]]
    users, patients = _pairs(rng, violators, pairs, incidents("snooping-neighbor", members))
    return incident_events(rng, hospital, users, patients, "snooping-neighbor")


def _stranger_pairs(rng, hospital, violators, rule: str, members: int, patients: np.ndarray,
                    roles=DEPARTMENT_ROLES) -> tuple[np.ndarray, np.ndarray]:
    w = hospital.workforce
    users = violators.take(violators.where(np.isin(w["role"].to_numpy(), roles)), incidents(rule, members))
    if len(patients) == 0:
        return users[:0], users[:0]
    return users, rng.choice(patients, size=len(users))


def snoop_strangers(rng, hospital, violators, members: int) -> list[pd.DataFrame]:
    """VIPs, the long dead, and anyone at all, with no relationship to the user."""
    p = hospital.patients
    pool, living = no_encounter_pool(hospital), no_encounter_pool(hospital, living=True)
    out = []
    for rule, targets in (("snooping-vip", pool[p["vip"].to_numpy()[pool]]),
                          ("snooping-deceased", pool[p["death_date"].notna().to_numpy()[pool]]),
                          ("snooping-stranger", living)):
        users, patients = _stranger_pairs(rng, hospital, violators, rule, members, targets)
        out.append(incident_events(rng, hospital, users, patients, rule))
    users, patients = _stranger_pairs(rng, hospital, violators, "sensitive-record-curious", members, living)
    kinds = np.asarray(SENSITIVE, dtype=object)[rng.integers(0, len(SENSITIVE), len(users))]
    out.append(incident_events(rng, hospital, users, patients, "sensitive-record-curious", record_type=kinds))
    return out


def sensitive_by_operations(rng, hospital, violators, members: int) -> pd.DataFrame:
    """Billing or coding staff open an HIV, substance-use or genetic record of a patient whose
    encounter explains their work, but rule 4 never explains a sensitive record type."""
    w = hospital.workforce
    users = violators.take(violators.where(np.isin(w["role"].to_numpy(), ("billing", "coding"))),
                           incidents("sensitive-record-billing", members))
    at = times_in_shift(rng, hospital, users, month_days(rng, hospital, len(users)))
    patient, _, _ = choose_patients(rng, hospital, users, at, np.full(len(users), "operational", dtype=object))
    kinds = np.asarray(SENSITIVE[1:], dtype=object)[rng.integers(0, 3, len(users))]
    found = patient >= 0
    return pd.DataFrame({"user": users[found], "patient": patient[found], "at": at[found], "action": "view",
                         "record_type": kinds[found], "outcome": "success", "purpose": "HPAYMT",
                         "break_glass": False, "reason": None, "explained": True, "clinical": False,
                         "scenario": "sensitive-record-billing", "rule": ""})


def relationship_violations(rng: np.random.Generator, hospital: Hospital, violators: Violators,
                            members: int) -> list[pd.DataFrame]:
    return [snoop_self(rng, hospital, violators, members), snoop_family(rng, hospital, violators, members),
            snoop_coworker(rng, hospital, violators, members), snoop_neighbor(rng, hospital, violators, members),
            sensitive_by_operations(rng, hospital, violators, members),
            *snoop_strangers(rng, hospital, violators, members)]


def as_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*EVENT_COLUMNS, "rule"])
    return pd.concat(frames, ignore_index=True)[[*EVENT_COLUMNS, "rule"]]


