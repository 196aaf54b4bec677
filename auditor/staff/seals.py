"""HMACs that bind staff rows to the keyring: whoever can write the records database but does not hold
the keyring cannot give an account a role, lift a lock, or plant a session. The keys are derived
(HKDF) from the keyring's index root, apart from every blind index's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"auditor/staff/v1/"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# the columns of an account that decide who may do what (the sealed ones are bound by their AEAD)
ACCOUNT_COLUMNS = ("id", "user_name", "roles", "data_key_id", "password_hash", "totp_last_step", "failed_logins",
                   "locked_until", "disabled_at")
SESSION_COLUMNS = ("id", "token_hash", "account_id", "kind", "stage", "created_at")
FEED_COLUMNS = ("id", "name", "scopes", "token_hash", "created_at", "created_by", "revoked_at")  # every column


def _derive(root: bytes, name: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + name.encode()).derive(root)


def _plain(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, datetime):  # as stored: microseconds since the epoch, whatever the zone given
        return (value - _EPOCH) // timedelta(microseconds=1)
    return value


class StaffSeals:
    def __init__(self, index_root_key: bytes) -> None:
        self._account = _derive(index_root_key, "account")
        self._session = _derive(index_root_key, "session")
        self._csrf = _derive(index_root_key, "csrf")
        self._feed = _derive(index_root_key, "feed")

    def account(self, values: dict) -> bytes:
        return _mac(self._account, [[c, _plain(values[c])] for c in ACCOUNT_COLUMNS])

    def session(self, values: dict) -> bytes:
        return _mac(self._session, [[c, _plain(values[c])] for c in SESSION_COLUMNS])

    def feed(self, values: dict) -> bytes:
        """The seal of a feed account (auditor.staff.feeds): its name, scopes and token hash together, and
        its client certificate's hash when it has one (an account without one keeps its seal of before r0022)."""
        certificate = values.get("cert_sha256")
        return _mac(self._feed, [[c, _plain(values[c])] for c in FEED_COLUMNS]
                    + ([["cert_sha256", _plain(certificate)]] if certificate is not None else []))

    def csrf_token(self, token_hash: bytes) -> str:
        """The form token of a session (or of a login form's nonce): only this server can compute it,
        and only the holder of the session's cookie can be shown it."""
        return base64.urlsafe_b64encode(hmac.digest(self._csrf, token_hash, "sha256")).decode().rstrip("=")

    @staticmethod
    def matches(expected: bytes | str, given: bytes | str | None) -> bool:
        if given is None:
            return False
        a = expected.encode() if isinstance(expected, str) else bytes(expected)
        b = given.encode() if isinstance(given, str) else bytes(given)
        return hmac.compare_digest(a, b)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _mac(key: bytes, pairs: list) -> bytes:
    return hmac.digest(key, json.dumps(pairs, separators=(",", ":")).encode(), "sha256")
