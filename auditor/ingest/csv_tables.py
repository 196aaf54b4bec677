"""Reading one interchange CSV file: its header, its records in chunks, and the physical line each
record starts on (../shared/spec/interchange.md, "Files").

A record is what Python's csv module reads (RFC 4180 quoting, its non-strict rules for a stray
quote), numbered by the physical line it starts on even when a quoted value spans lines, with its
exact count of fields (a short row is not padded silently: it is rejected). Two readers give that:

* Arrow's CSV reader, in C++, a block of the file at a time, the usual case: a block it reads as
  exactly one record per line, each with the header's count of fields, is taken as it read it (the
  two readers agree on every value then; tests/ingest hold them to it). That also proves the block
  ended at a record's end: where each record ends depends only on the text before it.
* the csv module, for any block Arrow's reader would read otherwise (a quoted line break, a blank
  line, a lone CR, a row with too few or too many fields), record by record from the block's start
  until it has passed the block's end; the next block starts where its last record ended.

Everything after that is vectorised on Arrow arrays of the values as read.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from auditor.errors import InputError

csv.field_size_limit(16 * 1024 * 1024)  # a typed break-glass reason may be long; 128 KiB is the default
CHUNK_ROWS = 100_000
BLOCK_BYTES = 8 * 1024 * 1024  # read at a time (about 90,000 access-log rows)


@dataclass(frozen=True)
class CsvChunk:
    """Records of one file, as read. `table` has the file's header columns as strings (values
    untouched, short rows padded with ""); `lines[i]` is the physical line row i starts on;
    `fields[i]` how many fields it had; `records` the records themselves where the csv module read
    them (None where Arrow's reader did: every row then has the header's fields)."""

    table: pa.Table
    lines: np.ndarray
    fields: np.ndarray
    records: list[list[str]] | None = None

    def __len__(self) -> int:
        return self.table.num_rows

    def raw_row(self, i: int, header: list[str]) -> str:
        """Row i exactly as read (header names and fields), as JSON: what quarantine seals."""
        fields = self.records[i] if self.records is not None else [self.table.column(h)[i].as_py() for h in header]
        return json.dumps({"header": header, "fields": fields}, ensure_ascii=False)


class CsvTable:
    """An interchange file: header normalised (trimmed, case folded), columns in any order."""

    def __init__(self, path: Path, known: tuple[str, ...], text_checked: bool = False) -> None:
        self.path = path
        self.name = path.name
        with self._open() as f:
            try:
                header = next(csv.reader(f), None)
            except csv.Error:
                raise InputError(f"{self.name}: the header row is not readable CSV") from None
            except UnicodeDecodeError:  # the first block read holds more than the header
                raise InputError(f"{self.name}: not UTF-8 text") from None
        if not header or not any(h.strip() for h in header):
            raise InputError(f"{self.name}: no header row")
        self.header = [h.strip().casefold() for h in header]
        repeated = sorted({h for h in self.header if self.header.count(h) > 1})
        if repeated:
            raise InputError(f"{self.name}: column(s) {', '.join(repeated)} appear more than once in the header")
        self.unknown = [h for h in self.header if h not in known]
        if not text_checked:  # (a reading child: the process that started it checked)
            self._check_text()

    def _check_text(self) -> None:
        """The whole file is UTF-8, checked before anything loads (a bad byte found half-way through the
        load would leave the rows before it loaded and their rejects not yet quarantined)."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            with self.path.open("rb") as f:
                while block := f.read(16 * 1024 * 1024):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InputError(f"{self.name}: not UTF-8 text") from None
        except OSError as exc:
            raise InputError(f"{self.name}: cannot be read ({exc.strerror})") from None

    def _open(self):
        try:
            return self.path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise InputError(f"{self.name}: cannot be read ({exc.strerror})") from None

    def chunks(self, rows: int = CHUNK_ROWS, block_bytes: int = BLOCK_BYTES) -> Iterator[CsvChunk]:
        """The records after the header, at most `rows` to a chunk, in file order."""
        try:
            with self.path.open("rb") as f:
                source = _Source(f, block_bytes)
                source.skip_bom()
                _, header_lines = source.python_records(0)  # the header record (its values read in __init__)
                reader = _Reader(source, self.header, 1 + header_lines)
                for chunk in reader.chunks():
                    for start in range(0, len(chunk), rows):
                        yield _sliced(chunk, start, rows)
        except OSError as exc:
            raise InputError(f"{self.name}: cannot be read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"{self.name}: not UTF-8 text") from None
        except _NotCsv as exc:
            raise InputError(f"{self.name}: not readable CSV near line {exc.line} ({exc.reason})") from None


class _NotCsv(Exception):
    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason


def _sliced(chunk: CsvChunk, start: int, rows: int) -> CsvChunk:
    if start == 0 and len(chunk) <= rows:
        return chunk
    end = start + rows
    return CsvChunk(chunk.table.slice(start, rows), chunk.lines[start:end], chunk.fields[start:end],
                    None if chunk.records is None else chunk.records[start:end])


class _Source:
    """The file's bytes from the current position: what is buffered, and more read on demand."""

    def __init__(self, f, block_bytes: int) -> None:
        self.f, self.block_bytes = f, block_bytes
        self.buf, self.at, self.eof = b"", 0, False  # unread bytes are buf[at:]
        self.consumed = 0  # bytes of the file taken so far

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

    def block(self) -> bytes:
        """The next block: up to the last line feed in about block_bytes (all that is left at the end)."""
        self.fill(self.block_bytes)
        end = len(self.buf) if self.eof else self.buf.rfind(b"\n", self.at) + 1
        while end <= self.at and not self.eof:  # one line longer than a block
            self.fill(2 * (len(self.buf) - self.at) + 1)
            end = len(self.buf) if self.eof else self.buf.rfind(b"\n", self.at) + 1
        return self.buf[self.at : end]

    def advance(self, n: int) -> None:
        self.at += n
        self.consumed += n

    def _lines(self, counted: list[int]) -> Iterator[str]:
        """Lines (\\n, \\r\\n or \\r ending them, as the csv module counts them) decoded, consumed as
        the reader asks for them; counted[0] the lines handed out."""
        while True:
            self.fill(self.block_bytes)
            if self.at >= len(self.buf):
                return
            # a line ends at LF, or at a CR not followed by LF (a CR at the buffer's end needs one more byte)
            lf = self.buf.find(b"\n", self.at)
            cr = self.buf.find(b"\r", self.at, lf if lf >= 0 else len(self.buf))
            if cr >= 0 and cr + 1 == len(self.buf) and not self.eof:
                self.fill(len(self.buf) - self.at + 1)
                continue
            if cr >= 0 and self.buf[cr + 1 : cr + 2] != b"\n":
                end = cr + 1
            elif lf >= 0:
                end = lf + 1
            elif self.eof:
                end = len(self.buf)
            else:  # no line end in what is buffered: read more
                self.fill(2 * (len(self.buf) - self.at) + 1)
                continue
            line = self.buf[self.at : end].decode("utf-8")
            self.advance(end - self.at)
            counted[0] += 1
            yield line

    def python_records(self, until: int, limit: int | None = 1) -> tuple[list[tuple[int, list[str]]], int]:
        """Records read by the csv module from here, until `until` more bytes are consumed (or `limit`
        records): (lines-before-each-record offset, record) pairs, and the lines consumed in all."""
        counted, out = [0], []
        start = self.consumed
        reader = csv.reader(self._lines(counted))
        try:
            while True:
                before = counted[0]
                record = next(reader, None)
                if record is None:
                    break
                out.append((before, record))
                if (limit is not None and len(out) >= limit) or self.consumed - start >= until > 0:
                    break
        except csv.Error as exc:
            raise _NotCsv(counted[0], str(exc)) from None
        return out, counted[0]


class _Reader:
    def __init__(self, source: _Source, header: list[str], first_line: int) -> None:
        self.source, self.header, self.line = source, header, first_line  # the physical line next read starts

    def chunks(self) -> Iterator[CsvChunk]:
        while not self.source.exhausted:
            block = self.source.block()
            table = _arrow_block(block, self.header)
            if table is not None:
                n = table.num_rows
                self.source.advance(len(block))
                lines = np.arange(self.line, self.line + n, dtype=np.int64)
                self.line += n
                if n:
                    yield CsvChunk(table, lines, np.full(n, len(self.header), dtype=np.int64))
            else:
                chunk = self._python_block(len(block))
                if chunk is not None:
                    yield chunk

    def _python_block(self, size: int) -> CsvChunk | None:
        try:
            read, consumed = self.source.python_records(max(size, 1), limit=None)
        except _NotCsv as exc:  # its line counted from this block's first
            raise _NotCsv(self.line - 1 + exc.line, exc.reason) from None
        first = self.line
        self.line += consumed
        kept = [(first + before, r) for before, r in read if r]  # a blank line holds no record
        if not kept:
            return None
        records = [r for _, r in kept]
        fields = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
        return CsvChunk(_table(records, self.header, fields), np.array([line for line, _ in kept], dtype=np.int64),
                        fields, records)


def _arrow_block(block: bytes, header: list[str]) -> pa.Table | None:
    """The block as Arrow's reader reads it, if that is one record of the header's width per line
    and no line is blank or ends in a lone CR; else None."""
    if not block:
        return None
    lines = block.count(b"\n") + (not block.endswith(b"\n"))
    if (block.count(b"\r") != block.count(b"\r\n") or block.startswith((b"\n", b"\r\n"))
            or b"\n\n" in block or b"\n\r\n" in block):
        return None
    try:
        table = pacsv.read_csv(io.BytesIO(block), read_options=_read_options(header, len(block)),
                               parse_options=_PARSE, convert_options=_convert_options(header))
    except pa.ArrowInvalid:  # a row of another width, most often
        return None
    if table.num_rows != lines:
        return None
    # A quote left open ends the block's last record at its end for Arrow's reader, with the line feed
    # inside a value; the csv module would read on into the next block. Anywhere else a line feed in
    # a value would make fewer records than lines.
    last = table.slice(table.num_rows - 1)
    if any("\n" in (column[0].as_py() or "") for column in last.columns):
        return None
    return table


_PARSE = pacsv.ParseOptions(newlines_in_values=True)


def _read_options(header: list[str], size: int) -> pacsv.ReadOptions:
    # one thread: the other core appends what this one reads
    return pacsv.ReadOptions(column_names=header, use_threads=False, block_size=max(size + 1, 1 << 20))


def _convert_options(header: list[str]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, strings_can_be_null=False,
                                quoted_strings_can_be_null=False)


def _table(records: list[list[str]], header: list[str], fields: np.ndarray) -> pa.Table:
    width = len(header)
    if (fields != width).any():  # rare: pad short rows, cut long ones (they are rejected anyway)
        records = [r[:width] + [""] * (width - len(r)) for r in records]
    columns = list(zip(*records)) if records else [()] * width
    return pa.table({h: pa.array(c, pa.string()) for h, c in zip(header, columns)})
