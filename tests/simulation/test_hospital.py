"""The synthetic hospital: deterministic by seed, realistic in the ways the rules care about."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from auditor.matching import normalize_address, normalize_phone, normalize_text
from auditor.simulation import people
from auditor.simulation.local_time import wall_to_utc, written
from auditor.simulation.month import simulate_month
from auditor.simulation.writer import FILES, write_hospital
from auditor.vault.records import ROLES
from tests.conftest import SYNTHEA
from tests.simulation.conftest import NEW_YORK, read

RULES = {"self-access", "family-access", "coworker-access", "neighbor-access", "vip-access",
         "no-treatment-relationship", "after-hours", "terminated-user-access", "excessive-volume",
         "break-glass-review", "deceased-patient-access", "sensitive-record-access", "bulk-export",
         "repeated-denials", "unusual-access"}


def digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_files_other_seed_other_month(tmp_path):
    size = {"events": 4_000, "workforce": 90, "patients": 600}
    a = write_hospital(tmp_path / "a", 11, **size)
    b = write_hospital(tmp_path / "b", 11, **size)
    c = write_hospital(tmp_path / "c", 12, **size)
    assert digest(a.folder) == digest(b.folder)
    assert digest(a.folder)["access_log.csv"] != digest(c.folder)["access_log.csv"]
    assert set(a.paths) == {*FILES, "labels.csv", "simulation.json"}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in a.paths.values())


def test_canonical_names_are_distinct_identities():
    """Two canonical spellings that normalise alike would be one person to the engine, two to the labels."""
    for names in (people.FIRST_NAMES_F + people.FIRST_NAMES_M, people.LAST_NAMES, people.STREET_NAMES):
        assert len({normalize_text(n) for n in names}) == len(names)


def test_every_rule_is_labelled_and_injections_stay_well_under_one_percent():
    month = simulate_month(5, events=60_000, workforce=400, patients=6_000)
    assert set(month.labels["rule"]) == RULES
    injected = month.labels.loc[month.labels["injected"], "event_id"].nunique()
    assert injected / len(month.events) < 0.01
    residue = month.labels[~month.labels["injected"]]
    assert set(residue["scenario"]) == {"residue"}
    assert len(residue) / len(month.events) < 0.03  # the unexplained residue of normal work


def test_realism_of_the_population(small_hospital):
    folder = small_hospital.folder
    staff, pts, log = read(folder, "workforce.csv"), read(folder, "patients.csv"), read(folder, "access_log.csv")
    assert set(staff["role"]) == set(ROLES)
    assert {("19:00", "07:00"), ("07:00", "19:00"), ("", "")} <= set(zip(staff["shift_start"], staff["shift_end"]))
    assert (staff["termination_date"] != "").sum() > 0 and (pts["death_date"] != "").sum() > 0
    assert pts["vip"].isin(["true", "yes", "1"]).sum() > 0 and pts["restricted"].isin(["true", "yes", "1"]).sum() > 0
    assert pts["first_name"].str.contains("[éëïíóñ]").any() and pts["last_name"].str.contains("'").any()
    assert pts["address_line"].str.contains(" Street").any() and pts["address_line"].str.contains(" St").any()
    phones = pts["phone"]
    assert phones.str.startswith("(").any() and phones.str.contains(r"\.").any() and phones.str.startswith("+1").any()
    assert (staff["patient_mrn"] != "").sum() > 0
    glass = log[log["break_glass"] == "true"]
    assert (glass["reason"] != "").any() and (glass["reason"] == "").any()
    assert (log["outcome"] == "denied").sum() > 0 and (log["action"] == "login_failed").sum() > 0


def test_households_share_surname_and_home_as_the_contract_normalises_them(small_hospital):
    pts = read(small_hospital.folder, "patients.csv")
    home = pts["address_line"].map(normalize_address) + "|" + pts["postal_code"]
    phone = pts["phone"].map(normalize_phone)
    sizes = home.value_counts()
    assert (sizes >= 3).sum() > 20
    shared = pts[home.isin(sizes[sizes >= 2].index)]
    # a household is written in more than one spelling, yet one household and one phone
    assert shared.groupby(home[shared.index])["address_line"].nunique().max() > 1
    assert (shared.groupby(home[shared.index])["phone"].nunique() > 1).any()
    assert shared.groupby(home[shared.index]).apply(lambda g: phone[g.index].nunique()).max() == 1


def test_staff_who_are_patients_are_found_by_link_or_by_name_and_birth_date(small_hospital):
    staff, pts = read(small_hospital.folder, "workforce.csv"), read(small_hospital.folder, "patients.csv")
    key = lambda f: f["first_name"].map(normalize_text) + "|" + f["last_name"].map(normalize_text) + "|" + f["birth_date"]  # noqa: E731
    linked = staff["patient_mrn"] != ""
    by_name = ~linked & key(staff).isin(set(key(pts)))
    assert linked.sum() > 5 and by_name.sum() > 5
    written_differently = staff[by_name]["first_name"].isin(pts["first_name"])
    assert not written_differently.all()  # the HR feed spells some names its own way


def test_the_repeated_hour_of_november_1_is_written_with_its_offset():
    second = np.array(["2026-11-01T06:30:00"], dtype="datetime64[s]")  # 01:30 EST, the second 01:30
    first = np.array(["2026-11-01T05:30:00"], dtype="datetime64[s]")  # 01:30 EDT
    assert written(first, NEW_YORK)[0] == "2026-11-01T01:30:00"
    assert written(second, NEW_YORK)[0] == "2026-11-01T01:30:00-05:00"
    back = datetime.fromisoformat(written(second, NEW_YORK)[0]).astimezone(timezone.utc).replace(tzinfo=None)
    assert np.datetime64(back, "s") == second[0]
    assert wall_to_utc(np.array(["2026-11-01T01:30:00"], dtype="datetime64[s]"), NEW_YORK)[0] == first[0]


def test_the_small_month_crosses_the_daylight_saving_change(small_hospital):
    log = read(small_hospital.folder, "access_log.csv")
    assert log["timestamp"].str.endswith("-05:00").any()
    assert log["timestamp"].str.startswith("2026-11-01T01:").sum() > log["timestamp"].str.endswith("-05:00").sum()
    days = pd.to_datetime(log["timestamp"].str[:10])
    assert days.min() == pd.Timestamp("2026-11-01") and days.max() == pd.Timestamp("2026-11-30")


@pytest.mark.skipif(not (SYNTHEA / "patients.csv").is_file(), reason="no Synthea sample beside the checkout")
def test_patients_can_be_seeded_from_synthea(tmp_path):
    sample = people.read_synthea(SYNTHEA)
    files = write_hospital(tmp_path / "s", 3, events=3_000, workforce=80, patients=500, synthea=SYNTHEA)
    pts = read(files.folder, "patients.csv")
    seeded = min(len(sample), len(pts))
    assert not pts["last_name"].str.contains(r"\d").any()
    written_last = set(pts["last_name"].head(seeded).map(normalize_text))
    assert {normalize_text(n) for n in sample["last"].head(seeded)} == written_last


def test_curiosity_browsing_is_labelled_unusual_access_only_and_explained_late_by_the_department():
    month = simulate_month(3, events=60_000, workforce=400, patients=6_000)
    ev = month.events
    curious = ev[ev["scenario"] == "curiosity"]
    assert curious["user"].nunique() >= 3 and curious.groupby("user")["patient"].nunique().min() >= 10
    labels = month.labels[month.labels["event_id"].isin(curious["event_id"])]
    assert set(labels["rule"]) == {"unusual-access"} and len(labels) == len(curious)
    assert set(month.labels.loc[month.labels["rule"] == "unusual-access", "event_id"]) == set(curious["event_id"])
    assert (curious["record_type"] == "demographics").all() and (curious["action"] == "view").all()
    staff, enc = month.hospital.workforce, month.hospital.encounters
    assert set(staff["role"].to_numpy()[curious["user"]]) <= {"nurse", "physician"}
    # each access: an encounter of the user's department ended 26 to 29 days before, none of the patient's later
    pairs = curious.merge(enc, on="patient", suffixes=("", "_enc"))
    ago = (pairs["at"] - pairs["end"]) / pd.Timedelta(days=1)
    own = pairs["department"] == staff["department"].to_numpy()[pairs["user"]]
    assert pairs.loc[own & ago.between(26, 29.1), "event_id"].nunique() == len(curious)
    assert not ((ago < 26) & (pairs["at"] >= pairs["start"] - pd.Timedelta(days=8))).any()
    # the members browse in their shift, a few charts a day at most
    per_day = curious.groupby(["user", curious["at"].dt.date])["patient"].nunique()
    assert per_day.max() <= 10
