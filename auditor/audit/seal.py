"""The per-event seal: HMAC-SHA256 (RFC 2104) of the event's leaf hash under the keyring's log MAC key.

A leaf hash alone can be recomputed by whoever edits a row; the seal cannot without the key, so an
edited, inserted or renumbered row is named exactly. Computed once per append and once per verify of
every event, so the two padded key blocks are hashed once and copied per event (the standard HMAC
construction, about twice as fast as `hmac.digest` on 32-byte inputs; equal results are tested).
"""

from __future__ import annotations

import hashlib
import hmac

_BLOCK = 64  # SHA-256 block size in bytes


class EventSeal:
    __slots__ = ("_inner", "_outer")

    def __init__(self, mac_key: bytes) -> None:
        if len(mac_key) > _BLOCK:
            mac_key = hashlib.sha256(mac_key).digest()
        key = mac_key.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, leaf: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(leaf)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def matches(self, leaf: bytes, seal: bytes) -> bool:
        inner = self._inner.copy()  # __call__ spelled out again: verify runs this once per event
        inner.update(leaf)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return hmac.compare_digest(outer.digest(), seal)


BLOCK_HEADER = b"auditor-block-header/1\n"


def block_header_seal(mac_key: bytes, first_seq: int, last_seq: int, source: str, first_at_us: int,
                      last_at_us: int) -> bytes:
    """HMAC-SHA256 of a block's header (auditor.audit.schema.AuditEventBlock): what the engine selects
    blocks by. Domain-separated from the event seals, which are HMACs of 32-byte leaves."""
    message = BLOCK_HEADER + f"{first_seq}\n{last_seq}\n{source}\n{first_at_us}\n{last_at_us}\n".encode("utf-8")
    return hmac.new(mac_key, message, hashlib.sha256).digest()


def block_header_valid(mac_key: bytes, header_seal: bytes | None, first_seq: int, last_seq: int, source: str,
                       first_at_us: int, last_at_us: int) -> bool:
    if header_seal is None:
        return False
    expected = block_header_seal(mac_key, first_seq, last_seq, source, first_at_us, last_at_us)
    return hmac.compare_digest(expected, bytes(header_seal))
