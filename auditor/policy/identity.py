"""Who the patient is to the user, through blind indexes only (interchange contract, "Matching people").

self: the workforce record links the patient (patient_mrn) or name + birth date match;
family: same last name and (same household or same phone); coworker: the patient is a workforce
member (by link or name + birth date) of the user's department; neighbor: same street, another
household. Each column compares keyed HMACs of normalised values; nothing is decrypted.
"""

from __future__ import annotations

import pandas as pd

from auditor.policy.frames import row_positions, taken


def same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Equal and both known (an unknown value never matches)."""
    return (a == b).fillna(False).astype(bool)


def staff_patients(workforce: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """(patient_id, department, staff_user_id) for every workforce member who is also a patient."""
    linked = workforce.loc[workforce["own_patient_id"].notna(), ["own_patient_id", "department", "user_id"]]
    linked = linked.rename(columns={"own_patient_id": "patient_id"})
    by_name = workforce.loc[workforce["name_dob"].notna(), ["name_dob", "department", "user_id"]].merge(
        patients.loc[patients["name_dob"].notna(), ["name_dob", "patient_id"]], on="name_dob")
    both = pd.concat([linked, by_name[["patient_id", "department", "user_id"]]], ignore_index=True)
    both["department"] = both["department"].astype("string")
    return both.rename(columns={"user_id": "staff_user_id"}).dropna().drop_duplicates()


def identity_links(accesses: pd.DataFrame, workforce: pd.DataFrame, patients: pd.DataFrame,
                   staff: pd.DataFrame) -> pd.DataFrame:
    """Boolean columns is_self, is_family, is_coworker, is_neighbor, and the family evidence
    shares_home and shares_phone, for each access (same index). The user's and the patient's blind
    indexes are looked up here, a pair at a time, and not kept: ten million accesses would carry
    ten columns of them."""
    users, user_at = row_positions(accesses["user_id"], workforce, "user_id")
    people, patient_at = row_positions(accesses["patient_id"], patients, "patient_id")

    def pair(name: str) -> tuple[pd.Series, pd.Series]:
        return (taken(users, user_at, [name], accesses.index)[name],
                taken(people, patient_at, [name], accesses.index)[name])

    out = pd.DataFrame(index=accesses.index)
    out["is_self"] = same(accesses["own_patient_id"], accesses["patient_id"]) | same(*pair("name_dob"))
    out["shares_home"] = same(*pair("household"))
    out["shares_phone"] = same(*pair("phone"))
    out["is_family"] = same(*pair("last_name")) & (out["shares_home"] | out["shares_phone"]) & ~out["is_self"]
    out["is_neighbor"] = same(*pair("street")) & ~out["shares_home"] & ~out["is_self"]
    staff_patient = accesses["patient_id"].isin(staff["patient_id"]).to_numpy()  # few patients are staff
    keys = accesses.loc[staff_patient, ["patient_id", "department", "user_id"]].astype({"department": "string"})
    pairs = keys.reset_index(names="_row").merge(staff, on=["patient_id", "department"], how="inner")
    colleagues = pairs.loc[pairs["staff_user_id"] != pairs["user_id"], "_row"].unique()
    out["is_coworker"] = accesses.index.isin(colleagues) & ~out["is_self"]
    return out
