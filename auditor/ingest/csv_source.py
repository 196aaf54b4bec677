"""The bytes of an interchange file from where reading stands: handed to Arrow's reader a block of
whole lines at a time, or to the csv module a physical line at a time, and never more than
MAX_RECORD_BYTES of one line or one record held (../shared/spec/interchange.md, "Files").

A line ends at LF, CR LF or a lone CR, as the csv module counts lines. A line longer than
MAX_RECORD_BYTES is not read: it is consumed without being held, and quarantine keeps its first
KEPT_CHARACTERS characters, its length and its SHA-256 (one 20 MB field once stopped an ingest for
good). A record whose lines pass the bound (a quote left open to the end of a big file) stops
being read as one record: its lines are read one by one instead (csv_tables).
"""

from __future__ import annotations

import codecs
import hashlib
import json
from typing import Iterator

MAX_RECORD_BYTES = 16 * 1024 * 1024  # a record of the contract's columns is a few KiB; an 8 MiB block fits
KEPT_CHARACTERS = 4096  # of a longer value, quarantine keeps this much and the whole value's length and SHA-256


class LongLine(Exception):
    """A line over the bound, consumed and not kept: what quarantine keeps of it."""

    def __init__(self, first: str, length: int, sha256: str) -> None:
        self.first, self.length, self.sha256 = first, length, sha256

    def kept(self) -> str:
        return json.dumps({"line": self.first, "bytes": self.length, "sha256": self.sha256}, ensure_ascii=False)


class LongRecord(Exception):
    """The lines of one record passed the bound (they are in `Source.taken`)."""


def kept_text(text: str) -> tuple[str, dict]:
    """What quarantine keeps of a value: all of it, or its first KEPT_CHARACTERS characters and,
    beside them, its length and SHA-256 (of its UTF-8 bytes)."""
    if len(text) <= KEPT_CHARACTERS:
        return text, {}
    return text[:KEPT_CHARACTERS], {"characters": len(text), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def kept_line(text: str, **more) -> str:
    """A line kept in quarantine (no record was read from it), as JSON."""
    first, cut = kept_text(text)
    return json.dumps({**more, "line": first, **cut}, ensure_ascii=False)


class Source:
    """The file's bytes from the current position: what is buffered, and more read on demand.
    `taken` holds the lines handed out for the record being read (`taken_bytes` their size);
    `bound` is MAX_RECORD_BYTES but in tests."""

    def __init__(self, f, block_bytes: int, bound: int = MAX_RECORD_BYTES) -> None:
        self.f, self.block_bytes, self.bound = f, block_bytes, bound
        self.buf, self.at, self.eof = b"", 0, False  # unread bytes are buf[at:]
        self.consumed = 0  # bytes of the file taken so far
        self.taken: list[str] = []
        self.taken_bytes = 0

    def fill(self, wanted: int) -> None:
        if len(self.buf) - self.at >= wanted or self.eof:
            return
        parts = [self.buf[self.at :]]
        held = len(parts[0])
        while held < wanted:
            data = self.f.read(max(self.block_bytes, wanted - held))
            if not data:
                self.eof = True
                break
            parts.append(data)
            held += len(data)
        self.buf, self.at = b"".join(parts), 0

    def skip_bom(self) -> None:
        self.fill(3)
        if self.buf.startswith(codecs.BOM_UTF8):
            self.advance(3)

    @property
    def exhausted(self) -> bool:
        self.fill(1)
        return self.at >= len(self.buf)

    def advance(self, n: int) -> None:
        self.at += n
        self.consumed += n

    def block(self) -> bytes:
        """The next block for Arrow's reader: whole lines up to the last line feed in about
        block_bytes, never more than the bound (all that is left at the end); b"" when no line
        feed comes within it."""
        self.fill(self.block_bytes)
        while True:
            held = len(self.buf) - self.at
            if self.eof and held <= self.bound:
                return self.buf[self.at :]
            end = self.buf.rfind(b"\n", self.at, self.at + min(held, self.bound)) + 1
            if end > self.at or held > self.bound or self.eof:
                return self.buf[self.at : end] if end > self.at else b""
            self.fill(2 * held + 1)  # one line longer than a block

    def _line_end(self) -> int | None:
        """Where the line at hand ends in the buffer (after its line end), or None when what is
        buffered does not tell (no line end yet, or a CR last that an LF may follow)."""
        lf = self.buf.find(b"\n", self.at)
        cr = self.buf.find(b"\r", self.at, lf if lf >= 0 else len(self.buf))
        if cr >= 0:
            if cr + 1 == len(self.buf) and not self.eof:
                return None
            if self.buf[cr + 1 : cr + 2] != b"\n":
                return cr + 1
        if lf >= 0:
            return lf + 1
        return len(self.buf) if self.eof else None

    def lines(self, counted: list[int]) -> Iterator[str]:
        """Lines decoded, consumed as the reader asks for them, each also added to `taken`;
        counted[0] the lines consumed. Raises LongLine (the line consumed, not held) or LongRecord."""
        while True:
            self.fill(self.block_bytes)
            if self.at >= len(self.buf):
                return
            end = self._line_end()
            if end is None and len(self.buf) - self.at <= self.bound:
                self.fill(2 * (len(self.buf) - self.at) + 1)  # no line end in what is buffered: read more
                continue
            counted[0] += 1
            if end is None or end - self.at > self.bound:
                raise self._skip_line()
            line = self.buf[self.at : end].decode("utf-8")
            self.taken.append(line)
            self.taken_bytes += end - self.at
            self.advance(end - self.at)
            if self.taken_bytes > self.bound:
                raise LongRecord()
            yield line

    def _skip_line(self) -> LongLine:
        """Consume the line at hand a buffer at a time, hashing its bytes (without its line end)."""
        first = self.buf[self.at : self.at + 4 * KEPT_CHARACTERS].decode("utf-8", "ignore")[:KEPT_CHARACTERS]
        digest, length = hashlib.sha256(), 0
        while True:
            end = self._line_end()
            if end is not None:
                body = end - (2 if self.buf[end - 2 : end] == b"\r\n" else
                              1 if self.buf[end - 1 : end] in (b"\n", b"\r") else 0)
                body = max(body, self.at)
                digest.update(self.buf[self.at : body])
                length += body - self.at
                self.advance(end - self.at)
                return LongLine(first, length, digest.hexdigest())
            stop = len(self.buf) - self.buf.endswith(b"\r")  # a CR last waits for the byte after it
            digest.update(self.buf[self.at : stop])
            length += stop - self.at
            self.advance(stop - self.at)
            self.fill(len(self.buf) - self.at + self.block_bytes)


def size_text(size: int) -> str:
    return f"{size >> 20} MiB" if size % (1 << 20) == 0 else f"{size:,} bytes"
