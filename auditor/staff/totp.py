"""The second factor: time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps,
what every authenticator app reads from an otpauth:// URI)."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

ISSUER = "auditor"
# RFC 6238 §5.2: accept at most one step either side, for the clocks' drift and the time to type it
DRIFT_STEPS = 1


def new_secret() -> str:
    """160 random bits (RFC 4226 §4: a shared secret of at least 128 bits; 160 recommended), base32."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, user_name: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user_name, issuer_name=issuer)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code `code` is (within the drift allowed), or None. The caller refuses a
    step at or before the last one accepted: RFC 6238 §5.2, a code is good for one sign-in."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    found = None
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):  # every candidate compared: no early exit to time
        if hmac.compare_digest(totp.generate_otp(step + offset), code):
            found = step + offset
    return found
