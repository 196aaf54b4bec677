"""Importing the Synthea sample: counts, idempotence, and no plaintext PHI anywhere on disk."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select

from auditor.ingest.synthea import import_synthea, sensitivity_of
from auditor.vault.gateway import AccessContext
from auditor.vault.records import ClinicalDocument, Encounter, Patient, WorkforceMember
from tests.conftest import SYNTHEA

pytestmark = pytest.mark.skipif(not SYNTHEA.exists(), reason="../shared/data/synthea is not beside the checkout")


def _count(vault, model):
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def test_import_loads_population_once(vault):
    first = import_synthea(vault.gateway, SYNTHEA)
    assert (first.patients, first.workforce, first.encounters, first.documents) == (115, 627, 4402, 9158)
    second = import_synthea(vault.gateway, SYNTHEA)
    assert (second.patients, second.workforce, second.encounters, second.documents) == (0, 0, 0, 0)
    assert _count(vault, Patient) == 115 and _count(vault, WorkforceMember) == 627
    assert _count(vault, Encounter) == 4402 and _count(vault, ClinicalDocument) == 9158
    with vault.records.connect() as conn:
        assert conn.scalar(select(func.count()).where(Patient.deceased_on.is_not(None))) == 15
        sensitivities = set(conn.scalars(select(ClinicalDocument.sensitivity).distinct()))
    assert {"general", "mental_health"} <= sensitivities


def test_patient_reads_back_through_gateway(vault):
    import_synthea(vault.gateway, SYNTHEA)
    with (SYNTHEA / "patients.csv").open() as f:
        row = next(csv.DictReader(f))
    found = vault.gateway.search_patients(AccessContext.service("report"), first_name=row["FIRST"],
                                          last_name=row["LAST"], birth_date=row["BIRTHDATE"])
    assert [p.mrn for p in found] == [row["Id"]]


def _secrets_of_the_sample() -> set[bytes]:
    values = set()
    with (SYNTHEA / "patients.csv").open() as f:
        for r in csv.DictReader(f):
            values |= {r["FIRST"], r["LAST"], r["BIRTHDATE"], r["ADDRESS"], r["Id"]}
    with (SYNTHEA / "providers.csv").open() as f:
        for r in csv.DictReader(f):
            values |= set(r["NAME"].split())
    return {v.encode() for v in values if v and len(v) >= 6}


def test_database_files_hold_no_names_birth_dates_or_addresses(sqlite_vault):
    import_synthea(sqlite_vault.gateway, SYNTHEA)
    sqlite_vault.close()  # checkpoint the WAL into the main file as well
    home = sqlite_vault.home
    blobs = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith(("records.db", "keystore.db")))
    secrets = _secrets_of_the_sample()
    assert len(secrets) > 300
    leaked = sorted(s.decode() for s in secrets if s in blobs)
    assert leaked == [], f"{len(leaked)} plaintext values found on disk"
    assert b"Hypertension" not in blobs  # document titles are sealed too


def test_grep_would_find_plaintext(tmp_path):
    """The leak check is not vacuous: the same scan finds a value written in the clear."""
    secret = next(iter(_secrets_of_the_sample()))
    (tmp_path / "records.db").write_bytes(b"header" + secret + b"trailer")
    assert secret in (tmp_path / "records.db").read_bytes()


@pytest.mark.parametrize("description,label", [
    ("Major depression disorder", "mental_health"), ("Alcoholism", "substance_use"),
    ("Opioid abuse (disorder)", "substance_use"), ("Human immunodeficiency virus infection", "hiv"),
    ("Hypertension", "general"), ("Genetic screening", "genetic"),
])
def test_sensitivity_labels(description, label):
    assert sensitivity_of(description) == label


def test_missing_files_are_refused(vault, tmp_path):
    from auditor.errors import InputError

    with pytest.raises(InputError, match="missing patients.csv"):
        import_synthea(vault.gateway, tmp_path)
