"""Normalisation for matching people, per ../shared/spec/interchange.md, "Matching people"."""

from __future__ import annotations

import string
import unicodedata
from datetime import date

import pytest
from hypothesis import given, strategies as st

from auditor import matching
from auditor.matching import (normalize_address, normalize_date, normalize_phone, normalize_postal_code,
                              normalize_text, street_of)

# The contract's list, written out here so a change to the code's table is noticed.
SPEC_SUFFIXES = [("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"), ("Lane", "Ln"),
                 ("Boulevard", "Blvd"), ("Court", "Ct"), ("Place", "Pl"), ("Terrace", "Ter"), ("Circle", "Cir")]
ACCENTS = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030a", "\u030c", "\u0327"]
PUNCTUATION = list("'’.,-_()\"/&!?")


# -- names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [
    ("Zoë", "Zoe"), ("Zoë", "ZOE"), ("Zoë", "Zoe\u0308"), ("Müller", "MULLER"), ("Müller", "muller"),
    ("Mu\u0308ller", "Müller"), ("José", "Jose"), ("François", "FRANCOIS"), ("Ångström", "angstrom"),
    ("Dvořák", "Dvorak"), ("Straße", "STRASSE"), ("Ｍüller", "Muller"), ("ﬁnn", "Finn"),
    ("O'Brien", "OBrien"), ("O’Brien", "O'Brien"), ("O'Brien", "obrien"), ("St. John", "St John"),
    ("Smith-Jones", "SmithJones"), ("Mary  Ann", "Mary Ann"), ("  Mary\tAnn\n", "mary ann"),
    ("Mary\u00a0Ann", "Mary Ann"), ("D'Angelo, Jr.", "DAngelo Jr"),
])
def test_equal_after_normalisation(a, b):
    assert normalize_text(a) == normalize_text(b)
    assert normalize_text(a) is not None


@pytest.mark.parametrize("a,b", [("Mary Ann", "MaryAnn"), ("Smith Jones", "Smith-Jones"), ("Zoe", "Zoey"),
                                 ("Muller", "Mueller"), ("Lee", "Le"), ("Ann", "Anne")])
def test_different_after_normalisation(a, b):
    assert normalize_text(a) != normalize_text(b)


@pytest.mark.parametrize("value,normal", [("Zoë", "zoe"), ("Müller", "muller"), ("O'Brien", "obrien"),
                                          ("  Mary \t Ann\n", "mary ann"), ("Straße", "strasse")])
def test_normal_forms(value, normal):
    assert normalize_text(value) == normal


@pytest.mark.parametrize("value", [None, "", " ", "\t\n", "...", "'-'", "_", "\u0301"])
def test_nothing_left_is_none(value):
    assert normalize_text(value) is None


@st.composite
def names_and_variants(draw):
    """An ASCII name, and the same name re-cased, accented, punctuated and re-spaced."""
    words = draw(st.lists(st.text(alphabet=string.ascii_letters, min_size=1, max_size=8), min_size=1, max_size=3))
    variant = []
    for word in words:
        chars = []
        for ch in word:
            ch = draw(st.sampled_from([ch.lower(), ch.upper()]))
            if draw(st.booleans()):
                ch += draw(st.sampled_from(ACCENTS))
            if draw(st.integers(0, 4)) == 0:
                ch += draw(st.sampled_from(PUNCTUATION))
            chars.append(ch)
        variant.append("".join(chars))
    sep = draw(st.sampled_from([" ", "  ", "\t", " \n ", "\u00a0"]))
    text = draw(st.sampled_from(["", " ", "\t"])) + sep.join(variant) + draw(st.sampled_from(["", " ", "\n", "."]))
    form = draw(st.sampled_from(["NFC", "NFD", "NFKC", "NFKD", None]))
    return " ".join(words), unicodedata.normalize(form, text) if form else text


@given(names_and_variants())
def test_variants_normalise_alike(pair):
    base, variant = pair
    assert normalize_text(variant) == normalize_text(base) == " ".join(base.lower().split())


@given(st.text())
def test_normal_form_is_a_fixed_point(value):
    normal = normalize_text(value)
    if normal is not None:
        assert normalize_text(normal) == normal
        assert normal == normal.strip() and "  " not in normal
        assert not any(unicodedata.combining(ch) for ch in normal)
        assert normal == normal.casefold()


# -- addresses ---------------------------------------------------------------------------------------------


def test_the_code_abbreviates_exactly_the_contracts_suffixes():
    assert matching.STREET_SUFFIXES == {long.lower(): short.lower() for long, short in SPEC_SUFFIXES}


@pytest.mark.parametrize("long,short", SPEC_SUFFIXES)
def test_street_suffixes(long, short):
    expected = f"12 main {short.lower()}"
    for line in (f"12 Main {long}", f"12 Main {short}", f"12 Main {short}.", f"12 MAIN {long.upper()}",
                 f"12 main {long.lower()}", f"  12  Main   {long}  "):
        assert normalize_address(line) == expected
    assert street_of(f"12 Main {long}") == street_of(f"99 Main {short}.") == f"main {short.lower()}"


def test_suffix_words_are_abbreviated_only_as_whole_words():
    assert normalize_address("12 Streeter Road") == "12 streeter rd"
    assert normalize_address("1 Drivers Lane") == "1 drivers ln"
    assert normalize_address("7 Court Street") == "7 ct st"  # consistently, wherever the word stands


@pytest.mark.parametrize("a,b", [
    ("12 Main Street", "12 main st"), ("12 Main Street", "12 Main St."), ("12 Main Street", "12, Main Street"),
    ("12 Main Street Apt 4", "12 Main St, Apt. 4"), ("12 Müller Straße", "12 Muller Strasse"),
    ("12 O'Brien Lane", "12 OBrien Ln"),
])
def test_same_household(a, b):
    assert normalize_address(a) == normalize_address(b)


@pytest.mark.parametrize("a,b", [
    ("12 Main Street Apt 4", "12 Main Street Apt 5"), ("12 Main Street", "12 Main Street Apt 4"),
    ("12 Main Street", "14 Main Street"), ("12 Main Street", "12 Main Avenue"), ("12 Main Street", "12 Elm Street"),
])
def test_different_households(a, b):
    assert normalize_address(a) != normalize_address(b)


@pytest.mark.parametrize("line", [
    "12 Main Street", "14 Main St", "12 Main Street Apt 4", "12 Main St Apt 5", "12 MAIN ST #4", "12 Main St, Unit 7",
    "12 Main St Suite 200", "12 Main St Ste 2", "12 Main St Fl 3", "12 Main St Floor 3", "12 Main St Rm 101",
    "12 Main St Bldg B", "12A Main St", "12-14 Main St", "Main Street", "12 Main St Apartment 9",
])
def test_one_street_whatever_the_house_or_unit(line):
    assert street_of(line) == "main st"


def test_street_keeps_a_numbered_street_name():
    assert street_of("12 5th Avenue") == street_of("14 5th Ave Apt 2") == "5th ave"
    assert street_of("12 5th Avenue") != street_of("12 6th Avenue")


@pytest.mark.parametrize("value", [None, "", "  ", "12", ",."])
def test_empty_street_is_none(value):
    assert street_of(value) is None


@pytest.mark.parametrize("value", [None, "", " ", ",.#"])
def test_empty_address_is_none(value):
    assert normalize_address(value) is None


# -- postal codes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["02111", "02111-1234", "021111234", " 02111 ", "02111 1234", "02111-0000"])
def test_zip_plus_four_is_the_zip(code):
    assert normalize_postal_code(code) == "02111"


def test_other_postal_codes():
    assert normalize_postal_code("02112") != normalize_postal_code("02111")
    assert normalize_postal_code("K1A 0B1") == normalize_postal_code("k1a0b1")
    assert normalize_postal_code("SW1A 1AA") == "sw1a1aa"
    assert normalize_postal_code(None) is None and normalize_postal_code("") is None and normalize_postal_code("-") is None


# -- phones ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["(617) 555-0101", "617.555.0101", "+1 617 555 0101", "617-555-0101", "6175550101",
                                   "1-617-555-0101", "+1 (617) 555-0101", " 617 555 0101 ", "１６１７５５５０１０１",
                                   "tel: 617/555/0101"])
def test_phone_formats_are_equal(phone):
    assert normalize_phone(phone) == "6175550101"


@pytest.mark.parametrize("phone", [None, "", "555-0101", "617-555-010", "(617) 555", "123456789", "phone", "+1"])
def test_short_phones_are_none(phone):
    assert normalize_phone(phone) is None


def test_different_phones_differ():
    assert normalize_phone("(617) 555-0101") != normalize_phone("(617) 555-0102")
    assert normalize_phone("(617) 555-0101") != normalize_phone("(508) 555-0101")


@given(st.text(alphabet=string.digits, min_size=10, max_size=10),
       st.sampled_from(["({}{}{}) {}{}{}-{}{}{}{}", "{}{}{}.{}{}{}.{}{}{}{}", "+1 {}{}{} {}{}{} {}{}{}{}",
                        "1-{}{}{}-{}{}{}-{}{}{}{}", "{}{}{}{}{}{}{}{}{}{}", "{}{}{} {}{}{} {}{}{}{}"]))
def test_phone_formats_property(digits, template):
    assert normalize_phone(template.format(*digits)) == digits


@given(st.text(alphabet=string.digits + " -.()+", max_size=30))
def test_phone_is_ten_digits_or_none(phone):
    digits = [ch for ch in phone if ch.isdigit()]
    normal = normalize_phone(phone)
    if len(digits) < 10:
        assert normal is None
    else:
        assert normal == "".join(digits[-10:])


# -- dates -------------------------------------------------------------------------------------------------


def test_dates():
    assert normalize_date(date(1970, 3, 4)) == normalize_date("1970-03-04") == "1970-03-04"
    assert normalize_date(None) is None and normalize_date("") is None
