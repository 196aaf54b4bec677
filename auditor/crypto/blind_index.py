"""Keyed blind indexes: HMAC-SHA256 over normalised values, one key per index derived with HKDF from
an index root key that is separate from every encryption key.

An index is the first 8 bytes of the MAC as a signed 64-bit integer: exact-match lookups and the
policy engine's vectorised joins use it; a collision (probability ~n^2/2^65) can only add a candidate,
which lookups confirm by decrypting. The same index name yields the same key in every table, so a
workforce member's household index compares with a patient's.
"""

from __future__ import annotations

import base64
import hmac
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from auditor import matching

INDEXES = ("mrn", "name_dob", "last_name", "household", "street", "phone", "quarantined_row", "pseudonym")
_INFO_PREFIX = b"auditor/blind-index/v1/"


def _derive(root: bytes, name: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO_PREFIX + name.encode()).derive(root)


class BlindIndexer:
    def __init__(self, root_key: bytes) -> None:
        self._keys = {name: _derive(root_key, name) for name in INDEXES}

    def _mac(self, name: str, normal: str | None) -> int | None:
        if normal is None:
            return None
        digest = hmac.digest(self._keys[name], normal.encode("utf-8"), "sha256")
        return int.from_bytes(digest[:8], "big", signed=True)

    def mrn(self, mrn: str | None) -> int | None:
        return self._mac("mrn", mrn.strip() if mrn and mrn.strip() else None)

    def name_dob(self, first: str | None, last: str | None, birth_date: date | str | None) -> int | None:
        parts = (matching.normalize_text(first), matching.normalize_text(last), matching.normalize_date(birth_date))
        if any(p is None for p in parts):
            return None
        return self._mac("name_dob", "\x1f".join(parts))  # type: ignore[arg-type]

    def last_name(self, last: str | None) -> int | None:
        return self._mac("last_name", matching.normalize_text(last))

    def household(self, address_line: str | None, postal_code: str | None) -> int | None:
        line, code = matching.normalize_address(address_line), matching.normalize_postal_code(postal_code)
        return None if line is None or code is None else self._mac("household", f"{line}\x1f{code}")

    def street(self, address_line: str | None, postal_code: str | None) -> int | None:
        line, code = matching.street_of(address_line), matching.normalize_postal_code(postal_code)
        return None if line is None or code is None else self._mac("street", f"{line}\x1f{code}")

    def phone(self, phone: str | None) -> int | None:
        return self._mac("phone", matching.normalize_phone(phone))

    def quarantined_row(self, content: str) -> int:
        """A keyed digest of a rejected interchange row, exactly as read (no normalisation): lets a
        rerun recognise a row it already quarantined without keeping a plain hash of PHI."""
        return self._mac("quarantined_row", content)  # type: ignore[return-value]

    def pseudonym(self, patient_id: int) -> str:
        """A stable stand-in for a patient's name in reports (`--pseudonymize`): keyed, so it cannot be
        recomputed from the internal id without the index root key, and the same in every report."""
        digest = hmac.digest(self._keys["pseudonym"], str(int(patient_id)).encode(), "sha256")
        return "Patient " + base64.b32encode(digest[:5]).decode()
