"""Keyed blind indexes: equal iff the normal forms are equal, separated per index and per root key,
signed 64-bit integers that a BIGINT column holds on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import os
import string
from datetime import date

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, strategies as st
from sqlalchemy import text

from auditor import matching
from auditor.crypto.blind_index import INDEXES, BlindIndexer
from tests.test_matching import SPEC_SUFFIXES, names_and_variants

ROOT = bytes(range(32))
IX = BlindIndexer(ROOT)
INT64 = range(-(2**63), 2**63)


# -- equality iff equal normal forms ---------------------------------------------------------------------------


@given(names_and_variants())
def test_name_variants_have_one_index(pair):
    base, variant = pair
    assert IX.last_name(base) == IX.last_name(variant) is not None


@given(st.one_of(st.tuples(st.text(), st.text()), names_and_variants(),
                 st.tuples(st.text(alphabet="aAbBéÉ '.-", max_size=4), st.text(alphabet="aAbBéÉ '.-", max_size=4))))
def test_last_name_index_equal_iff_normal_forms_equal(pair):
    a, b = pair
    assert (IX.last_name(a) == IX.last_name(b)) == (matching.normalize_text(a) == matching.normalize_text(b))
    assert (IX.last_name(a) is None) == (matching.normalize_text(a) is None)


PHONE_FORMATS = ["({}{}{}) {}{}{}-{}{}{}{}", "{}{}{}.{}{}{}.{}{}{}{}", "+1 {}{}{} {}{}{} {}{}{}{}", "{}{}{}{}{}{}{}{}{}{}"]
same_phone_twice = st.builds(lambda d, f, g: (f.format(*d), g.format(*d)),
                             st.text(alphabet=string.digits, min_size=10, max_size=10),
                             st.sampled_from(PHONE_FORMATS), st.sampled_from(PHONE_FORMATS))


@given(st.one_of(st.tuples(st.text(alphabet=string.digits + " -.()+x", max_size=16),
                           st.text(alphabet=string.digits + " -.()+x", max_size=16)), same_phone_twice))
def test_phone_index_equal_iff_normal_forms_equal(pair):
    a, b = pair
    if matching.normalize_phone(a) is None:
        assert IX.phone(a) is None
    assert (IX.phone(a) == IX.phone(b)) == (matching.normalize_phone(a) == matching.normalize_phone(b))


identities = st.tuples(st.sampled_from(["12", "14"]), st.sampled_from(["Main", "Elm", "Maple Leaf"]),
                       st.sampled_from(SPEC_SUFFIXES[:4]), st.sampled_from([None, "Apt 4", "Apt 5", "Unit 4", "#4"]),
                       st.sampled_from(["02111", "02112"]))


@st.composite
def rendered(draw, identity):
    """One way of writing the address `identity` down: (address line, postal code)."""
    number, name, (long, short), unit, zip5 = identity
    suffix = draw(st.sampled_from([long, short, short + ".", long.upper(), short.lower()]))
    line = f"{number}{draw(st.sampled_from([' ', '  ']))}{draw(st.sampled_from([name, name.upper(), name.lower()]))} {suffix}"
    if unit:
        line += draw(st.sampled_from([" ", ", "])) + unit
    return line, draw(st.sampled_from([zip5, zip5 + "-1234", zip5 + "9876", f" {zip5} "]))


@given(data=st.data())
def test_household_and_street_indexes(data):
    a = data.draw(identities, label="a")
    b = data.draw(st.one_of(st.just(a), identities, identities.map(lambda i: (*i[:3], a[3], a[4]))), label="b")
    line_a, code_a = data.draw(rendered(a))
    line_b, code_b = data.draw(rendered(b))
    same_household = a == b
    same_street = (a[1], a[2], a[4]) == (b[1], b[2], b[4])
    assert (IX.household(line_a, code_a) == IX.household(line_b, code_b)) == same_household
    assert (IX.street(line_a, code_a) == IX.street(line_b, code_b)) == same_street


def test_household_vs_street():
    assert IX.household("12 Main Street Apt 4", "02111") != IX.household("12 Main St Apt 5", "02111")
    assert IX.street("12 Main Street Apt 4", "02111") == IX.street("12 Main St Apt 5", "02111-1234")
    assert IX.household("12 Main Street", "02111") != IX.household("14 Main Street", "02111")
    assert IX.street("12 Main Street", "02111") == IX.street("14 Main St.", "021110000")
    assert IX.household("12 Main Street", "02111-1234") == IX.household("12 main st", "02111")
    assert IX.street("12 Main Street", "02111") != IX.street("12 Main Street", "02112")
    assert IX.household("12 Main Street", "02111") != IX.household("12 Main Street", "02112")
    assert IX.household("12 Main Street", None) is None and IX.street(None, "02111") is None
    assert IX.household("", "02111") is None and IX.street("12 Main St", "") is None


@pytest.mark.parametrize("long,short", SPEC_SUFFIXES)
def test_every_suffix_indexes_alike(long, short):
    assert IX.household(f"12 Main {long}", "02111") == IX.household(f"12 main {short}.", "02111-0001")
    assert IX.street(f"12 Main {long}", "02111") == IX.street(f"9 MAIN {short.upper()}", "02111")


@pytest.mark.parametrize("phone", ["(617) 555-0101", "617.555.0101", "+1 617 555 0101"])
def test_phone_formats_index_alike(phone):
    assert IX.phone(phone) == IX.phone("6175550101") is not None
    assert IX.phone(phone) != IX.phone("6175550102")


def test_short_phone_has_no_index():
    assert IX.phone("555-0101") is None and IX.phone(None) is None and IX.phone("") is None


def test_name_dob():
    expected = IX.name_dob("Zoë", "Müller", date(1970, 3, 4))
    assert expected is not None
    assert IX.name_dob("ZOE", "MULLER", "1970-03-04") == IX.name_dob(" zoe ", "Mu\u0308ller", date(1970, 3, 4)) == expected
    assert IX.name_dob("Zoe", "Muller", "1970-03-05") != expected
    assert IX.name_dob("Muller", "Zoe", "1970-03-04") != expected  # first and last are not interchangeable
    assert IX.name_dob("Zoe Muller", "", "1970-03-04") is None
    assert IX.name_dob("Zoe", "Muller", None) is None and IX.name_dob(None, "Muller", "1970-03-04") is None
    # the separator keeps the parts apart: "a b" + "c" is not "a" + "b c"
    assert IX.name_dob("ann marie", "lee", "1970-01-01") != IX.name_dob("ann", "marie lee", "1970-01-01")


def test_mrn():
    assert IX.mrn(" MRN-1 ") == IX.mrn("MRN-1") is not None
    assert IX.mrn("mrn-1") != IX.mrn("MRN-1")  # identifiers are exact, only trimmed
    assert IX.mrn(None) is None and IX.mrn("") is None and IX.mrn("   ") is None


# -- separation of indexes and keys ---------------------------------------------------------------------------


def test_different_index_names_give_different_values_for_one_input():
    for normal in ("smith", "6175550101", "main st\x1f02111", ""):
        values = [IX._mac(name, normal) for name in INDEXES]
        assert len(set(values)) == len(INDEXES)
    # through the public methods, where two indexes see the same normal form
    assert IX.mrn("smith") != IX.last_name("smith")
    assert IX.mrn("6175550101") != IX.phone("6175550101") != IX.last_name("6175550101")
    assert matching.normalize_address("Main St") == matching.street_of("Main St")
    assert IX.household("Main St", "02111") != IX.street("Main St", "02111")


@given(st.text(min_size=1))
def test_different_root_keys_give_different_values(value):
    other = BlindIndexer(bytes(31) + b"\x01")
    if matching.normalize_text(value) is not None:
        assert IX.last_name(value) != other.last_name(value)
    assert BlindIndexer(ROOT).last_name(value) == IX.last_name(value)  # same root, same value


def test_random_roots_differ():
    a, b = BlindIndexer(os.urandom(32)), BlindIndexer(os.urandom(32))
    for index in INDEXES:
        assert a._mac(index, "x") != b._mac(index, "x")


# -- the value -------------------------------------------------------------------------------------------------


@given(st.text())
def test_value_is_a_signed_64_bit_int(value):
    for v in (IX.last_name(value), IX.mrn(value), IX.phone(value), IX.household(value, "02111"),
              IX.street(value, "02111"), IX.name_dob(value, value, "2000-01-01")):
        assert v is None or (type(v) is int and v in INT64)


def test_both_signs_occur():
    values = [IX.last_name(f"name{i}") for i in range(200)]
    assert any(v < 0 for v in values) and any(v > 0 for v in values)
    assert len(set(values)) == 200


def test_construction_is_hkdf_then_truncated_hmac_sha256():
    """HKDF-SHA256(root, info="auditor/blind-index/v1/<name>") keys HMAC-SHA256; the first 8 bytes, big-endian,
    signed. Written out independently so the stored indexes stay comparable across versions."""
    for name, normal, value in (("last_name", "muller", IX.last_name("Müller")),
                                ("phone", "6175550101", IX.phone("+1 (617) 555-0101")),
                                ("household", "12 main st\x1f02111", IX.household("12 Main Street", "02111-1234")),
                                ("street", "main st\x1f02111", IX.street("12 Main Street Apt 4", "02111")),
                                ("name_dob", "zoe\x1fmuller\x1f1970-03-04", IX.name_dob("Zoë", "Müller", "1970-03-04")),
                                ("mrn", "MRN-1", IX.mrn("MRN-1"))):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"auditor/blind-index/v1/" + name.encode()).derive(ROOT)
        digest = hmac.new(key, normal.encode(), hashlib.sha256).digest()
        assert value == int.from_bytes(digest[:8], "big", signed=True)


def test_indexes_stored_and_compared_in_the_database(population):
    """The stored BIGINTs round-trip, and a variant spelling finds the patient by index alone."""
    ix = population.indexer
    with population.records.connect() as conn:
        row = conn.execute(text("SELECT name_dob_bidx, last_name_bidx, household_bidx, street_bidx, phone_bidx "
                                "FROM patients WHERE mrn_bidx = :m"), {"m": ix.mrn("MRN-1")}).one()
        assert tuple(row) == (ix.name_dob("ZOE", "muller", "1970-03-04"), ix.last_name("MULLER"),
                              ix.household("12 main st.", "02111-0000"), ix.street("99 Main St Apt 3", "02111"),
                              ix.phone("617.555.0101"))
        assert all(v in INT64 for v in row)
        # extreme values survive a BIGINT column on both backends
        for v in (-(2**63), 2**63 - 1):
            conn.execute(text("UPDATE patients SET phone_bidx = :v WHERE mrn_bidx = :m"), {"v": v, "m": ix.mrn("MRN-3")})
            assert conn.execute(text("SELECT phone_bidx FROM patients WHERE mrn_bidx = :m"),
                                {"m": ix.mrn("MRN-3")}).scalar_one() == v
        conn.rollback()
        found = conn.execute(text("SELECT count(*) FROM patients WHERE last_name_bidx = :b"),
                             {"b": ix.last_name("Mu\u0308ller")}).scalar_one()
        assert found == 1
