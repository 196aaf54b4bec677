"""The listener's spool: what it has received, on disk before anything parses it.

`received.spool` is append-only: each message is a record [length: 4 bytes][CRC-32: 4 bytes][nonce:
12 bytes][the message sealed with AES-256-GCM], written and fsynced in batches (audit messages name
patients: nothing of them is on disk in the clear, and a truncated spool leaves only ciphertext in the
freed blocks; the key is derived from the keyring's log MAC key by HKDF, `spool_key`); a message counts as received once its batch is synced. `cursor` holds
the offset up to which the spool's messages are in the vault's log, replaced atomically after each
ingest commits, sealed (auditor.crypto.cursor_seal: bound to the source and to the tag of the record
that ends where it points, so an edited, copied or stale cursor is refused; a deleted one ingests
the spool again from its start, harmlessly). A listener killed at any point loses nothing it counted as received: a torn record at
the end (a batch not yet synced) was never counted and is cut off when the spool is opened again, and
the messages after the cursor are ingested again (their event ids are digests of the message, so what
a killed ingest had already committed is "already present", never a duplicate). Both files are 0600.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from auditor.crypto.cursor_seal import CursorSeal, cursor_key
from auditor.errors import AuditorError

SPOOL, CURSOR = "received.spool", "cursor"
_HEAD = struct.Struct(">II")
_AAD = b"auditor-spool/1"
RECORD_OVERHEAD = _HEAD.size + 12 + 16  # a record's bytes besides its message: length, CRC, nonce, GCM tag
_OPEN = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class SpoolDamaged(AuditorError):
    """A record in the middle of the spool that does not match its checksum."""


def spool_key(log_mac_key: bytes) -> bytes:
    """The spool's AES-256-GCM key, derived from the keyring's log MAC key (RFC 5869, its own label)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"auditor listener spool/1").derive(log_mac_key)


class Spool:
    """The spool of one source in `folder` (its name is the source's), keyed from the log MAC key."""

    def __init__(self, folder: Path, log_mac_key: bytes) -> None:
        self._sealer = AESGCM(spool_key(log_mac_key))
        self.folder = Path(folder)
        self._cursor = CursorSeal(self.folder / CURSOR, cursor_key(log_mac_key, "spool"), f"spool:{self.folder.name}",
                                  "delete it to ingest the whole spool again (event ids keep out duplicates)")
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = self.folder / SPOOL
        self._fd = os.open(self.path, _OPEN, 0o600)
        self._writing = threading.Lock()  # an append and a compaction never interleave
        os.fchmod(self._fd, 0o600)
        try:
            self._cut_torn_tail()
        except BaseException:  # a damaged spool or a refused cursor: nothing stays open
            os.close(self._fd)
            raise

    def close(self) -> None:
        os.close(self._fd)

    # -- the cursor -----------------------------------------------------------------------------------
    @property
    def cursor(self) -> int:
        """Where the messages not yet in the log start: 0 without a cursor; CursorRefused for a cursor
        not sealed for this spool or beyond its end (the listener would skip what it received)."""
        return self._cursor.read(self._anchor) or 0

    def _anchor(self, offset: int) -> bytes | None:
        """The GCM tag that ends the record ending at `offset` (random per record: a cursor left from
        an earlier spool does not match it), b"" at 0, None beyond the end."""
        if offset > self.size:
            return None
        if offset == 0:
            return b""
        if offset < RECORD_OVERHEAD:
            return b"\0"  # no record ends there: matches no seal
        with open(self.path, "rb") as f:
            f.seek(offset - 16)
            return f.read(16)

    def advance(self, offset: int) -> None:
        """Everything before `offset` is in the vault's log (the cursor replaced whole, 0600, synced)."""
        anchor = self._anchor(offset)
        if anchor is None:
            raise SpoolDamaged(f"{self.path}: no record ends at byte {offset}")
        self._cursor.write(offset, anchor)

    @property
    def size(self) -> int:
        return os.fstat(self._fd).st_size

    # -- receiving ------------------------------------------------------------------------------------
    def append(self, messages: list[bytes]) -> None:
        """The messages on disk, in order, synced: received. An empty message (an empty datagram)
        holds nothing to receive; a record of length 0 is what a crash's zeros look like."""
        messages = [m for m in messages if m]
        if not messages:
            return
        sealed = [nonce + self._sealer.encrypt(nonce, m, _AAD) for m in messages for nonce in [os.urandom(12)]]
        data = b"".join(_HEAD.pack(len(m), zlib.crc32(m)) + m for m in sealed)
        with self._writing:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)

    # -- reading back -----------------------------------------------------------------------------------
    def pending(self, limit: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(offset after it, message) for each message after the cursor, at most `limit`."""
        yield from self._records(self.cursor, limit)

    def _records(self, start: int, limit: int | None = None, strict: bool = True) -> Iterator[tuple[int, bytes]]:
        with open(self.path, "rb") as f:
            f.seek(start)
            at, n = start, 0
            while limit is None or n < limit:
                head = f.read(_HEAD.size)
                if len(head) < _HEAD.size:
                    return
                length, crc = _HEAD.unpack(head)
                body = f.read(length)
                if len(body) < length:
                    return
                if length == 0 or zlib.crc32(body) != crc:
                    if strict:
                        raise SpoolDamaged(f"{self.path}: the record at byte {at} does not match its checksum")
                    return
                at += _HEAD.size + length
                n += 1
                try:
                    message = self._sealer.decrypt(body[:12], body[12:], _AAD)
                except InvalidTag:
                    raise SpoolDamaged(f"{self.path}: the record at byte {at - _HEAD.size - length} was not sealed "
                                       "with this vault's key (changed, or another vault's spool)") from None
                yield at, message

    def _cut_torn_tail(self) -> None:
        """Cut off a last record the spool holds only part of, or whose bytes a crash left unwritten
        (never synced: never counted as received). A damaged record with more after it is an error,
        never cut."""
        end = self.cursor
        for end, _ in self._records(self.cursor, strict=False):
            pass
        size = self.size
        if end >= size:
            return
        with open(self.path, "rb") as f:
            f.seek(end)
            rest = f.read()
        zeros = not any(rest)  # what a crash leaves where a write had not landed
        if not zeros and len(rest) >= _HEAD.size and _HEAD.size + _HEAD.unpack(rest[: _HEAD.size])[0] < len(rest):
            raise SpoolDamaged(f"{self.path}: the record at byte {end} does not match its checksum")
        os.ftruncate(self._fd, end)
        os.fsync(self._fd)

    def compact(self) -> None:
        """Once every message is in the log: start the spool again empty (never while an append is
        writing: what it writes after the check would be cut off with the rest)."""
        with self._writing:
            if self.cursor == self.size and self.size > 0:
                self.advance(0)  # first: a kill before the truncation only ingests the spool again
                os.ftruncate(self._fd, 0)
                os.fsync(self._fd)
