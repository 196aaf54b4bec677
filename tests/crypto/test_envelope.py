"""Envelope encryption on SQLite and PostgreSQL: binding to table/column/row, unknown keys and KEK
rotation (crypto-shredding: test_shredding.py; usage limits: test_key_usage.py)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import text

from auditor.crypto import _aead
from auditor.crypto.envelope import Envelope, field_context, new_key_ids
from auditor.crypto.keyring import Keyring
from auditor.crypto.rotation import retire_unused, switch_primary
from auditor.errors import DecryptionError, KeyringError
from auditor.home import Vault
from auditor.vault.gateway import AccessContext
from auditor.vault.records import DOCUMENT_SEALED, PATIENT_SEALED, WORKFORCE_SEALED

HOUSE = AccessContext("dr.house", "TREAT")  # attending of MRN-1, in its department
IMPORT = AccessContext.service("import")
SEALED_TABLES = {"patients": PATIENT_SEALED, "workforce": WORKFORCE_SEALED, "documents": DOCUMENT_SEALED,
                 "audit_events": ("reason",)}
ID_COLUMN = {"audit_events": "seq"}


# -- helpers ----------------------------------------------------------------------------------------------


def patient(vault, mrn: str):
    with vault.records.connect() as conn:
        return conn.execute(text(f"SELECT id, data_key_id, {', '.join(PATIENT_SEALED)} FROM patients "
                                 "WHERE mrn_bidx = :b"), {"b": vault.indexer.mrn(mrn)}).one()


def set_patient(vault, pid: int, **columns) -> None:
    with vault.records.begin() as conn:
        for column, value in columns.items():
            assert column in PATIENT_SEALED
            conn.execute(text(f"UPDATE patients SET {column} = :v WHERE id = :id"), {"v": value, "id": pid})


def sealed_values(engine) -> dict[tuple[str, str, int], bytes]:
    """Every sealed value in the records database, by (table, column, row id)."""
    out = {}
    with engine.connect() as conn:
        for table, columns in SEALED_TABLES.items():
            id_column = ID_COLUMN.get(table, "id")
            for row in conn.execute(text(f"SELECT {id_column}, {', '.join(columns)} FROM {table}")):
                for column, value in zip(columns, row[1:]):
                    if value is not None:
                        out[(table, column, row[0])] = bytes(value)
    return out


def fresh_envelope(vault) -> Envelope:
    """An Envelope from a freshly loaded keyring: nothing cached from the writes."""
    return Envelope(Keyring.load(vault.home / "keyring.json"), vault.keystore, vault.clock)


def data_keys(vault) -> list:
    with vault.keystore.connect() as conn:
        return conn.execute(text("SELECT id, kek_id, wrapped, uses FROM data_keys ORDER BY id")).all()


def stored_uses(vault, key_id: int) -> int:
    with vault.keystore.connect() as conn:
        return conn.execute(text("SELECT uses FROM data_keys WHERE id = :id"), {"id": key_id}).scalar_one()


def set_uses(vault, key_id: int, uses: int) -> None:
    with vault.keystore.begin() as conn:
        conn.execute(text("UPDATE data_keys SET uses = :u WHERE id = :id"), {"u": uses, "id": key_id})


def with_key_id(sealed: bytes, key_id: int) -> bytes:
    return bytes(sealed[:1]) + key_id.to_bytes(8, "big") + bytes(sealed[9:])


# -- round trips ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=200), column=st.sampled_from(PATIENT_SEALED), row_id=st.integers(1, 2**63 - 1))
def test_field_round_trip(vault, value, column, row_id):
    env = vault.envelope
    key = env.create_key("patient")
    sealed = env.seal(key, "patients", column, row_id, value)
    assert _aead.header_key_id(sealed) == key
    assert env.open(sealed, "patients", column, row_id) == value
    assert Envelope(vault.keyring, vault.keystore).open(sealed, "patients", column, row_id) == value


def test_none_is_not_sealed(vault):
    key = vault.envelope.create_key("patient")
    assert vault.envelope.seal(key, "patients", "phone", 1, None) is None
    assert vault.envelope.open(None, "patients", "phone", 1) is None


def test_fresh_envelope_opens_what_was_written(population):
    before = sealed_values(population.records)
    assert before
    env = fresh_envelope(population)
    for (table, column, row_id), sealed in before.items():
        env.open(sealed, table, column, row_id)
    row = patient(population, "MRN-1")
    assert env.open(row.first_name, "patients", "first_name", row.id) == "Zoë"
    assert env.open(row.phone, "patients", "phone", row.id) == "(617) 555-0101"


def test_gateway_round_trip(population):
    chart = population.gateway.read_chart(HOUSE, "MRN-1")
    d = chart.demographics
    assert (d.mrn, d.first_name, d.last_name, d.birth_date, d.sex, d.address_line, d.city, d.state, d.postal_code,
            d.phone) == ("MRN-1", "Zoë", "Müller", "1970-03-04", "F", "12 Main Street", "Boston", "MA", "02111",
                         "(617) 555-0101")
    assert {(doc.title, doc.body) for doc in chart.documents} == {
        ("Hypertension", "BP 150/95"), ("Therapy session", "private words"), ("HIV infection", "viral load")}


# -- ciphertexts moved between rows and columns -----------------------------------------------------------------


def test_ciphertexts_swapped_between_two_patients(population):
    one, three = patient(population, "MRN-1"), patient(population, "MRN-3")
    population.gateway.read_chart(HOUSE, "MRN-1")  # readable before
    set_patient(population, one.id, first_name=three.first_name)
    set_patient(population, three.id, first_name=one.first_name)
    with pytest.raises(DecryptionError):
        population.gateway.read_chart(HOUSE, "MRN-1")
    for env in (population.envelope, fresh_envelope(population)):
        for row in (patient(population, "MRN-1"), patient(population, "MRN-3")):
            with pytest.raises(DecryptionError):
                env.open(row.first_name, "patients", "first_name", row.id)
            assert env.open(row.last_name, "patients", "last_name", row.id) in ("Müller", "Star")
    set_patient(population, one.id, first_name=one.first_name)  # put back: readable again
    assert population.gateway.read_chart(HOUSE, "MRN-1").demographics.first_name == "Zoë"


def test_ciphertext_copied_from_another_patient_row_in_every_column(population):
    one, two = patient(population, "MRN-1"), patient(population, "MRN-2")
    for column in PATIENT_SEALED:
        if column == "mrn":
            continue  # looked up first: see the next test
        set_patient(population, one.id, **{column: getattr(two, column)})
        with pytest.raises(DecryptionError):
            population.gateway.read_chart(HOUSE, "MRN-1", documents=False)
        set_patient(population, one.id, **{column: getattr(one, column)})
    population.gateway.read_chart(HOUSE, "MRN-1")  # every value restored: readable again


SWAPS = [("first_name", "last_name"), ("city", "state"), ("address_line", "phone"), ("birth_date", "sex"),
         ("mrn", "postal_code")]


def test_ciphertexts_swapped_between_two_columns_of_one_row(population):
    row = patient(population, "MRN-1")
    env = fresh_envelope(population)
    for a, b in SWAPS:
        set_patient(population, row.id, **{a: getattr(row, b), b: getattr(row, a)})
        with pytest.raises(DecryptionError):
            population.gateway.read_chart(HOUSE, "MRN-1")
        swapped = patient(population, "MRN-1")
        for column in (a, b):
            with pytest.raises(DecryptionError):
                env.open(getattr(swapped, column), "patients", column, row.id)
        set_patient(population, row.id, **{a: getattr(row, a), b: getattr(row, b)})
    population.gateway.read_chart(HOUSE, "MRN-1")


def test_mrn_copied_from_another_patient_is_not_found_or_refused(population):
    one, three = patient(population, "MRN-1"), patient(population, "MRN-3")
    set_patient(population, one.id, mrn=three.mrn)
    with pytest.raises(DecryptionError):  # the MRN check decrypts, and fails
        population.gateway.read_chart(HOUSE, "MRN-1")


def test_documents_of_one_patient_swapped_under_the_same_key(population):
    """Same data key, different rows: only the row binding of the associated data stops it."""
    pid = patient(population, "MRN-1").id
    with population.records.connect() as conn:
        docs = conn.execute(text("SELECT id, title, body FROM documents WHERE patient_id = :p ORDER BY id"),
                            {"p": pid}).all()
    assert len(docs) == 3 and len({_aead.header_key_id(bytes(d.title)) for d in docs}) == 1
    first, second = docs[0], docs[1]
    with population.records.begin() as conn:
        conn.execute(text("UPDATE documents SET title = :t WHERE id = :id"), {"t": second.title, "id": first.id})
        conn.execute(text("UPDATE documents SET title = :t WHERE id = :id"), {"t": first.title, "id": second.id})
    with pytest.raises(DecryptionError):
        population.gateway.read_chart(HOUSE, "MRN-1")
    env = fresh_envelope(population)
    with pytest.raises(DecryptionError):
        env.open(second.title, "documents", "title", first.id)
    with pytest.raises(DecryptionError):  # and a title is not a body
        env.open(first.title, "documents", "body", first.id)


def test_ciphertext_moved_to_another_table(population):
    row = patient(population, "MRN-1")
    env = fresh_envelope(population)
    assert env.open(row.first_name, "patients", "first_name", row.id) == "Zoë"
    for table in ("workforce", "documents", "audit_events"):
        with pytest.raises(DecryptionError):
            env.open(row.first_name, table, "first_name", row.id)


def test_field_context_layout():
    assert field_context("patients", "first_name", 12) != field_context("patients", "first_name", 1)
    assert field_context("patients", "first_name", 12) == b"patients\x00first_name\x0012"


# -- unknown and wrong key ids --------------------------------------------------------------------------------


def test_ciphertext_naming_an_unknown_data_key(population):
    row = patient(population, "MRN-1")
    known = {k.id for k in data_keys(population)}
    unknown = next(k for k in (1, 2, 2**63 - 1, 0, 2**64 - 1, row.data_key_id ^ 1) if k not in known)
    set_patient(population, row.id, last_name=with_key_id(row.last_name, unknown))
    with pytest.raises(DecryptionError):
        population.gateway.read_chart(HOUSE, "MRN-1")
    for key_id in (0, 1, 2**64 - 1, row.data_key_id ^ 1, row.data_key_id ^ (1 << 62)):
        if key_id in known:
            continue
        for env in (population.envelope, fresh_envelope(population)):
            with pytest.raises(DecryptionError):
                env.open(with_key_id(row.last_name, key_id), "patients", "last_name", row.id)


def test_ciphertext_naming_another_existing_data_key(population):
    one, three = patient(population, "MRN-1"), patient(population, "MRN-3")
    assert one.data_key_id != three.data_key_id
    relabelled = with_key_id(one.last_name, three.data_key_id)
    set_patient(population, one.id, last_name=relabelled)
    with pytest.raises(DecryptionError):
        population.gateway.read_chart(HOUSE, "MRN-1")
    with pytest.raises(DecryptionError):
        fresh_envelope(population).open(relabelled, "patients", "last_name", one.id)


def test_garbage_in_a_sealed_column(population):
    row = patient(population, "MRN-1")
    for value in (b"", b"\x01", bytes(40), b"\x02" + bytes(60), bytes(row.city)[:-1], bytes(row.city) + b"\x00"):
        set_patient(population, row.id, city=value)
        with pytest.raises(DecryptionError):
            population.gateway.read_chart(HOUSE, "MRN-1")


def test_tampered_or_moved_wrapped_data_keys(population):
    one, three = patient(population, "MRN-1"), patient(population, "MRN-3")
    wrapped = {k.id: bytes(k.wrapped) for k in data_keys(population)}
    with population.keystore.begin() as conn:  # swap the wrapped material of two data keys
        conn.execute(text("UPDATE data_keys SET wrapped = :w WHERE id = :id"),
                     {"w": wrapped[three.data_key_id], "id": one.data_key_id})
        conn.execute(text("UPDATE data_keys SET wrapped = :w WHERE id = :id"),
                     {"w": wrapped[one.data_key_id], "id": three.data_key_id})
    for row in (one, three):
        with pytest.raises(DecryptionError):
            fresh_envelope(population).open(row.first_name, "patients", "first_name", row.id)
    flipped = bytearray(wrapped[one.data_key_id])
    flipped[-1] ^= 0x80
    with population.keystore.begin() as conn:
        conn.execute(text("UPDATE data_keys SET wrapped = :w WHERE id = :id"), {"w": bytes(flipped), "id": one.data_key_id})
    with pytest.raises(DecryptionError):
        fresh_envelope(population).open(one.first_name, "patients", "first_name", one.id)
    reopened = Vault.open(population.home, clock=population.clock)
    with pytest.raises(DecryptionError):
        reopened.gateway.read_chart(HOUSE, "MRN-1")
    reopened.close()


# -- KEK rotation -----------------------------------------------------------------------------------------------


def _records_digest(vault) -> str | None:
    """The bytes of a SQLite records database, checkpointed (None for a server database)."""
    if vault.records.dialect.name != "sqlite":
        return None
    vault.records.dispose()  # the last connection closing checkpoints the WAL into the main file
    h = hashlib.sha256()
    for path in sorted(vault.home.glob("records.db*")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_kek_rotation_rewraps_every_data_key_and_never_touches_records(population):
    v = population
    v.gateway.read_chart(AccessContext("dr.other", "TREAT", reason="code blue", break_glass=True), "MRN-3")
    before = sealed_values(v.records)
    assert any(table == "audit_events" for table, _, _ in before)
    digest = _records_digest(v)
    keys_before = {k.id: bytes(k.wrapped) for k in data_keys(v)}
    old = v.keyring.primary_kek.key_id
    assert v.envelope.keys_under() == {old: len(keys_before)}

    new = switch_primary(v.keyring, v.envelope)
    # new keys made mid-rotation go under the new KEK already
    extra = v.envelope.create_key("patient")
    assert v.envelope.rewrap_all(batch=3) == len(keys_before)
    assert v.envelope.rewrap_all() == 0  # idempotent
    assert retire_unused(v.keyring, v.envelope) == ((old,), ())

    assert v.envelope.keys_under() == {new: len(keys_before) + 1}
    after_keys = data_keys(v)
    assert {k.kek_id for k in after_keys} == {new}
    assert {_aead.header_key_id(bytes(k.wrapped)) for k in after_keys} == {new}
    for k in after_keys:
        if k.id != extra:
            assert bytes(k.wrapped) != keys_before[k.id]
    assert v.envelope.counts()[f"wraps:kek-{new}"] == len(keys_before) + 1

    # rotation never touches records: same ciphertexts, same bytes
    assert sealed_values(v.records) == before
    assert _records_digest(v) == digest

    ring = Keyring.load(v.home / "keyring.json")
    with pytest.raises(KeyringError):
        ring.kek(old)
    env = Envelope(ring, v.keystore, v.clock)
    opened = {key: env.open(sealed, *key) for key, sealed in before.items()}
    assert "Zoë" in opened.values() and "code blue" in opened.values()
    reopened = Vault.open(v.home, clock=v.clock)
    assert reopened.gateway.read_chart(HOUSE, "MRN-1").demographics.last_name == "Müller"
    reopened.close()


def test_data_key_under_a_retired_kek_does_not_decrypt(population):
    v = population
    old = v.keyring.primary_kek.key_id
    row = patient(v, "MRN-1")
    switch_primary(v.keyring, v.envelope)
    v.keyring.retire_kek(old)  # without rewrapping first: every existing data key is lost
    for env in (fresh_envelope(v), Envelope(v.keyring, v.keystore)):
        with pytest.raises(DecryptionError):
            env.open(row.first_name, "patients", "first_name", row.id)
    reopened = Vault.open(v.home, clock=v.clock)
    with pytest.raises(DecryptionError):
        reopened.gateway.read_chart(HOUSE, "MRN-1")
    reopened.close()
    with pytest.raises(KeyringError):  # and rewrapping cannot rescue them
        v.envelope.rewrap_all()


def test_active_old_kek_still_unwraps_before_rewrap(population):
    v = population
    row = patient(v, "MRN-1")
    switch_primary(v.keyring, v.envelope)  # old KEK is active, keys not yet rewrapped
    assert fresh_envelope(v).open(row.first_name, "patients", "first_name", row.id) == "Zoë"


def test_ids_made_many_at_a_time_are_new_key_ids():
    ids = new_key_ids(20_000)
    assert len(ids) == 20_000 and len(set(ids)) == 20_000  # a repeat among 63-bit ids: about 2e-11
    assert all(type(i) is int and 1 <= i < 2**63 for i in ids)
    assert max(ids) >= 2**62 and min(ids) < 2**62  # both halves: the top bit of 63 is random too
    assert sum(i & 1 for i in ids) in range(9_000, 11_000)  # the lowest bit too
    assert new_key_ids(0) == []
