"""The low layer: AES-256-GCM with random 96-bit nonces and a self-describing header.

Sealed value layout (version 1):

    0      1          9          21                 end
    | ver | key id (8, big-endian) | nonce (12) | ciphertext || tag (16) |

The header (version and key id) is authenticated as associated data together with the caller's
context, so neither can be changed without the tag failing. Every failure raises DecryptionError and
nothing else, whatever went wrong.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auditor.errors import DecryptionError

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_HEADER = struct.Struct(">BQ")
HEADER_BYTES = _HEADER.size  # 9
OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
_BODY = HEADER_BYTES + NONCE_BYTES  # where the ciphertext starts


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def header_key_id(sealed: bytes) -> int:
    """The key id a sealed value names; DecryptionError when the value is not a sealed value."""
    if not isinstance(sealed, (bytes, bytearray, memoryview)) or len(sealed) < OVERHEAD:
        raise DecryptionError()
    version, key_id = _HEADER.unpack_from(sealed)
    if version != VERSION:
        raise DecryptionError()
    return key_id


class Sealer:
    """AES-256-GCM under one key, known by `key_id`. Construct once per key and reuse."""

    __slots__ = ("key_id", "_aead", "_header")

    def __init__(self, key_id: int, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self.key_id = key_id
        self._aead = AESGCM(key)
        self._header = _HEADER.pack(VERSION, key_id)

    @property
    def header(self) -> bytes:
        return self._header

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        header = self._header
        return header + nonce + self._aead.encrypt(nonce, plaintext, header + context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if type(sealed) is not bytes:
            if not isinstance(sealed, (bytearray, memoryview)):
                raise DecryptionError()
            sealed = bytes(sealed)
        if len(sealed) < OVERHEAD or not sealed.startswith(self._header):
            raise DecryptionError()
        try:
            return self._aead.decrypt(sealed[HEADER_BYTES:_BODY], sealed[_BODY:], self._header + context)
        except InvalidTag:
            raise DecryptionError() from None
