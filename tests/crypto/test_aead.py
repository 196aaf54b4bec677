"""The low AEAD layer: AES-256-GCM with a self-describing, authenticated header.

Layout: | version (1) | key id (8, big-endian) | nonce (12) | ciphertext || tag (16) |, the header being
authenticated as associated data with the caller's context appended. Every failure is DecryptionError.
"""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings, strategies as st

from auditor.crypto import _aead
from auditor.crypto._aead import HEADER_BYTES, NONCE_BYTES, OVERHEAD, TAG_BYTES, Sealer
from auditor.errors import DecryptionError

KEY = bytes(range(32))
KEY_ID = 0x0123456789ABCDEF
SEALER = Sealer(KEY_ID, KEY)

key_ids = st.integers(min_value=0, max_value=2**64 - 1)
contexts = st.binary(max_size=64)
plaintexts = st.binary(max_size=512)


# -- round trips ---------------------------------------------------------------------------------


@given(key_id=key_ids, key=st.binary(min_size=32, max_size=32), plaintext=plaintexts, context=contexts)
def test_seal_open_round_trip(key_id, key, plaintext, context):
    sealer = Sealer(key_id, key)
    sealed = sealer.seal(plaintext, context)
    assert len(sealed) == len(plaintext) + OVERHEAD
    assert sealed[0] == _aead.VERSION
    assert int.from_bytes(sealed[1:9], "big") == key_id == _aead.header_key_id(sealed)
    assert sealer.open(sealed, context) == plaintext
    # bytearray and memoryview are accepted as well as bytes
    assert sealer.open(bytearray(sealed), context) == plaintext
    assert sealer.open(memoryview(sealed), context) == plaintext


@given(plaintext=plaintexts, context=contexts)
def test_a_second_sealer_on_the_same_key_opens(plaintext, context):
    assert Sealer(KEY_ID, KEY).open(SEALER.seal(plaintext, context), context) == plaintext


def test_nonces_are_fresh_for_every_seal():
    sealed = [SEALER.seal(b"same plaintext", b"ctx") for _ in range(200)]
    nonces = {s[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES] for s in sealed}
    assert len(nonces) == 200
    assert len(set(sealed)) == 200


def test_key_must_be_32_bytes():
    for size in (0, 16, 24, 31, 33):
        with pytest.raises(ValueError):
            Sealer(1, b"k" * size)


# -- tampering --------------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [b"", b"Z", "Zoë Müller, 12 Main Street".encode()])
def test_a_bit_flip_in_every_position_is_refused(plaintext):
    context = b"patients\x00first_name\x0042"
    sealed = SEALER.seal(plaintext, context)
    regions = {"version": range(0, 1), "key id": range(1, HEADER_BYTES),
               "nonce": range(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES),
               "ciphertext": range(HEADER_BYTES + NONCE_BYTES, len(sealed) - TAG_BYTES),
               "tag": range(len(sealed) - TAG_BYTES, len(sealed))}
    assert sum(len(r) for r in regions.values()) == len(sealed)
    assert len(regions["ciphertext"]) == len(plaintext)
    tried = 0
    for region, positions in regions.items():
        for position in positions:
            for bit in range(8):
                tampered = bytearray(sealed)
                tampered[position] ^= 1 << bit
                with pytest.raises(DecryptionError):
                    SEALER.open(bytes(tampered), context)
                tried += 1
    assert tried == 8 * len(sealed)
    assert SEALER.open(sealed, context) == plaintext  # the untouched value still opens


@given(plaintext=plaintexts, context=contexts, data=st.data())
def test_any_bit_flip_is_refused(plaintext, context, data):
    sealed = bytearray(SEALER.seal(plaintext, context))
    position = data.draw(st.integers(0, len(sealed) - 1), label="position")
    sealed[position] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    with pytest.raises(DecryptionError):
        SEALER.open(bytes(sealed), context)


@given(plaintext=plaintexts, context=contexts, other=contexts)
def test_a_wrong_context_is_refused(plaintext, context, other):
    if other == context:
        other = context + b"\x00"
    with pytest.raises(DecryptionError):
        SEALER.open(SEALER.seal(plaintext, context), other)


def test_contexts_that_differ_only_by_row_or_column_are_refused():
    sealed = SEALER.seal(b"Zoe", b"patients\x00first_name\x001")
    for context in (b"patients\x00first_name\x0011", b"patients\x00last_name\x001", b"workforce\x00first_name\x001",
                    b"patients\x00first_name\x001\x00", b""):
        with pytest.raises(DecryptionError):
            SEALER.open(sealed, context)


def test_a_different_key_or_key_id_is_refused():
    sealed = SEALER.seal(b"secret", b"ctx")
    with pytest.raises(DecryptionError):
        Sealer(KEY_ID, bytes(32)).open(sealed, b"ctx")  # same id, other key
    with pytest.raises(DecryptionError):
        Sealer(KEY_ID + 1, KEY).open(sealed, b"ctx")  # same key, other id
    relabelled = bytearray(sealed)
    relabelled[1:9] = (KEY_ID + 1).to_bytes(8, "big")
    with pytest.raises(DecryptionError):  # header rewritten to match the other sealer: the tag still fails
        Sealer(KEY_ID + 1, KEY).open(bytes(relabelled), b"ctx")


@given(plaintext=plaintexts, context=contexts, data=st.data())
def test_truncated_values_are_refused(plaintext, context, data):
    sealed = SEALER.seal(plaintext, context)
    cut = data.draw(st.integers(0, len(sealed) - 1), label="length")
    with pytest.raises(DecryptionError):
        SEALER.open(sealed[:cut], context)


@given(plaintext=plaintexts, context=contexts, extra=st.binary(min_size=1, max_size=32))
def test_appended_bytes_are_refused(plaintext, context, extra):
    with pytest.raises(DecryptionError):
        SEALER.open(SEALER.seal(plaintext, context) + extra, context)


@pytest.mark.parametrize("value", [b"", b"\x01", bytes(OVERHEAD - 1), bytes(OVERHEAD), bytes(100), b"\xff" * 64])
def test_empty_short_and_garbage_values_are_refused(value):
    with pytest.raises(DecryptionError):
        SEALER.open(value, b"")
    with pytest.raises(DecryptionError):  # too short, or not version 1
        _aead.header_key_id(value)


@pytest.mark.parametrize("value", [None, "a sealed value as text", 12345, 3.5, [1, 2, 3], object()])
def test_non_bytes_values_are_refused_with_decryption_error(value):
    with pytest.raises(DecryptionError):
        SEALER.open(value, b"")
    with pytest.raises(DecryptionError):
        _aead.header_key_id(value)


def test_non_bytes_text_of_a_real_sealed_value_is_refused():
    sealed = SEALER.seal(b"x", b"")
    with pytest.raises(DecryptionError):
        SEALER.open(sealed.hex(), b"")
    with pytest.raises(DecryptionError):
        SEALER.open(list(sealed), b"")


def test_header_key_id_refuses_other_versions():
    sealed = bytearray(SEALER.seal(b"x", b""))
    assert _aead.header_key_id(bytes(sealed)) == KEY_ID
    for version in (0, 2, 255):
        sealed[0] = version
        with pytest.raises(DecryptionError):
            _aead.header_key_id(bytes(sealed))


# -- known answers ----------------------------------------------------------------------------------

# The GCM specification (McGrew & Viega), Test Case 16: AES-256, 96-bit IV, 60-byte plaintext, 20-byte AAD.
TC16_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
TC16_IV = bytes.fromhex("cafebabefacedbaddecaf888")
TC16_PT = bytes.fromhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
TC16_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
TC16_CT = bytes.fromhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")
TC16_TAG = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")


def test_primitive_is_aes_256_gcm():
    assert AESGCM(TC16_KEY).encrypt(TC16_IV, TC16_PT, TC16_AAD) == TC16_CT + TC16_TAG


def _hand_sealed(key: bytes, key_id: int, nonce: bytes, plaintext: bytes, context: bytes) -> bytes:
    header = struct.pack(">BQ", 1, key_id)
    assert header == b"\x01" + key_id.to_bytes(8, "big")
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + context)


def test_sealer_opens_a_value_built_by_hand():
    key_id, context = 0x0102030405060708, b"patients\x00first_name\x0042"
    sealed = _hand_sealed(TC16_KEY, key_id, TC16_IV, TC16_PT, context)
    assert Sealer(key_id, TC16_KEY).open(sealed, context) == TC16_PT
    # the header really is bound as associated data, ahead of the context: without it the tag differs
    bare = b"\x01" + key_id.to_bytes(8, "big") + TC16_IV + AESGCM(TC16_KEY).encrypt(TC16_IV, TC16_PT, context)
    with pytest.raises(DecryptionError):
        Sealer(key_id, TC16_KEY).open(bare, context)


def test_pinned_sealed_value():
    """A fixed vector for the version-1 format: a change of layout or of associated data breaks it."""
    key_id, context = 0x0102030405060708, b"patients\x00first_name\x0042"
    sealed = bytes.fromhex("010102030405060708" "cafebabefacedbaddecaf888" "d173307e"
                           "200d5f8da35b729202812fd4e3e8b0dc")
    assert sealed == _hand_sealed(TC16_KEY, key_id, TC16_IV, "Zoë".encode(), context)
    assert Sealer(key_id, TC16_KEY).open(sealed, context).decode() == "Zoë"
    with pytest.raises(DecryptionError):
        Sealer(key_id, TC16_KEY).open(sealed, context[:-1])


@given(plaintext=plaintexts, context=contexts)
def test_sealed_values_open_with_plain_aes_gcm(plaintext, context):
    """The other direction: what Sealer.seal writes is exactly the documented layout."""
    sealed = SEALER.seal(plaintext, context)
    header, nonce, body = sealed[:HEADER_BYTES], sealed[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES], sealed[HEADER_BYTES + NONCE_BYTES :]
    assert header == b"\x01" + KEY_ID.to_bytes(8, "big")
    assert AESGCM(KEY).decrypt(nonce, body, header + context) == plaintext


@settings(max_examples=50)
@given(plaintext=plaintexts, context=contexts, nonce=st.binary(min_size=12, max_size=12), key_id=key_ids)
def test_hand_built_values_open(plaintext, context, nonce, key_id):
    assert Sealer(key_id, KEY).open(_hand_sealed(KEY, key_id, nonce, plaintext, context), context) == plaintext
