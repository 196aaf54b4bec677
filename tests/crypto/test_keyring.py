"""The keyring file: round trip, file mode, corruption, passphrase protection, KEK rotation."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from auditor.crypto import keyring as keyring_module
from auditor.crypto.keyring import Keyring
from auditor.errors import DecryptionError, KeyringError, UnknownKey
from tests.conftest import FAST_SCRYPT

PW = "plum tuesday ladder quietly"  # long enough and on no blocklist (NIST SP 800-63B-4 §3.1.1.2)
HORSE = "correct horse pewter sunrise"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "keyring.json"


def _secrets_of(ring: Keyring) -> tuple:
    return (ring.index_root_key, ring.log_mac_key, ring.signing_public_key,
            ring.signing_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                           serialization.NoEncryption()),
            ring.keks, ring.created_at)


def _seal_with(ring: Keyring, kek_id: int) -> bytes:
    return ring.kek(kek_id).seal(b"data key material", b"ctx")


# -- create and load ----------------------------------------------------------------------------------


def test_create_load_round_trip(path, clock):
    ring = Keyring.create(path, clock=clock)
    loaded = Keyring.load(path)
    assert _secrets_of(loaded) == _secrets_of(ring)
    assert [(k.id, k.status, k.label) for k in loaded.keks] == [(1, "primary", "kek-1")]
    assert loaded.created_at == clock.at
    assert not loaded.passphrase_protected
    assert len(loaded.index_root_key) == len(loaded.log_mac_key) == 32
    assert loaded.signing_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw) == loaded.signing_public_key
    # a value wrapped by the primary KEK before saving unwraps after loading
    sealed = ring.primary_kek.seal(b"material", b"ctx")
    assert loaded.primary_kek.open(sealed, b"ctx") == b"material"
    assert loaded.primary_kek.key_id == 1


def test_two_keyrings_hold_different_keys(tmp_path):
    a, b = Keyring.create(tmp_path / "a.json"), Keyring.create(tmp_path / "b.json")
    assert a.index_root_key != b.index_root_key and a.log_mac_key != b.log_mac_key
    assert a.signing_public_key != b.signing_public_key
    with pytest.raises(DecryptionError):
        b.kek(1).open(_seal_with(a, 1), b"ctx")


def test_create_refuses_to_overwrite(path):
    Keyring.create(path)
    before = path.read_bytes()
    with pytest.raises(KeyringError, match="already exists"):
        Keyring.create(path)
    assert path.read_bytes() == before


def test_load_of_a_missing_file(path):
    with pytest.raises(KeyringError, match="does not exist"):
        Keyring.load(path)


def test_load_of_a_directory(tmp_path):
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(KeyringError, match="not a regular file"):
        Keyring.load(tmp_path / "dir")


# -- file mode -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("passphrase", [None, PW])
def test_file_mode_is_0600(path, passphrase):
    old = os.umask(0)  # even with a permissive umask
    try:
        ring = Keyring.create(path, passphrase, scrypt_n=FAST_SCRYPT)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring.add_primary_kek()  # every save rewrites the file: still 0600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606, 0o666, 0o610, 0o601, 0o620, 0o602])
def test_group_or_world_access_is_refused(path, mode):
    Keyring.create(path)
    os.chmod(path, mode)
    with pytest.raises(KeyringError, match=rf"chmod 600 {path}") as info:
        Keyring.load(path)
    assert f"{mode:04o}" in str(info.value)


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_owner_only_modes_load(path, mode):
    Keyring.create(path)
    os.chmod(path, mode)
    Keyring.load(path)


# -- corruption -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x00\xff\xfe" * 50, b"[]", b'"text"', b"42", b"null",
                                     b'{"format": "auditor-keyring/1"}', b'{"checksum": "00"}'])
def test_garbage_is_refused(path, content):
    Keyring.create(path)
    path.write_bytes(content)
    with pytest.raises(KeyringError, match="corrupted"):
        Keyring.load(path)


def test_truncated_json_is_refused(path):
    Keyring.create(path)
    data = path.read_bytes()
    for cut in range(0, len(data) - 2, 7):
        path.write_bytes(data[:cut])
        with pytest.raises(KeyringError, match="corrupted"):
            Keyring.load(path)


def test_one_changed_character_fails_the_checksum(path):
    ring = Keyring.create(path)
    doc = json.loads(path.read_text())
    root = doc["secrets"]["index_root"]
    changed = ("B" if root[0] != "B" else "C") + root[1:]
    path.write_text(path.read_text().replace(root, changed))
    with pytest.raises(KeyringError, match="checksum mismatch"):
        Keyring.load(path)
    path.write_text(path.read_text().replace(changed, root))
    assert Keyring.load(path).index_root_key == ring.index_root_key


@pytest.mark.parametrize("passphrase", [None, PW])
def test_every_single_character_change_is_refused(path, passphrase):
    """Change each letter or digit of the file, one at a time: none of them loads."""
    Keyring.create(path, passphrase, scrypt_n=FAST_SCRYPT)
    text = path.read_text()
    positions = [i for i, ch in enumerate(text) if ch.isalnum()]
    assert len(positions) > 200
    for i in positions:
        replacement = "x" if text[i] != "x" else "y"
        path.write_text(text[:i] + replacement + text[i + 1 :])
        with pytest.raises(KeyringError):
            Keyring.load(path, passphrase)
    path.write_text(text)
    Keyring.load(path, passphrase)


# -- passphrase ------------------------------------------------------------------------------------------


def test_passphrase_protected_round_trip(path):
    ring = Keyring.create(path, HORSE, scrypt_n=FAST_SCRYPT)
    loaded = Keyring.load(path, HORSE)
    assert loaded.passphrase_protected
    assert _secrets_of(loaded) == _secrets_of(ring)
    doc = json.loads(path.read_text())
    assert doc["protection"]["kind"] == "scrypt" and doc["protection"]["n"] == FAST_SCRYPT
    assert isinstance(doc["secrets"], str)  # sealed, not a readable object
    for secret in (ring.index_root_key, ring.log_mac_key):
        assert keyring_module._b64(secret) not in path.read_text()


def test_wrong_passphrase(path):
    Keyring.create(path, HORSE, scrypt_n=FAST_SCRYPT)
    for wrong in (HORSE[:-1], HORSE.capitalize(), HORSE + " ", "x"):
        with pytest.raises(KeyringError, match="wrong passphrase"):
            Keyring.load(path, wrong)


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_passphrase(path, missing):
    Keyring.create(path, HORSE, scrypt_n=FAST_SCRYPT)
    with pytest.raises(KeyringError, match="protected by a passphrase"):
        Keyring.load(path, missing)


def test_passphrase_given_for_an_unprotected_keyring_is_ignored(path):
    ring = Keyring.create(path)
    assert Keyring.load(path, "anything").index_root_key == ring.index_root_key


def test_save_keeps_the_passphrase(path):
    Keyring.create(path, PW, scrypt_n=FAST_SCRYPT)
    ring = Keyring.load(path, PW)
    new = ring.add_primary_kek()
    loaded = Keyring.load(path, PW)
    assert loaded.primary_kek.key_id == new and loaded.passphrase_protected
    with pytest.raises(KeyringError, match="protected by a passphrase"):
        Keyring.load(path)


def _rewrite_public(path, change) -> None:
    """Edit the public part and recompute the checksum, as an attacker with write access could."""
    doc = json.loads(path.read_text())
    doc.pop("checksum")
    change(doc)
    doc["checksum"] = keyring_module.hashlib.sha256(keyring_module._canonical(doc)).hexdigest()
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)


@pytest.mark.parametrize("change", [
    lambda d: d["keks"][0].update(status="retired"),
    lambda d: d["keks"].append({"id": 2, "status": "primary", "created_at": d["created_at"], "retired_at": None}),
    lambda d: d.update(signing_public_key=keyring_module._b64(bytes(32))),
    lambda d: d.update(created_at="2000-01-01T00:00:00+00:00"),
    lambda d: d["protection"].update(n=FAST_SCRYPT * 2),
    lambda d: d["protection"].update(salt=keyring_module._b64(bytes(16))),
], ids=["kek-status", "extra-kek", "signing-public-key", "created-at", "scrypt-cost", "salt"])
def test_public_part_tampering_is_detected_with_a_passphrase(path, change):
    Keyring.create(path, PW, scrypt_n=FAST_SCRYPT)
    _rewrite_public(path, lambda d: None)
    Keyring.load(path, PW)  # the rewrite itself is faithful
    _rewrite_public(path, change)
    with pytest.raises(KeyringError):
        Keyring.load(path, PW)


def test_without_the_recomputed_checksum_public_tampering_is_corruption(path):
    Keyring.create(path, PW, scrypt_n=FAST_SCRYPT)
    doc = json.loads(path.read_text())
    doc["keks"][0]["status"] = "active"
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyringError, match="checksum mismatch"):
        Keyring.load(path, PW)


# -- KEK rotation -------------------------------------------------------------------------------------------


def test_add_primary_kek(path, clock):
    ring = Keyring.create(path, clock=clock)
    old_sealed = _seal_with(ring, 1)
    assert ring.add_primary_kek() == 2
    assert ring.primary_kek.key_id == 2
    assert [(k.id, k.status) for k in ring.keks] == [(1, "active"), (2, "primary")]
    assert ring.kek(1).open(old_sealed, b"ctx") == b"data key material"  # old KEK still unwraps
    loaded = Keyring.load(path)
    assert [(k.id, k.status) for k in loaded.keks] == [(1, "active"), (2, "primary")]
    assert loaded.kek(1).open(old_sealed, b"ctx") == b"data key material"
    assert loaded.kek(2).open(_seal_with(ring, 2), b"ctx") == b"data key material"
    assert ring.add_primary_kek() == 3
    assert [(k.id, k.status) for k in Keyring.load(path).keks] == [(1, "active"), (2, "active"), (3, "primary")]


def test_retired_kek_is_unknown(path, clock):
    ring = Keyring.create(path, clock=clock)
    ring.kek(1)  # cached sealer
    material = json.loads(path.read_text())["secrets"]["keks"]["1"]
    ring.add_primary_kek()
    ring.retire_kek(1)
    with pytest.raises(UnknownKey, match="kek-1"):
        ring.kek(1)
    (info,) = [k for k in ring.keks if k.id == 1]
    assert info.status == "retired" and info.retired_at == clock.at.isoformat()
    loaded = Keyring.load(path)
    with pytest.raises(UnknownKey):
        loaded.kek(1)
    assert loaded.primary_kek.key_id == 2
    assert material not in path.read_text()  # the material is destroyed, not just marked


def test_never_held_kek_is_unknown(path):
    ring = Keyring.create(path)
    for kek_id in (0, 2, 99):
        with pytest.raises(UnknownKey):
            ring.kek(kek_id)


def test_unknown_key_is_a_keyring_error():
    assert issubclass(UnknownKey, KeyringError)


def test_primary_cannot_be_retired(path):
    ring = Keyring.create(path)
    before = path.read_bytes()
    with pytest.raises(KeyringError, match="primary"):
        ring.retire_kek(1)
    assert path.read_bytes() == before
    ring.add_primary_kek()
    with pytest.raises(KeyringError, match="primary"):
        ring.retire_kek(2)
    assert ring.kek(2) and ring.kek(1)


def test_rotation_with_a_passphrase(path):
    Keyring.create(path, PW, scrypt_n=FAST_SCRYPT)
    ring = Keyring.load(path, PW)
    sealed = _seal_with(ring, 1)
    ring.add_primary_kek()
    ring.retire_kek(1)
    loaded = Keyring.load(path, PW)
    with pytest.raises(UnknownKey):
        loaded.kek(1).open(sealed, b"ctx")
    assert loaded.primary_kek.key_id == 2
