"""TOTP (RFC 6238) as the sign-in checks it: the RFC's own test vector, one step of drift either side."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pyotp

from auditor.staff import totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238 Appendix B, HMAC-SHA1


def test_the_rfc_6238_test_vectors_in_six_digits():
    # Appendix B: T = 59 s -> 94287082, T = 1111111109 -> 07081804 (the last six digits are the code)
    assert totp.matching_step(RFC_SECRET, "287082", datetime.fromtimestamp(59, timezone.utc)) == 1
    at = datetime.fromtimestamp(1111111109, timezone.utc)
    assert totp.matching_step(RFC_SECRET, "081804", at) == 1111111109 // 30


def test_one_step_either_side_is_accepted_two_are_not():
    secret, now = totp.new_secret(), datetime(2026, 11, 2, 14, 0, 10, tzinfo=timezone.utc)
    step = pyotp.TOTP(secret).timecode(now)
    for offset in (-1, 0, 1):
        code = pyotp.TOTP(secret).at(now + timedelta(seconds=30 * offset))
        assert totp.matching_step(secret, code, now) == step + offset
    for offset in (-2, 2):
        assert totp.matching_step(secret, pyotp.TOTP(secret).at(now + timedelta(seconds=30 * offset)), now) is None


def test_anything_but_six_digits_is_no_code():
    secret, now = totp.new_secret(), datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc)
    code = pyotp.TOTP(secret).at(now)
    assert totp.matching_step(secret, f" {code[:3]} {code[3:]} ", now) is not None  # as apps show it
    for bad in ("", "12345", "1234567", "12345a", "١٢٣٤٥٦"):
        assert totp.matching_step(secret, bad, now) is None


def test_secrets_are_160_bits_and_the_uri_names_the_account():
    secret = totp.new_secret()
    assert len(base64.b32decode(secret)) == 20
    uri = totp.provisioning_uri(secret, "alice")
    assert uri.startswith("otpauth://totp/auditor:alice?") and f"secret={secret}" in uri and "issuer=auditor" in uri
