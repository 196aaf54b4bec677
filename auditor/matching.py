"""Normalisation for matching people, as ../shared/spec/interchange.md ("Matching people") fixes it.

Blind indexes are computed over these normal forms, so the policy engine compares identities
(same surname, household, street, phone, name + birth date) without decrypting anything.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# USPS Publication 28, Appendix C1 abbreviations for the suffixes the contract names.
STREET_SUFFIXES = {
    "street": "st",
    "avenue": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "boulevard": "blvd",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "circle": "cir",
}
# Secondary unit designators (USPS Pub. 28 C2): a street is the same whichever unit one lives in.
_UNIT_WORDS = {"apt", "apartment", "unit", "suite", "ste", "fl", "floor", "rm", "room", "bldg", "building"}
_PUNCTUATION = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACES = re.compile(r"\s+")


def normalize_text(value: str | None) -> str | None:
    """NFKD with accents removed, case folded, punctuation removed, whitespace collapsed."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    text = _SPACES.sub(" ", _PUNCTUATION.sub("", stripped.casefold())).strip()
    return text or None


def normalize_address(line: str | None) -> str | None:
    """An address line in normal form, with street suffixes abbreviated the USPS way."""
    text = normalize_text(line.replace("#", " # ") if line else line)
    if text is None:
        return None
    return " ".join(STREET_SUFFIXES.get(token, token) for token in text.split())


def street_of(line: str | None) -> str | None:
    """The normalised address line without its house number (and without any unit designator)."""
    if line is None:
        return None
    tokens = (normalize_address(line.replace("#", " unit ")) or "").split()
    if tokens and any(ch.isdigit() for ch in tokens[0]):
        tokens = tokens[1:]
    for i, token in enumerate(tokens):
        if token in _UNIT_WORDS and i > 0:
            tokens = tokens[:i]
            break
    return " ".join(tokens) or None


def normalize_postal_code(code: str | None) -> str | None:
    text = normalize_text(code)
    if text is None:
        return None
    text = text.replace(" ", "")
    if text.isdigit() and len(text) == 9:  # ZIP+4 written without its hyphen
        return text[:5]
    if len(text) == 10 and text[:5].isdigit() and text[5:].isdigit():
        return text[:5]
    return text


def normalize_phone(phone: str | None) -> str | None:
    """The last ten digits; None when fewer than ten digits are present (too short to compare)."""
    if phone is None:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKD", phone) if ch.isdigit())
    return digits[-10:] if len(digits) >= 10 else None


def normalize_date(value: date | str | None) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, date) else date.fromisoformat(value).isoformat()
