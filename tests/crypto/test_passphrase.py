"""A keyring passphrase as NIST SP 800-63B-4 §3.1.1.2 wants it: 15 characters or more, not a common
password, any Unicode normalised NFKC, no composition rule and no upper limit."""

from __future__ import annotations

import os
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from auditor.crypto import keyring as keyring_module
from auditor.crypto.keyring import Keyring
from auditor.crypto.passphrase import MIN_LENGTH, check_new_passphrase, is_common
from auditor.errors import KeyringError
from tests.conftest import FAST_SCRYPT

words = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@pytest.mark.parametrize("passphrase", ["", "a", "x" * 3 + "y" * 3 + "z" * 8, "é" * 1 + "plum tues"])
def test_fewer_than_fifteen_characters_are_refused(tmp_path, passphrase):
    assert len(unicodedata.normalize("NFKC", passphrase)) < MIN_LENGTH
    with pytest.raises(KeyringError, match=f"at least {MIN_LENGTH}"):
        Keyring.create(tmp_path / "keyring.json", passphrase, scrypt_n=FAST_SCRYPT)
    assert not (tmp_path / "keyring.json").exists()


def test_code_points_are_counted_after_nfkc():
    assert check_new_passphrase("ﬁle ﬁle ﬁle ﬁle ﬁ") == "file file file file fi"  # 17 after NFKC, 14 typed
    with pytest.raises(KeyringError, match="has 14 characters"):
        check_new_passphrase("e\u0301" * 14)  # 28 code points typed, 14 composed


@pytest.mark.parametrize("common", ["correct horse battery staple", "CorrectHorseBatteryStaple!", "Password1234567",
                                    "qwertyuiopasdfgh", "123456789012345", "iloveyouiloveyou", "dragondragondragon",
                                    "abcabcabcabcabcabc", "ＰＡＳＳＷＯＲＤＰＡＳＳＷＯＲＤ"])
def test_common_passwords_and_repeats_are_refused(common):
    assert is_common(common)
    with pytest.raises(KeyringError, match="commonly used password"):
        check_new_passphrase(common)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(words, min_size=3, max_size=8).map(" ".join).filter(lambda p: len(unicodedata.normalize("NFKC", p)) >= MIN_LENGTH))
def test_any_long_unicode_passphrase_opens_in_any_normal_form(tmp_path_factory, passphrase):
    if is_common(passphrase):
        return
    path = tmp_path_factory.mktemp("ring") / "keyring.json"
    ring = Keyring.create(path, passphrase, scrypt_n=FAST_SCRYPT)
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert Keyring.load(path, unicodedata.normalize(form, passphrase)).index_root_key == ring.index_root_key


def test_a_very_long_passphrase_is_accepted(tmp_path):
    passphrase = "the quiet ward at night " * 200  # 4,800 characters: no upper limit, never truncated
    Keyring.create(tmp_path / "keyring.json", passphrase, scrypt_n=FAST_SCRYPT)
    assert Keyring.load(tmp_path / "keyring.json", passphrase)
    with pytest.raises(KeyringError, match="wrong passphrase"):
        Keyring.load(tmp_path / "keyring.json", passphrase[:-1])


def test_a_keyring_sealed_under_the_passphrase_as_typed_still_opens(tmp_path):
    """Keyrings made before passphrases were normalised derived their key from the text as typed."""
    typed = "ﬁne ﬁshing at dawn"  # the ligature ﬁ is "fi" after NFKC
    path = tmp_path / "keyring.json"
    made = Keyring.create(path, "plum tuesday ladder quietly", scrypt_n=FAST_SCRYPT)
    protection = made._doc["protection"]
    made._wrap_key = keyring_module._derive(typed, keyring_module._unb64(protection["salt"]), FAST_SCRYPT, 8, 1)
    made.save()  # what an older auditor wrote for `typed`
    os.chmod(path, 0o600)
    assert Keyring.load(path, typed).index_root_key == made.index_root_key
    with pytest.raises(KeyringError, match="wrong passphrase"):
        Keyring.load(path, unicodedata.normalize("NFKC", typed))
