"""Staff passwords: chosen as NIST SP 800-63B-4 §3.1.1.2 says, kept as Argon2id hashes (RFC 9106).

A staff password is one factor of two (the TOTP code is the other), so the minimum is 8 characters,
not the 15 the keyring's passphrase needs alone (auditor.crypto.passphrase). The rest is the
keyring's rule: any Unicode, NFKC-normalised, no composition rules, not a commonly used password."""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from auditor.crypto.passphrase import is_common, normalised
from auditor.errors import InputError

# SP 800-63B-4 §3.1.1.2: a password used in a multi-factor authentication SHALL be at least 8 characters
MIN_LENGTH = 8
# SP 800-63B-4 §3.1.1.2: verifiers SHOULD permit at least 64; more only lets a form carry megabytes to hash
MAX_LENGTH = 256
# RFC 9106 §4, second recommended option (the "low memory" one: Argon2id, t=3, 64 MiB, 4 lanes); it
# exceeds OWASP's Password Storage Cheat Sheet minimum (19 MiB, t=2, p=1). About 0.1 s on 2 cores.
PARAMETERS = profiles.RFC_9106_LOW_MEMORY


def check_new_password(password: str, user_name: str) -> str:
    """The password to hash (NFKC), or InputError saying why it is refused."""
    text = normalised(password)
    if len(text) < MIN_LENGTH:
        raise InputError(f"the password has {len(text)} character{'s' * (len(text) != 1)}; a staff password needs at "
                         f"least {MIN_LENGTH} (NIST SP 800-63B-4 §3.1.1.2, with a TOTP code as second factor)")
    if len(text) > MAX_LENGTH:
        raise InputError(f"the password is longer than {MAX_LENGTH} characters")
    # §3.1.1.2: compared against commonly used passwords and context-specific words (the user name)
    if is_common(text) or user_name.casefold() in text.casefold():
        raise InputError("the password is a commonly used one, a repeated pattern or contains the user name; "
                         "choose another (NIST SP 800-63B-4 §3.1.1.2)")
    return text


class PasswordHashing:
    """Argon2id hashing and verification. `parameters` is injectable (a test proves that a hash made
    with older parameters is rehashed at the next sign-in)."""

    def __init__(self, parameters=PARAMETERS) -> None:
        self._hasher = PasswordHasher.from_parameters(parameters)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalised(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        if len(password) > 4 * MAX_LENGTH:  # never hash a megabyte typed into a form
            return False
        try:
            return self._hasher.verify(stored_hash, normalised(password))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def dummy_verify(self, password: str) -> None:
        """As much work as a verification, for a user name that does not exist: the time a refusal
        takes does not say whether the account exists."""
        if self._dummy is None:
            self._dummy = self.hash("not the password of anyone")
        self.verify(self._dummy, password)
