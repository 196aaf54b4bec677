"""Signed checkpoints: the log's size and Merkle root, signed with the keyring's Ed25519 key and
appended, one JSON line each, to a file outside the database.

A checkpoint commits the signer to the first `size` events. Anyone holding a copy of the file (or of
one line) can later prove that the database still holds exactly those events.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditor.errors import InputError

FORMAT = "auditor-checkpoint/1"


def key_fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def _message(size: int, root: bytes, at: str) -> bytes:
    return f"{FORMAT}\n{size}\n{root.hex()}\n{at}\n".encode()


@dataclass(frozen=True)
class Checkpoint:
    size: int
    root: bytes
    at: str
    key: str
    signature: bytes
    origin: str = ""  # "file:line", for messages

    def to_line(self) -> str:
        return json.dumps(
            {"format": FORMAT, "size": self.size, "root": self.root.hex(), "at": self.at, "key": self.key,
             "sig": base64.b64encode(self.signature).decode()},
            separators=(",", ":"),
        )

    def verify(self, public_key: bytes) -> bool:
        if self.key != key_fingerprint(public_key):
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(self.signature, _message(self.size, self.root, self.at))
            return True
        except InvalidSignature:
            return False

    @classmethod
    def parse(cls, line: str, origin: str = "") -> "Checkpoint":
        try:
            obj = json.loads(line)
            if obj["format"] != FORMAT:
                raise ValueError
            return cls(int(obj["size"]), bytes.fromhex(obj["root"]), str(obj["at"]), str(obj["key"]),
                       base64.b64decode(obj["sig"], validate=True), origin)
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{origin}: not a checkpoint line") from None


def sign(size: int, root: bytes, at: datetime, signing_key: Ed25519PrivateKey, public_key: bytes) -> Checkpoint:
    stamp = at.isoformat()
    return Checkpoint(size, root, stamp, key_fingerprint(public_key), signing_key.sign(_message(size, root, stamp)))


def _drop_torn_tail(fd: int) -> int:
    """Cut an unfinished last line (a write the machine did not live to finish) and return the end.

    The fragment carries no complete signature, so it vouches for nothing; left in place, the next
    checkpoint would be glued onto it and both would be unreadable for good."""
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0 or os.pread(fd, 1, end - 1) == b"\n":
        return end
    block = 4096
    pos = end
    while pos > 0:
        start = max(0, pos - block)
        chunk = os.pread(fd, pos - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            keep = start + cut + 1
            break
        pos = start
    else:
        keep = 0
    os.ftruncate(fd, keep)
    return keep


class CheckpointFile:
    """An append-only file of checkpoint lines; appends from many processes are serialised by flock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, checkpoint: Checkpoint) -> None:
        data = (checkpoint.to_line() + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            end = _drop_torn_tail(fd)
            os.pwrite(fd, data, end)  # one write: a crash leaves a whole line or a torn last line
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> tuple[list[Checkpoint], list[str]]:
        """The checkpoints, and one message per line that is not one (a torn last line included)."""
        if not self.path.exists():
            return [], []
        checkpoints, problems = [], []
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        torn = lines[-1] != b""
        for number, line in enumerate(lines[:-1] if not torn else lines, start=1):
            if not line.strip():
                continue
            origin = f"{self.path}:{number}"
            try:
                checkpoints.append(Checkpoint.parse(line.decode("utf-8"), origin))
            except (InputError, UnicodeDecodeError):
                if torn and number == len(lines):
                    problems.append(f"{origin}: torn last line (an interrupted write); ignored")
                else:
                    problems.append(f"{origin}: not a checkpoint line")
        return checkpoints, problems

    def latest(self) -> Checkpoint | None:
        """The line of the largest size, signed or not (what `audit verify` then judges)."""
        checkpoints, _ = self.read()
        return max(checkpoints, key=lambda c: c.size, default=None)

    def latest_signed(self, public_key: bytes) -> Checkpoint | None:
        """The checkpoint of the largest size whose signature verifies with `public_key`: what a check
        may rely on. A line anyone who can write the file added cannot stand in for it."""
        checkpoints, _ = self.read()  # largest first: one signature checked when the latest is genuine
        return next((c for c in sorted(checkpoints, key=lambda c: c.size, reverse=True) if c.verify(public_key)),
                    None)
