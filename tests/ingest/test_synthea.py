"""Importing the Synthea sample: counts, idempotence, and no plaintext PHI anywhere on disk."""

from __future__ import annotations

import csv
import sqlite3

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


def plaintext_on_disk(home, values: set[bytes]) -> list[str]:
    """The values found in the clear in a vault's database files (the WAL and its index included)."""
    blobs = b"".join(p.read_bytes() for p in sorted(home.iterdir()) if p.name.startswith(("records.db", "keystore.db")))
    return sorted(v.decode() for v in values if v in blobs)


def test_database_files_hold_no_names_birth_dates_or_addresses(sqlite_vault):
    import_synthea(sqlite_vault.gateway, SYNTHEA)
    sqlite_vault.close()  # checkpoint the WAL into the main file as well
    secrets = _secrets_of_the_sample()
    assert len(secrets) > 300
    leaked = plaintext_on_disk(sqlite_vault.home, secrets | {b"Hypertension"})  # document titles are sealed too
    assert leaked == [], f"{len(leaked)} plaintext values found on disk"


@pytest.mark.parametrize("database, statement", [
    ("records.db", "insert into vault_settings (name, value) values ('note', ?)"),
    ("keystore.db", "update data_keys set purpose = ? where rowid = (select min(rowid) from data_keys)")],
    ids=["records", "keystore"])
def test_the_leak_check_finds_a_value_a_bug_wrote_in_the_clear(sqlite_vault, database, statement):
    """The check above is not vacuous: one value of the sample (a name, birth date, address or MRN)
    written into a clear column of a real vault's database, as a bug could, is named by the same check,
    in the write-ahead log and once checkpointed into the file."""
    sqlite_vault.close()
    secrets = _secrets_of_the_sample()
    planted = sorted(secrets)[0]
    assert plaintext_on_disk(sqlite_vault.home, secrets) == []
    db = sqlite3.connect(sqlite_vault.home / database)
    with db:
        assert db.execute(statement, (planted.decode(),)).rowcount == 1
    assert plaintext_on_disk(sqlite_vault.home, secrets) == [planted.decode()]  # committed: in the WAL only
    db.close()  # the last connection: the WAL is checkpointed into the database file
    assert plaintext_on_disk(sqlite_vault.home, secrets) == [planted.decode()]


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
