"""Which rule each simulated access should be reported under, from the generator's ground truth.

The generator knows who is whom by construction (canonical names, household, street and phone
ids, who is staff), never by comparing written values, so these labels test the engine's
normalisation and blind-index matching rather than repeat it. For every successful access to a
patient, in the contract's precedence: self-access (explained or not); then, for an unexplained
access that is not break-glass, family, coworker, neighbor, vip, deceased (more than 30 days after
death, by a role other than him), sensitive record, else no-treatment-relationship. An access to a
sensitive record type that only an operational role would explain is unexplained (rule 4 never
explains one), so it too goes down that list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.simulation.hospital import Hospital
from auditor.simulation.local_time import local_days

ACCESS_ACTIONS = ("view", "create", "update", "delete", "print", "export", "search", "disclose")
SENSITIVE = ("psychotherapy_note", "substance_use", "hiv", "genetic")
DECEASED_AFTER_DAYS = 30
EXEMPT_FROM_DECEASED = ("him",)


def staff_patients(hospital: Hospital) -> pd.DataFrame:
    """(patient, department, staff) for members who are patients: linked, or by name and birth date."""
    w, p = hospital.workforce, hospital.patients
    linked = pd.DataFrame({"patient": w["own_patient"].to_numpy(), "department": w["department"].to_numpy(),
                           "staff": np.arange(len(w))})
    linked = linked[linked["patient"] >= 0]
    who = pd.DataFrame({"first": w["first"].to_numpy(), "last": w["last"].to_numpy(),
                        "birth_date": w["birth_date"].to_numpy(), "department": w["department"].to_numpy(),
                        "staff": np.arange(len(w))}).dropna(subset=["birth_date"])
    named = who.merge(pd.DataFrame({"first": p["first"].to_numpy(), "last": p["last"].to_numpy(),
                                    "birth_date": p["birth_date"].to_numpy(), "patient": np.arange(len(p))}),
                      on=["first", "last", "birth_date"])
    return pd.concat([linked, named[["patient", "department", "staff"]]]).drop_duplicates()


def _same_person(hospital: Hospital, user: np.ndarray, patient: np.ndarray) -> np.ndarray:
    w, p = hospital.workforce, hospital.patients
    linked = w["own_patient"].to_numpy()[user] == patient
    named = ((w["first"].to_numpy()[user] == p["first"].to_numpy()[patient])
             & (w["last"].to_numpy()[user] == p["last"].to_numpy()[patient])
             & (w["birth_date"].to_numpy()[user] == p["birth_date"].to_numpy()[patient]))
    return linked | named


def _coworkers(hospital: Hospital, user: np.ndarray, patient: np.ndarray) -> np.ndarray:
    staff = staff_patients(hospital)
    keys = pd.DataFrame({"patient": patient, "department": hospital.workforce["department"].to_numpy()[user],
                         "user": user}).reset_index(names="row")
    pairs = keys.merge(staff, on=["patient", "department"])
    hit = np.zeros(len(user), dtype=bool)
    hit[pairs.loc[pairs["staff"] != pairs["user"], "row"].to_numpy()] = True
    return hit


def relationship_rules(hospital: Hospital, events: pd.DataFrame) -> pd.Series:
    """The relationship rule (or "") for each event, in the contract's precedence."""
    rule = pd.Series("", index=events.index, dtype=object)
    access = ((events["outcome"] == "success") & (events["patient"] >= 0)
              & events["action"].isin(ACCESS_ACTIONS)).to_numpy()
    rows = events[access]
    if rows.empty:
        return rule
    w, p = hospital.workforce, hospital.patients
    user, patient = rows["user"].to_numpy(), rows["patient"].to_numpy()
    is_self = _same_person(hospital, user, patient)
    home = w["household"].to_numpy()[user] == p["household"].to_numpy()[patient]
    phone = w["phone_key"].to_numpy()[user] == p["phone_key"].to_numpy()[patient]
    family = (w["last"].to_numpy()[user] == p["last"].to_numpy()[patient]) & (home | phone) & ~is_self
    neighbor = (w["street"].to_numpy()[user] == p["street"].to_numpy()[patient]) & ~home & ~is_self
    coworker = _coworkers(hospital, user, patient) & ~is_self
    died = p["death_date"].to_numpy()[patient]
    age = (local_days(rows["at"].to_numpy(), hospital.zone) - died) / np.timedelta64(1, "D")
    deceased = ~np.isnat(died) & (age > DECEASED_AFTER_DAYS) & ~np.isin(w["role"].to_numpy()[user],
                                                                        EXEMPT_FROM_DECEASED)
    sensitive = rows["record_type"].isin(SENSITIVE).to_numpy()
    explained = rows["explained"].to_numpy(dtype=bool)
    operations_only = explained & ~rows["clinical"].to_numpy(dtype=bool)
    # rule 4 never explains a sensitive record type: such an access is unexplained
    open_ = (~explained | (operations_only & sensitive)) & ~rows["break_glass"].to_numpy(dtype=bool)
    chosen = np.select(
        [is_self, open_ & family, open_ & coworker, open_ & neighbor, open_ & p["vip"].to_numpy()[patient],
         open_ & deceased, open_ & sensitive, open_],
        ["self-access", "family-access", "coworker-access", "neighbor-access", "vip-access",
         "deceased-patient-access", "sensitive-record-access", "no-treatment-relationship"], default="")
    rule[access] = chosen
    return rule
