"""Someone typing the keyring's passphrase, or editing the key store: a weak passphrase never protects
the keys alone, the command-line flag wins over the environment, and a key store that names a KEK the
keyring does not hold makes writers refuse instead of wrapping a key nobody can unwrap."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.cli.test_cli import one_line_error
from tests.conftest import SYNTHEA


@pytest.mark.parametrize("passphrase, why", [
    ("a", "has 1 character;"),
    ("fourteen chars", "has 14 characters;"),
    ("correct horse battery staple", "commonly used password"),
    ("Password1234567", "commonly used password"),
    ("passwordpassword", "commonly used password"),
    ("zzzzzzzzzzzzzzzzzzzzzzzz", "repeated pattern"),
])
def test_a_short_or_common_passphrase_is_refused_and_nothing_is_made(auditor, monkeypatch, tmp_path, passphrase, why):
    monkeypatch.setenv("AUDITOR_PASSPHRASE", passphrase)
    error = one_line_error(auditor("init", "--passphrase"))
    assert why in error and "NIST SP 800-63B-4 §3.1.1.2" in error
    assert len(passphrase) < 4 or passphrase not in error  # never echoed
    assert not (tmp_path / "home").exists()


def test_a_long_unicode_passphrase_opens_however_it_is_composed(auditor, monkeypatch):
    composed = "Zoë et Åsa à l’hôpital — 秘密の鍵 " * 20  # 600 code points: long ones are accepted too
    decomposed = composed.replace("ë", "e\u0308").replace("Å", "A\u030a").replace("ô", "o\u0302")
    assert composed != decomposed
    monkeypatch.setenv("AUDITOR_PASSPHRASE", composed)
    assert "passphrase-protected" in auditor("init").out
    monkeypatch.setenv("AUDITOR_PASSPHRASE", decomposed)  # another keyboard, another normal form (NFKC)
    assert auditor("keys", "status").code == 0


def test_no_passphrase_wins_over_the_environment(auditor, monkeypatch, tmp_path):
    monkeypatch.setenv("AUDITOR_PASSPHRASE", "plum tuesday ladder quietly")
    made = auditor("init", "--no-passphrase")
    assert made.code == 0 and "protected by file mode 0600 only" in made.out
    keyring = json.loads((tmp_path / "home" / "keyring.json").read_text())
    assert keyring["protection"] == {"kind": "none"}
    monkeypatch.delenv("AUDITOR_PASSPHRASE")
    assert auditor("keys", "status").code == 0


@pytest.mark.skipif(not SYNTHEA.exists(), reason="../shared/data/synthea is not beside the checkout")
@pytest.mark.parametrize("kek", [1, 99])  # retired by the rotation; never made
def test_a_key_store_naming_a_kek_the_keyring_lacks_makes_writers_refuse(sqlite_vault, auditor, kek):
    sqlite_vault.rotate_keys()
    con = sqlite3.connect(sqlite_vault.home / "keystore.db")
    con.execute("update keystore_state set primary_kek_id = ?", (kek,))
    con.commit()
    con.close()
    live = sqlite_vault.envelope.counts()["live"]
    error = one_line_error(auditor("import", "synthea", str(SYNTHEA)))  # its first step makes data keys
    assert f"the key store wraps new keys under kek-{kek}, which keyring" in error
    assert sqlite_vault.envelope.counts()["live"] == live  # nothing wrapped under a key nobody holds
    assert auditor("keys", "rotate").code == 0  # a rotation names a KEK the keyring holds again
    assert auditor("import", "synthea", str(SYNTHEA)).code == 0
