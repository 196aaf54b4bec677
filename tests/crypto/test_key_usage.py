"""Data-key usage limits (NIST SP 800-38D: at most 2^32 random-nonce encryptions under one key): uses are
counted, flushed to the key store, kept when a flush fails, and a key at its limit seals nothing more."""

from __future__ import annotations

import sys
import threading

import pytest

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from auditor.crypto.envelope import MAX_USES
from auditor.errors import KeyUsageExhausted
from auditor.home import Vault
from auditor.vault.gateway import DocumentRecord
from tests.crypto.test_envelope import HOUSE, IMPORT, fresh_envelope, patient, set_uses, stored_uses
from tests.refusing_database import MESSAGE, refusing


# -- usage counting ------------------------------------------------------------------------------------------------


def test_uses_are_counted_and_flushed(vault):
    env = vault.envelope
    key = env.create_key("patient")
    assert stored_uses(vault, key) == 0
    for i in range(5):
        env.seal(key, "patients", "first_name", i, "x")
    env.seal(key, "patients", "phone", 1, None)  # nothing sealed, nothing counted
    env.open(env.seal(key, "patients", "city", 1, "y"), "patients", "city", 1)  # opening is not counted
    assert stored_uses(vault, key) == 0  # counted in memory until flushed
    env.flush_usage()
    assert stored_uses(vault, key) == 6
    env.flush_usage()  # nothing pending: no change
    assert stored_uses(vault, key) == 6
    other = fresh_envelope(vault)  # a second process adds to, not overwrites, the count
    other.seal(key, "patients", "state", 1, "z")
    other.seal(key, "patients", "state", 2, "z")
    env.seal(key, "patients", "state", 3, "z")
    other.flush_usage()
    env.flush_usage()
    assert stored_uses(vault, key) == 9
    assert env.counts()["max_uses"] >= 9


def test_uses_counted_while_another_thread_flushes_are_all_kept(vault):
    env = vault.envelope
    key = env.create_key("log")
    done = threading.Event()

    def flushing():
        while not done.is_set():
            env.flush_usage()

    flusher = threading.Thread(target=flushing)
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads take turns between almost any two bytecodes
    flusher.start()
    try:
        for i in range(3000):
            env.seal(key, "audit_events", "reason", i, "break-glass reason")
    finally:
        done.set()
        flusher.join()
        sys.setswitchinterval(switching)
    env.flush_usage()
    assert stored_uses(vault, key) == 3000


def test_uses_that_could_not_be_written_are_kept_for_the_next_flush(vault):
    env = vault.envelope
    key = env.create_key("patient")
    env.seal(key, "patients", "first_name", 1, "x")
    env.seal(key, "patients", "first_name", 2, "y")
    with refusing(vault.keystore, "data_keys", "UPDATE"):  # the key store refuses the write
        with pytest.raises(DBAPIError, match=MESSAGE):
            env.flush_usage()
        assert stored_uses(vault, key) == 0
    env.seal(key, "patients", "first_name", 3, "z")
    env.flush_usage()
    assert stored_uses(vault, key) == 3  # the two kept, and the one since


def test_gateway_writes_count_uses(population, clock):
    one, three = patient(population, "MRN-1"), patient(population, "MRN-3")
    assert stored_uses(population, one.data_key_id) == 10 + 3 * 2  # ten fields, three documents of two
    assert stored_uses(population, three.data_key_id) == 9  # no phone
    population.gateway.add_documents(IMPORT, [DocumentRecord("MRN-1", "lab", clock.at, "A1c", "6.1%"),
                                              DocumentRecord("MRN-1", "lab", clock.at, "LDL", None)])
    assert stored_uses(population, one.data_key_id) == 16 + 3


def test_key_usage_exhausted(vault):
    key = vault.envelope.create_key("patient")
    sealed = vault.envelope.seal(key, "patients", "first_name", 1, "before")
    vault.envelope.flush_usage()
    set_uses(vault, key, MAX_USES)
    env = fresh_envelope(vault)
    with pytest.raises(KeyUsageExhausted):
        env.seal(key, "patients", "first_name", 2, "after")
    assert env.open(sealed, "patients", "first_name", 1) == "before"  # decryption is not limited
    assert env.seal(key, "patients", "first_name", 2, None) is None

    set_uses(vault, key, MAX_USES - 2)
    env = fresh_envelope(vault)
    env.seal(key, "patients", "first_name", 2, "one")
    env.seal(key, "patients", "first_name", 3, "two")  # the 2^32-th encryption is allowed
    with pytest.raises(KeyUsageExhausted):
        env.seal(key, "patients", "first_name", 4, "three")
    env.flush_usage()
    assert stored_uses(vault, key) == MAX_USES


def test_key_usage_exhausted_through_the_gateway_writes_nothing(population, clock):
    one = patient(population, "MRN-1")
    set_uses(population, one.data_key_id, MAX_USES)
    v = Vault.open(population.home, clock=clock)

    def documents() -> int:
        with v.records.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM documents")).scalar_one()

    count = documents()
    with pytest.raises(KeyUsageExhausted):
        v.gateway.add_documents(IMPORT, [DocumentRecord("MRN-1", "lab", clock.at, "A1c", "6.1%")])
    assert documents() == count
    v.gateway.add_documents(IMPORT, [DocumentRecord("MRN-3", "lab", clock.at, "A1c", "6.1%")])  # other keys fine
    assert documents() == count + 1
    assert v.gateway.read_chart(HOUSE, "MRN-1").demographics.first_name == "Zoë"  # still readable
    v.close()
