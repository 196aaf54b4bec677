"""Sealed cursors: the position a listener's spool is ingested up to (spool/SOURCE/cursor) and the
position a forwarder has sent up to (forward/HOST_PORT/cursor), kept in the site folder with an
HMAC-SHA256 seal under a key derived (HKDF, RFC 5869) from the keyring's log MAC key for that purpose.

The seal binds the position to its place (the spool's source, the forwarder's receiver) and to an
anchor the owner recomputes from the data itself (the spool: the tag of the record that ends there),
so a cursor edited, copied from another place or left from an earlier spool is refused, never
reset to 0 or accepted. An absent cursor is "start from the beginning"; what that means for each
place is its owner's to say. An old cursor of the same place can be put back (no seal can tell it
from the current one): that only moves the position back, i.e. sends or ingests again."""

from __future__ import annotations

import hmac
import re
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from auditor.errors import CursorRefused
from auditor.phi_files import write_private

_VERSION = "auditor-cursor/1"
_LINE = re.compile(r"auditor-cursor/1 (0|[1-9][0-9]{0,18}) ([0-9a-f]{64})\n?")


def cursor_key(log_mac_key: bytes, purpose: str) -> bytes:
    """The seal key of one kind of cursor ("spool", "forward"), apart from every other key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"auditor cursor seal/1 " + purpose.encode("ascii")).derive(log_mac_key)


class CursorSeal:
    """The cursor file at `path` of one place (`place` names it: what a copy elsewhere would not match);
    `remedy` says, when it is refused, what deleting it does."""

    def __init__(self, path: Path, key: bytes, place: str, remedy: str) -> None:
        self.path, self._key, self.place, self.remedy = Path(path), key, place, remedy

    def _mac(self, position: int, anchor: bytes) -> str:
        message = b"\0".join((_VERSION.encode(), self.place.encode("utf-8"), str(position).encode(), anchor))
        return hmac.new(self._key, message, "sha256").hexdigest()

    def refused(self, why: str) -> CursorRefused:
        return CursorRefused(f"{self.path}: {why}; refused, never reset: {self.remedy}")

    def read(self, anchor_of: Callable[[int], bytes | None]) -> int | None:
        """The position the file holds (None when there is no file) once its seal matches it, this
        place and the anchor `anchor_of(position)` gives (None: the position is beyond what exists)."""
        try:
            text = self.path.read_bytes()[:200].decode("ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            raise self.refused("the cursor cannot be read as a sealed cursor") from None
        found = _LINE.fullmatch(text)
        if found is None:
            raise self.refused("the cursor is not a sealed cursor (edited, truncated or from an older auditor)")
        position = int(found.group(1))
        anchor = anchor_of(position)
        if anchor is None:
            raise self.refused(f"the cursor points at {position}, beyond the end")
        if not hmac.compare_digest(found.group(2), self._mac(position, anchor)):
            raise self.refused("the cursor's seal does not match (edited, copied from another place, "
                               "or left from an earlier spool)")
        return position

    def write(self, position: int, anchor: bytes = b"") -> None:
        """The sealed cursor replaced whole (0600, synced)."""
        write_private(self.path, f"{_VERSION} {position} {self._mac(position, anchor)}\n")
