"""Crypto-shredding: a destroyed data key decrypts nowhere, not through the gateway and not in a copy of the
records database taken before it was destroyed."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import create_engine

from auditor.crypto import _aead
from auditor.crypto.envelope import Envelope
from auditor.errors import DecryptionError, NotFound
from auditor.home import Vault
from auditor.vault.gateway import AccessContext, DocumentRecord, PatientDemographics
from auditor.vault.records import PATIENT_SEALED
from tests.crypto.test_envelope import HOUSE, IMPORT, data_keys, fresh_envelope, patient, sealed_values


# -- crypto-shredding -----------------------------------------------------------------------------------------


def test_destroyed_key_decrypts_nowhere(vault):
    env = vault.envelope
    key, other = env.create_keys(2, "patient")
    sealed = {c: env.seal(key, "patients", c, 7, f"value of {c}") for c in PATIENT_SEALED}
    kept = env.seal(other, "patients", "first_name", 8, "kept")
    env.preload([key, other])
    assert not env.is_destroyed(key)
    env.destroy(key)
    assert env.is_destroyed(key) and not env.is_destroyed(other)
    fresh = fresh_envelope(vault)
    preloaded = fresh_envelope(vault)
    preloaded.preload([key, other])
    for e in (env, Envelope(vault.keyring, vault.keystore), fresh, preloaded):
        for column, value in sealed.items():
            with pytest.raises(DecryptionError):
                e.open(value, "patients", column, 7)
        with pytest.raises(DecryptionError):
            e.seal(key, "patients", "first_name", 7, "new")  # and nothing new is sealed under it
        assert e.open(kept, "patients", "first_name", 8) == "kept"
    (row,) = [k for k in data_keys(vault) if k.id == key]
    assert row.wrapped is None
    with pytest.raises(NotFound):
        env.destroy(key)
    with pytest.raises(NotFound):
        env.destroy(12345)


def test_shredded_patient_through_the_gateway(population):
    row = patient(population, "MRN-1")
    population.envelope.destroy(row.data_key_id)
    with pytest.raises(DecryptionError):
        population.gateway.read_chart(HOUSE, "MRN-1")
    reopened = Vault.open(population.home, clock=population.clock)
    with pytest.raises(DecryptionError):
        reopened.gateway.read_chart(HOUSE, "MRN-1")
    reopened.close()
    # other patients are untouched
    assert population.gateway.read_chart(AccessContext("n.joy", "TREAT"), "MRN-2").demographics.last_name == "Lee"


def test_shredding_reaches_a_copy_of_the_records_database_taken_before(sqlite_vault, tmp_path):
    v = sqlite_vault
    v.gateway.register_patients(IMPORT, [
        PatientDemographics("MRN-9", "Zoë", "Müller", "1970-03-04", "F", "12 Main Street", "Boston", "MA", "02111",
                            "(617) 555-0101"),
        PatientDemographics("MRN-8", "Ann", "Lee", "1985-07-08", "F", "9 Elm Road", "Boston", "MA", "02112", None),
    ])
    v.gateway.add_documents(IMPORT, [DocumentRecord("MRN-9", "note", v.clock.at - timedelta(days=1), "T", "B")])
    backup = tmp_path / "backup-records.db"
    src, dst = sqlite3.connect(v.home / "records.db"), sqlite3.connect(backup)
    src.backup(dst)
    src.close()
    dst.close()
    copy = create_engine(f"sqlite:///{backup}")
    copied = sealed_values(copy)
    victim = patient(v, "MRN-9")
    survivor = patient(v, "MRN-8")
    mine = {k: s for k, s in copied.items() if _aead.header_key_id(s) == victim.data_key_id}
    theirs = {k: s for k, s in copied.items() if _aead.header_key_id(s) == survivor.data_key_id}
    assert len(mine) == 12 and len(theirs) == 9  # 10 demographics + title and body; demographics but the phone
    env = fresh_envelope(v)
    for (table, column, row_id), sealed in mine.items():  # the copy is readable before shredding
        env.open(sealed, table, column, row_id)

    v.envelope.destroy(victim.data_key_id)

    reopened = Vault.open(v.home, clock=v.clock)
    for e in (v.envelope, fresh_envelope(v), reopened.envelope):
        for (table, column, row_id), sealed in mine.items():
            with pytest.raises(DecryptionError):
                e.open(sealed, table, column, row_id)
        for (table, column, row_id), sealed in theirs.items():
            e.open(sealed, table, column, row_id)
    reopened.close()
    copy.dispose()
