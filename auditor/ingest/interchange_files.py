"""The interchange files and their columns, as ../shared/spec/interchange.md fixes them, and the
checks that decide, a whole chunk at a time, which rows can be read.

A row that cannot be read gets a reason naming the column and what is wrong with it, never the
value (the value may be PHI): "bad birth_date (not YYYY-MM-DD)", not the date.

Every column has a size limit (`Column.limit`, characters of the value as read), checked before
anything is typed, hashed or appended: identifiers 128, free text 256 (a department or workstation
128, a care-team role 64), a break-glass reason 4,000; dates 32, timestamps 64, booleans, HH:MM and
codes 16, choices 64. A longer value rejects its row; quarantine keeps the row with any value over
4,096 characters cut to that, beside its length and SHA-256 (csv_source).

A row over several lines that is malformed (a quote that is not RFC 4180's, the wrong number of
fields, a line break in a column other than a reason or an address, a value over its limit, a line
after its first that reads as a whole row by itself) is read again one line at a time, each line
checked on its own (a stray quote swallowed 756 rows once). A well-formed one that is rejected for another reason is quarantined whole, and each of its
other lines beside it as "inside the rejected record of line N".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditor.audit.events import ACTIONS
from auditor.ingest import values
from auditor.ingest.csv_tables import CsvChunk, CsvTable, continuation_lines, holds_rows, quoted_strictly
from auditor.vault.gateway import QuarantineEntry
from auditor.vault.records import APPOINTMENT_STATUSES, ORDER_TYPES, ROLES

ENCOUNTER_TYPES = ("inpatient", "outpatient", "emergency", "telehealth", "other")
RECORD_TYPES = ("demographics", "note", "lab", "imaging", "medication", "order", "psychotherapy_note",
                "substance_use", "hiv", "genetic", "other")
EHR_ACTIONS = tuple(a for a in ACTIONS[: ACTIONS.index("login_failed") + 1])
OUTCOMES = ("success", "denied")
NO_PATIENT_ACTIONS = ("login_failed", "search")  # may name no patient


_LIMITS = {"text": 256, "date": 32, "timestamp": 64, "boolean": 16, "hhmm": 16, "choice": 64, "code": 16}
ID = 128  # an account, a medical record number, an event or encounter id


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text | date | timestamp | boolean | hhmm | choice | code
    required: bool = False  # a row without a value is rejected
    in_header: bool = False  # the header must name it even when values may be empty
    allowed: tuple[str, ...] = ()
    max_length: int | None = None  # characters as read; None: the kind's limit
    multiline: bool = False  # a value may hold a line break (free text a person typed)

    @property
    def limit(self) -> int:
        return self.max_length or _LIMITS[self.kind]


@dataclass(frozen=True)
class InterchangeFile:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # unique within the file
    required: bool = True
    written: tuple[str, ...] = ()  # columns also kept as written (trimmed), as "<name>_as_written"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def header_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required or c.in_header)


def _texts(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n) for n in names)


_CONTACT = (Column("address_line", multiline=True), *_texts("city", "state", "postal_code", "phone"))
WORKFORCE = InterchangeFile("workforce.csv", (
    Column("user_id", required=True, max_length=ID), *_texts("first_name", "last_name"), Column("birth_date", "date"),
    Column("role", "choice", required=True, allowed=ROLES), Column("department", max_length=128),
    Column("hire_date", "date"), Column("termination_date", "date"), *_CONTACT, Column("patient_mrn", max_length=ID),
    Column("shift_start", "hhmm"), Column("shift_end", "hhmm")), key=("user_id",))
PATIENTS = InterchangeFile("patients.csv", (
    Column("mrn", required=True, max_length=ID), *_texts("first_name", "last_name"), Column("birth_date", "date"),
    Column("death_date", "date"), Column("sex", max_length=32), *_CONTACT, Column("vip", "boolean"),
    Column("restricted", "boolean")), key=("mrn",))
ENCOUNTERS = InterchangeFile("encounters.csv", (
    Column("encounter_id", required=True, max_length=ID), Column("mrn", required=True, max_length=ID),
    Column("department", max_length=128), Column("attending_user_id", max_length=ID),
    Column("type", "choice", allowed=ENCOUNTER_TYPES), Column("start", "timestamp", required=True),
    Column("end", "timestamp")), key=("encounter_id",), required=False)
CARE_TEAM = InterchangeFile("care_team.csv", (
    Column("mrn", required=True, max_length=ID), Column("user_id", required=True, max_length=ID),
    Column("role", max_length=64), Column("start", "timestamp", required=True), Column("end", "timestamp")),
    key=("mrn", "user_id", "start"), required=False, written=("start",))  # the start as written keys a row in the vault
ACCESS_LOG = InterchangeFile("access_log.csv", (
    Column("event_id", required=True, max_length=ID), Column("timestamp", "timestamp", required=True),
    Column("user_id", required=True, max_length=ID), Column("mrn", in_header=True, max_length=ID),
    Column("action", "choice", required=True, allowed=EHR_ACTIONS), Column("record_type", "choice", allowed=RECORD_TYPES),
    Column("outcome", "choice", allowed=OUTCOMES), Column("purpose_of_use", "code"),
    Column("break_glass", "boolean"), Column("reason", max_length=4000, multiline=True),
    Column("workstation", max_length=128)), key=("event_id",))
# contract version 2 (explanations 5 to 7): what was ordered, booked and signed; an export without them reads as before
ORDERS = InterchangeFile("orders.csv", (
    Column("order_id", required=True, max_length=ID), Column("mrn", required=True, max_length=ID),
    Column("ordering_user_id", max_length=ID), Column("performing_department", max_length=128),
    Column("type", "choice", allowed=ORDER_TYPES), Column("placed_at", "timestamp", required=True),
    Column("completed_at", "timestamp")), key=("order_id",), required=False)
APPOINTMENTS = InterchangeFile("appointments.csv", (
    Column("appointment_id", required=True, max_length=ID), Column("mrn", required=True, max_length=ID),
    Column("department", max_length=128), Column("provider_user_id", max_length=ID),
    Column("booked_at", "timestamp", required=True), Column("scheduled_for", "timestamp", required=True),
    Column("status", "choice", required=True, allowed=APPOINTMENT_STATUSES)), key=("appointment_id",), required=False)
DOCUMENTS = InterchangeFile("documents.csv", (
    Column("document_id", required=True, max_length=ID), Column("mrn", required=True, max_length=ID),
    Column("author_user_id", required=True, max_length=ID), Column("record_type", "choice", allowed=RECORD_TYPES),
    Column("signed_at", "timestamp", required=True)), key=("document_id",), required=False)
FILES = (WORKFORCE, PATIENTS, ENCOUNTERS, CARE_TEAM, ORDERS, APPOINTMENTS, DOCUMENTS, ACCESS_LOG)


@dataclass
class Problems:
    """Reasons a chunk's rows cannot be read, collected check by check as boolean masks; a reason is
    one text for every row the mask names, or each row's own by position (a sequence or a mapping)."""

    size: int
    found: list[tuple[np.ndarray, str | Sequence[str] | Mapping[int, str]]] = field(default_factory=list)
    only_first: np.ndarray | None = None  # rows given only the first reason found (its values are not in their columns)

    def add(self, mask, reason: str | Sequence[str] | Mapping[int, str]) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.found.append((mask, reason))

    @property
    def rejected(self) -> np.ndarray:
        out = np.zeros(self.size, dtype=bool)
        for mask, _ in self.found:
            out |= mask
        return out

    def reasons(self) -> dict[int, str]:
        """Position -> "reason; reason" for every rejected row (only those rows are visited)."""
        out: dict[int, list[str]] = {}
        for k, (mask, reason) in enumerate(self.found):
            if k and self.only_first is not None:
                mask = mask & ~self.only_first
            for i in np.flatnonzero(mask).tolist():
                out.setdefault(i, []).append(reason if isinstance(reason, str) else str(reason[i]))
        return {i: "; ".join(r) for i, r in out.items()}


@dataclass
class CheckedChunk:
    """A chunk's cleaned, typed columns as Arrow arrays (all rows; use `problems.rejected` to tell the
    good ones): text with "" as null, timestamps as UTC microseconds, flags as booleans, dates as
    midnight timestamps. `clean` is the same as a pandas frame."""

    chunk: CsvChunk
    columns: dict[str, pa.Array]
    problems: Problems
    malformed: np.ndarray  # rows of the wrong width, with a value over its limit or a line break out of place

    @cached_property
    def clean(self) -> pd.DataFrame:
        return pd.DataFrame({name: _pandas(values) for name, values in self.columns.items()})


def _pandas(values: pa.Array) -> pd.Series:
    """An Arrow column as the pandas column the record builders read: text as objects (None missing),
    integers as Int64, flags as nullable booleans, dates as datetime64."""
    kind = values.type
    if pa.types.is_integer(kind):
        return pd.Series(values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), dtype="Int64")
    if pa.types.is_boolean(kind):
        return pd.Series(values.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get), dtype="boolean")
    if pa.types.is_timestamp(kind):
        return pd.Series(values.to_pandas())
    return pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)


# what str.strip() trims: the characters str.isspace() holds (tests/ingest/test_interchange.py checks them
# against this Python's; working them out over every code point cost 0.2 s at every start of the CLI)
_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
               "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def check_chunk(spec: InterchangeFile, header: list[str], chunk: CsvChunk, zone: ZoneInfo) -> CheckedChunk:
    """Type every column of `spec` and note what cannot be read (before any duplicate check)."""
    n = len(chunk)
    problems = Problems(n)
    width = len(header)
    ragged = chunk.fields != width
    if ragged.any():  # its values are not in their columns: the count of fields is the one reason given
        problems.add(ragged, [f"expected {width} fields, found {f}" for f in chunk.fields.tolist()])
        problems.only_first = ragged
    malformed = ragged.copy()
    over_lines = chunk.spans is not None and bool((chunk.spans > 1).any())  # only then may a value hold a line break
    clean = {}
    for col in spec.columns:
        if col.name in chunk.table.column_names:
            raw = values.arrow_text(chunk.table.column(col.name))
            long = _true(pc.greater(pc.utf8_length(raw), col.limit))  # before anything reads the value further
            problems.add(long, f"{col.name} longer than {col.limit} characters")
            malformed |= long
            if over_lines and not col.multiline:
                broken = _true(pc.match_substring_regex(raw, "[\r\n]"))
                problems.add(broken, f"line break in {col.name}")
                malformed |= broken
            text = pc.utf8_trim(pc.if_else(pa.array(long), "", raw) if long.any() else raw, _WHITESPACE)
        else:
            text, long = pa.array([""] * n, pa.string()), np.zeros(n, dtype=bool)
        if col.required:
            problems.add(_true(pc.equal(text, "")) & ~long, f"missing {col.name}")
        clean[col.name] = _typed(col, text, zone, problems)
        if col.name in spec.written:  # what the file says, which no time zone changes
            clean[f"{col.name}_as_written"] = values.unknown_is_null(text)
    return CheckedChunk(chunk, clean, problems, malformed)


def _true(mask) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _typed(col: Column, text: pa.Array, zone: ZoneInfo, problems: Problems) -> pa.Array:
    if col.kind == "date":
        parsed, bad = values.dates(text)
        problems.add(bad, f"bad {col.name} (not YYYY-MM-DD)")
        return parsed
    if col.kind == "timestamp":
        micros, bad = values.timestamps(text, zone)
        problems.add(bad, f"bad {col.name} (not an ISO 8601 timestamp)")
        return pa.array(micros, pa.int64(), mask=_true(pc.equal(text, "")))
    if col.kind == "boolean":
        flags, bad = values.booleans(text)
        problems.add(bad, f"bad {col.name} (not true/false, 1/0 or yes/no)")
        return flags
    if col.kind == "hhmm":
        clock, bad = values.hhmm(text)
        problems.add(bad, f"bad {col.name} (not HH:MM)")
        return clock
    if col.kind == "choice":
        chosen, bad = values.choices(text, col.allowed)
        problems.add(bad, f"unknown {col.name}")
        return chosen
    if col.kind == "code":
        return values.unknown_is_null(values.uppercased(text))
    return values.unknown_is_null(text)


class KeyRegister:
    """Keys already seen in a file (across its chunks), to reject duplicates: the first good row wins."""

    def __init__(self, spec: InterchangeFile) -> None:
        self.spec = spec
        self.first_line: dict[int, int] = {}

    def check(self, checked: CheckedChunk) -> None:
        """Add "duplicate ..." problems for good rows whose key an earlier good row already has."""
        good = np.flatnonzero(~checked.problems.rejected)
        if not len(good):
            return
        keys = pd.DataFrame({name: pc.cast(checked.columns[name].take(good), pa.string()).to_numpy(zero_copy_only=False)
                             for name in self.spec.key})
        hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
        lines = checked.chunk.lines[good]
        # Each key's first row within the chunk; of those, the ones an earlier chunk already had. A
        # dictionary's set operations and update run in C: no Python statement per row.
        distinct, first = np.unique(hashes, return_index=True)
        seen, keys = self.first_line, distinct.tolist()
        earlier = seen.keys() & set(keys)
        repeated = np.ones(len(good), dtype=bool)
        repeated[first] = False
        firsts = lines[first]
        if earlier:
            known = np.isin(distinct, np.fromiter(earlier, dtype=np.uint64, count=len(earlier)))
            repeated |= np.isin(hashes, distinct[known])
            keys, firsts = distinct[~known].tolist(), firsts[~known]
        seen.update(zip(keys, firsts.tolist()))
        if repeated.any():
            name = "+".join(self.spec.key)
            reasons = {position: f"duplicate {name} (first on line {seen[key]})"
                       for position, key in zip(good[repeated].tolist(), hashes[repeated].tolist())}
            mask = np.zeros(checked.problems.size, dtype=bool)
            mask[list(reasons)] = True
            checked.problems.add(mask, reasons)


def checked_chunks(table: CsvTable, spec: InterchangeFile, zone: ZoneInfo, *extra: Callable[[CheckedChunk], None]
                   ) -> Iterator[tuple[CheckedChunk, np.ndarray, list[QuarantineEntry]]]:
    """Each chunk of `table` typed and checked (the columns, then `extra` checks; malformed rows
    over several lines read again line by line and checked so; then duplicates across the whole
    file): the chunk, the positions of its good rows, and its rejected lines as quarantine entries
    (`file:line: reason`, the row as read), in line order."""
    register = KeyRegister(spec)
    for chunk in table.chunks():
        checked = _checked(spec, table.header, chunk, zone, extra)
        again = _malformed_over_lines(checked, len(table.header))
        if len(again):
            checked = _checked(spec, table.header, chunk.with_lines_alone(again, table.header), zone, extra)
        register.check(checked)
        chunk = checked.chunk
        rejected = [QuarantineEntry(spec.name, u.line, u.reason, u.kept) for u in chunk.unread]
        for i, reason in checked.problems.reasons().items():
            rejected += entries_of_rejected_row(spec.name, chunk, i, reason, table.header)
        yield checked, np.flatnonzero(~checked.problems.rejected), sorted(rejected, key=lambda e: e.line)


def entries_of_rejected_row(file: str, chunk, i: int, reason: str, header: list[str]) -> list[QuarantineEntry]:
    """Row i's quarantine entries: the row at its first line, and each other line it covers."""
    line = int(chunk.lines[i])
    entries = [QuarantineEntry(file, line, reason, chunk.raw_row(i, header))]
    if i in chunk.texts:
        entries += [QuarantineEntry(file, at, f"inside the rejected record of line {line}", kept)
                    for at, kept in continuation_lines(line, chunk.texts[i])]
    return entries


def _checked(spec: InterchangeFile, header: list[str], chunk: CsvChunk, zone: ZoneInfo, extra) -> CheckedChunk:
    checked = check_chunk(spec, header, chunk, zone)
    for check in extra:
        check(checked)
    return checked


def _malformed_over_lines(checked: CheckedChunk, width: int) -> np.ndarray:
    """Rows over several lines that are malformed, whose quoting is not RFC 4180's, or with a line
    after the first that reads as a row of its own (`width` fields): rows, not a typed value."""
    chunk = checked.chunk
    over = np.flatnonzero(chunk.covered > 1)
    return np.array([i for i in over.tolist() if checked.malformed[i] or not quoted_strictly(chunk.texts[i])
                     or holds_rows(chunk.texts[i], width)], dtype=np.int64)
