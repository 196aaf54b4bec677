"""Staff passwords: NIST SP 800-63B-4 §3.1.1.2 (8 characters with a second factor, a blocklist, the
user name refused, NFKC) and Argon2id with RFC 9106's parameters."""

from __future__ import annotations

import pytest
from argon2 import Parameters, Type

from auditor.errors import InputError
from auditor.staff.passwords import MIN_LENGTH, PARAMETERS, PasswordHashing, check_new_password


def test_eight_characters_are_the_minimum_with_a_second_factor():
    assert MIN_LENGTH == 8
    assert check_new_password("plum-sky", "alice") == "plum-sky"
    with pytest.raises(InputError, match="7 characters.*at least 8"):
        check_new_password("plum-sk", "alice")


@pytest.mark.parametrize("password", ["password", "Password1!", "qwertyuiop", "abababababab", "xx-alice-xx"])
def test_common_passwords_patterns_and_the_user_name_are_refused(password):
    with pytest.raises(InputError, match="commonly used one, a repeated pattern or contains the user name"):
        check_new_password(password, "alice")


def test_any_unicode_is_accepted_and_compared_after_nfkc():
    composed, decomposed = "caf\u00e9 au lait", "cafe\u0301 au lait"
    hashing = PasswordHashing()
    stored = hashing.hash(composed)
    assert hashing.verify(stored, decomposed)
    assert not hashing.verify(stored, "cafe au lait")


def test_hashes_are_argon2id_with_rfc_9106_low_memory_parameters():
    stored = PasswordHashing().hash("plum-sky-7")
    assert PARAMETERS.type is Type.ID
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_hash_made_with_other_parameters_needs_rehashing():
    older = PasswordHashing(Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2,
                                       memory_cost=19456, parallelism=1))  # OWASP's minimum
    stored = older.hash("plum-sky-7")
    assert PasswordHashing().verify(stored, "plum-sky-7")
    assert PasswordHashing().needs_rehash(stored) and not older.needs_rehash(stored)


def test_a_megabyte_password_is_not_hashed():
    hashing = PasswordHashing()
    assert not hashing.verify(hashing.hash("plum-sky-7"), "x" * 1_000_000)
