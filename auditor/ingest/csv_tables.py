"""Reading one interchange CSV file: its header, its records in chunks, the physical line each
record starts on and how many it covers, and every other line accounted for (../shared/spec/interchange.md, "Files").

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

Every physical line after the header is accounted for: it starts a record, continues one (a quoted
value over several lines: `spans`), is blank, or is `unread`. A line is unread when it is longer
than MAX_RECORD_BYTES (never held), or when the csv module could not read the record it belongs to
(a field over its field_size_limit, a record over MAX_RECORD_BYTES): that record's lines are read
again one by one, alone, and a line that opens a quote it does not close is unread. The checks
(interchange_files) read a record over several lines that they reject as malformed one line at a
time the same way (`with_lines_alone`): a stray quote never swallows the lines after it.

Everything after that is vectorised on Arrow arrays of the values as read.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from auditor.errors import InputError
from auditor.ingest.csv_source import MAX_RECORD_BYTES, LongLine, LongRecord, Source, kept_line, kept_text, size_text

csv.field_size_limit(MAX_RECORD_BYTES)  # never the first to refuse: Source bounds a record (128 KiB is the default)
CHUNK_ROWS = 100_000
BLOCK_BYTES = 8 * 1024 * 1024  # read at a time (about 90,000 access-log rows)


@dataclass(frozen=True)
class Unread:
    """A line no record was read from: its number, why, and what quarantine keeps of it (JSON)."""

    line: int
    reason: str
    kept: str


@dataclass(frozen=True)
class CsvChunk:
    """Records of one file, as read. `table` has the file's header columns as strings (values
    untouched, short rows padded with ""); `lines[i]` is the physical line row i starts on;
    `fields[i]` how many fields it had; `records` the records themselves where the csv module read
    them (None where Arrow's reader did: every row then has the header's fields and one line).
    `spans[i]` is how many lines row i covers (None: one each), `texts[i]` the text of a row over
    more than one line as the file has it; `blank` and `unread` are the other lines read with them."""

    table: pa.Table
    lines: np.ndarray
    fields: np.ndarray
    records: list[list[str]] | None = None
    spans: np.ndarray | None = None
    texts: dict[int, str] = field(default_factory=dict)
    blank: int = 0
    unread: tuple[Unread, ...] = ()

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def covered(self) -> np.ndarray:
        """Lines each row covers."""
        return self.spans if self.spans is not None else np.ones(len(self), dtype=np.int64)

    @property
    def line_count(self) -> int:
        """The physical lines this chunk accounts for: its rows', blank ones and unread ones."""
        return int(self.covered.sum()) + self.blank + len(self.unread)

    def raw_row(self, i: int, header: list[str]) -> str:
        """Row i as read (header names and fields) as JSON: what quarantine seals. A field longer than
        KEPT_CHARACTERS is kept cut, its length and SHA-256 under "cut" by its position."""
        fields = self.records[i] if self.records is not None else [self.table.column(h)[i].as_py() for h in header]
        return kept_row(header, fields)

    def with_lines_alone(self, positions, header: list[str]) -> "CsvChunk":
        """This chunk with the rows at `positions` (rows over several lines, read by the csv module)
        replaced by their lines, each read alone."""
        read = _Read()
        again = set(np.asarray(positions).tolist())
        for i, record in enumerate(self.records):
            start = int(self.lines[i])
            if i in again:
                _alone(_LINE.findall(self.texts[i]), start, read)
            else:
                read.records.append((start, record, int(self.covered[i]), self.texts.get(i)))
        read.blank, read.unread = self.blank + read.blank, list(self.unread) + read.unread
        return read.chunk(0, header)


def kept_row(header: list[str], fields: list[str]) -> str:
    kept, cut = [], {}
    for i, value in enumerate(fields):
        first, about = kept_text(value)
        kept.append(first)
        if about:
            cut[str(i)] = about
    return json.dumps({"header": header, "fields": kept, **({"cut": cut} if cut else {})}, ensure_ascii=False)


def continuation_lines(first_line: int, text: str) -> list[tuple[int, str]]:
    """The lines after the first of a record's text: (line number, what quarantine keeps of it)."""
    return [(first_line + k, kept_line(line.rstrip("\r\n"), inside_record_of_line=first_line))
            for k, line in enumerate(_LINE.findall(text)) if k]


def quoted_strictly(text: str) -> bool:
    """Whether a record's text is quoted as RFC 4180 quotes (every quoted value closed by a quote
    and then a comma or the line's end): a stray quote is not."""
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), strict=True):
            pass
    except csv.Error:
        return False
    return True


def holds_rows(text: str, width: int) -> bool:
    """Whether a line after the first of a record's text, read alone, is a row of `width` fields."""
    for line in _LINE.findall(text)[1:]:
        try:
            record = next(csv.reader([line.rstrip("\r\n") + "\n"]), [])
        except csv.Error:
            continue
        if len(record) == width and not any("\n" in value for value in record):  # (no quote left open)
            return True
    return False


_LINE = re.compile(r"[^\r\n]*(?:\r\n|[\r\n])|[^\r\n]+$")  # a line as the csv module counts lines, with its end


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

    def chunks(self, rows: int = CHUNK_ROWS, block_bytes: int = BLOCK_BYTES,
               bound: int = MAX_RECORD_BYTES) -> Iterator[CsvChunk]:
        """The records after the header, at most `rows` to a chunk, in file order (a chunk may hold
        no record, only blank or unread lines). `bound`: the most of one line or record held."""
        try:
            with self.path.open("rb") as f:
                source = Source(f, block_bytes, bound)
                source.skip_bom()
                header = python_records(source, 0)  # the header record (its values read in __init__)
                if header.broken:
                    raise InputError(f"{self.name}: the header row is longer than {size_text(bound)}")
                reader = _Reader(source, self.header, 1 + header.consumed)
                for chunk in reader.chunks():
                    for start in range(0, max(len(chunk), 1), rows):
                        yield _sliced(chunk, start, rows)
        except OSError as exc:
            raise InputError(f"{self.name}: cannot be read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"{self.name}: not UTF-8 text") from None


def _sliced(chunk: CsvChunk, start: int, rows: int) -> CsvChunk:
    """Rows start to start + rows (the blank and unread lines go with the first slice)."""
    if start == 0 and len(chunk) <= rows:
        return chunk
    end = start + rows
    return CsvChunk(chunk.table.slice(start, rows), chunk.lines[start:end], chunk.fields[start:end],
                    None if chunk.records is None else chunk.records[start:end],
                    None if chunk.spans is None else chunk.spans[start:end],
                    {i - start: t for i, t in chunk.texts.items() if start <= i < end},
                    chunk.blank if start == 0 else 0, chunk.unread if start == 0 else ())


@dataclass
class _Read:
    """What the csv module read: records as (lines before it, fields, lines it covers, its text if
    more than one), blank lines, unread lines as (lines before it, reason, kept), lines consumed;
    `broken` when a record could not be read whole (its lines were read alone)."""

    records: list[tuple[int, list[str], int, str | None]] = field(default_factory=list)
    blank: int = 0
    unread: list = field(default_factory=list)
    consumed: int = 0
    broken: bool = False

    def chunk(self, first: int, header: list[str]) -> CsvChunk:
        """As a chunk whose first line is `first` (offsets added to it)."""
        records = [r for _, r, _, _ in self.records]
        fields = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
        return CsvChunk(_table(records, header, fields),
                        np.fromiter((first + at for at, *_ in self.records), dtype=np.int64, count=len(records)),
                        fields, records, np.fromiter((n for _, _, n, _ in self.records), dtype=np.int64, count=len(records)),
                        {i: t for i, (*_, t) in enumerate(self.records) if t is not None}, self.blank,
                        tuple(u if isinstance(u, Unread) else Unread(first + u[0], u[1], u[2]) for u in self.unread))


def python_records(source: Source, until: int, limit: int | None = 1) -> _Read:
    """Records read by the csv module from here, until `until` more bytes are consumed (or `limit`
    records). A record it cannot read whole (csv.Error, LongRecord) has its lines read alone; a
    line too long to hold (LongLine) is unread."""
    read, counted, start = _Read(), [0], source.consumed
    while True:
        reader = csv.reader(source.lines(counted))
        try:
            while True:
                before, source.taken, source.taken_bytes = counted[0], [], 0
                record = next(reader, None)
                if record is None:
                    read.consumed = counted[0]
                    return read
                if record:
                    span = counted[0] - before
                    read.records.append((before, record, span, "".join(source.taken) if span > 1 else None))
                else:  # a blank line holds no record
                    read.blank += 1
                if (limit is not None and len(read.records) >= limit) or source.consumed - start >= until > 0:
                    read.consumed = counted[0]
                    return read
        except (csv.Error, LongRecord, LongLine) as exc:
            read.broken = True
            _alone(source.taken, before, read)
            if isinstance(exc, LongLine):
                read.unread.append((counted[0] - 1, f"line longer than {size_text(source.bound)}: not read",
                                    exc.kept()))
            if (limit is not None and len(read.records) >= limit) or source.consumed - start >= until > 0:
                read.consumed = counted[0]
                return read


def _alone(lines: list[str], first: int, read: _Read) -> None:
    """Each line read as a record on its own (numbered from `first`): a line that opens a quote it
    does not close, or that the csv module cannot read, is unread."""
    for k, line in enumerate(lines):
        text = line.rstrip("\r\n")
        if not text:
            read.blank += 1
            continue
        if '"' not in text:  # no quote: the csv module would split it at its commas
            read.records.append((first + k, text.split(","), 1, None))
            continue
        try:
            record = next(csv.reader([text + "\n"]))
        except csv.Error as exc:
            read.unread.append((first + k, f"not readable CSV ({exc})", kept_line(text)))
            continue
        if any("\n" in value for value in record):  # the line end was read into a quoted value
            read.unread.append((first + k, "a quote opened on this line is not closed on it", kept_line(text)))
        else:
            read.records.append((first + k, record, 1, None))


class _Reader:
    def __init__(self, source: Source, header: list[str], first_line: int) -> None:
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
        read = python_records(self.source, max(size, 1), limit=None)
        first = self.line
        self.line += read.consumed
        if not (read.records or read.blank or read.unread):
            return None
        return read.chunk(first, self.header)


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
