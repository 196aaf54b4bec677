"""Reading one interchange CSV file: its header, its records in chunks, and the physical line each
record starts on (../shared/spec/interchange.md, "Files").

Python's csv module tokenises (in C, RFC 4180 quoting): unlike pandas' reader it keeps the exact
count of fields in each record (pandas pads a short row silently) and lets records be numbered by
the physical line they start on even when a quoted value spans lines. Everything after tokenising
is vectorised: one DataFrame per chunk.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from auditor.errors import InputError

csv.field_size_limit(16 * 1024 * 1024)  # a typed break-glass reason may be long; 128 KiB is the default
CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class CsvChunk:
    """Records of one file, as read. `frame` has the file's header columns (values untouched, short
    rows padded with ""); `lines[i]` is the physical line row i starts on; `fields[i]` how many
    fields it had; `records` the records themselves (for quarantine)."""

    frame: pd.DataFrame
    lines: np.ndarray
    fields: np.ndarray
    records: list[list[str]]

    def raw_row(self, i: int, header: list[str]) -> str:
        """Row i exactly as read (header names and fields), as JSON: what quarantine seals."""
        return json.dumps({"header": header, "fields": self.records[i]}, ensure_ascii=False)


class CsvTable:
    """An interchange file: header normalised (trimmed, case folded), columns in any order."""

    def __init__(self, path: Path, known: tuple[str, ...]) -> None:
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

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[CsvChunk]:
        try:
            with self._open() as f:
                reader = csv.reader(f)
                next(reader)
                last_line = reader.line_num
                while records := list(itertools.islice(reader, rows)):
                    lines = _start_lines(records, last_line, reader.line_num)
                    last_line = reader.line_num
                    fields = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
                    keep = fields > 0  # a blank line holds no record
                    if not keep.all():
                        records = list(itertools.compress(records, keep))
                        lines, fields = lines[keep], fields[keep]
                    if records:
                        yield CsvChunk(_frame(records, self.header, fields), lines, fields, records)
        except UnicodeDecodeError:
            raise InputError(f"{self.name}: not UTF-8 text") from None
        except csv.Error as exc:
            raise InputError(f"{self.name}: not readable CSV near line {reader.line_num} ({exc})") from None


def _frame(records: list[list[str]], header: list[str], fields: np.ndarray) -> pd.DataFrame:
    width = len(header)
    if (fields != width).any():  # rare: pad short rows, cut long ones (they are rejected anyway)
        records = [r[:width] + [""] * (width - len(r)) for r in records]
    # object columns from the start: inferring a string dtype (Arrow-backed with pyarrow) and casting
    # back would copy every value twice
    return pd.DataFrame(records, columns=header, dtype=object) if records else pd.DataFrame(columns=header, dtype=object)


def _start_lines(records: list[list[str]], before: int, after: int) -> np.ndarray:
    """The physical line each record starts on, given the reader's line count before and after them.
    Without line breaks inside quoted values (the usual case) that is a plain range."""
    if after - before == len(records):
        return np.arange(before + 1, after + 1, dtype=np.int64)
    spans = np.fromiter((1 + sum(_breaks(v) for v in r) for r in records), dtype=np.int64, count=len(records))
    return before + 1 + np.concatenate(([0], np.cumsum(spans)[:-1]))


def _breaks(value: str) -> int:
    """Line breaks inside one value, counted the way the reader counts lines (\\n, \\r\\n or \\r)."""
    return value.count("\n") + value.count("\r") - value.count("\r\n")
