"""Passphrases that alone protect a keyring, chosen as NIST SP 800-63B-4 §3.1.1.2 (password
verifiers) says: long enough, not a commonly used password, any Unicode, normalised NFKC."""

from __future__ import annotations

import functools
import unicodedata
from importlib import resources

from auditor.errors import KeyringError

# SP 800-63B-4 §3.1.1.2: a password used as a single-factor authenticator SHALL be at least 15 characters
MIN_LENGTH = 15
_SHORT_UNIT = 4  # "abab...", "aaaa...": a passphrase that repeats a unit this short is no longer than the unit


def normalised(passphrase: str) -> str:
    # SP 800-63B-4 §3.1.1.2: Unicode accepted, NFKC-normalised (UAX #15) before hashing, so the same
    # passphrase typed with composed or decomposed accents derives the same key
    return unicodedata.normalize("NFKC", passphrase)


def spellings(passphrase: str) -> list[str]:
    """The passphrase as keys are derived from it now (NFKC), then as typed (keyrings made before)."""
    nfkc = normalised(passphrase)
    return [nfkc] if nfkc == passphrase else [nfkc, passphrase]


def check_new_passphrase(passphrase: str) -> str:
    """The passphrase to derive a new keyring's key from, or KeyringError saying why it is refused.
    No composition rules (SP 800-63B-4 §3.1.1.2 forbids them) and no upper limit on length."""
    text = normalised(passphrase)
    if len(text) < MIN_LENGTH:  # each code point counts as one character (§3.1.1.2)
        raise KeyringError(f"the passphrase has {len(text)} character{'s' * (len(text) != 1)}; one that alone protects the keys needs "
                           f"at least {MIN_LENGTH} (NIST SP 800-63B-4 §3.1.1.2): a few unrelated words will do")
    if is_common(text):
        raise KeyringError("the passphrase is a commonly used password or a repeated pattern (see the "
                           "blocklist shipped with auditor); choose another (NIST SP 800-63B-4 §3.1.1.2)")
    return text


def is_common(passphrase: str) -> bool:
    """On the blocklist, compared without case, spaces or punctuation; or one listed password, or a
    unit of a few characters, repeated ("passwordpassword", "aaaaaaaaaaaaaaaa")."""
    squeezed = _squeezed(passphrase)
    if squeezed in _blocklist():
        return True
    for size in range(1, len(squeezed) // 2 + 1):
        unit = squeezed[:size]
        if len(squeezed) % size == 0 and unit * (len(squeezed) // size) == squeezed:
            return size <= _SHORT_UNIT or unit in _blocklist()
    return False


def _squeezed(text: str) -> str:
    return "".join(ch for ch in normalised(text).casefold() if ch.isalnum())


@functools.cache
def _blocklist() -> frozenset[str]:
    lines = resources.files("auditor.crypto").joinpath("common_passwords.txt").read_text("utf-8").splitlines()
    return frozenset(_squeezed(line) for line in lines if line.strip() and not line.startswith("#"))
