"""The interchange files and their columns, as ../shared/spec/interchange.md fixes them, and the
checks that decide, a whole chunk at a time, which rows can be read.

A row that cannot be read gets a reason naming the column and what is wrong with it, never the
value (the value may be PHI): "bad birth_date (not YYYY-MM-DD)", not the date.
"""

from __future__ import annotations

import sys
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
from auditor.ingest.csv_tables import CsvChunk, CsvTable
from auditor.vault.gateway import QuarantineEntry
from auditor.vault.records import ROLES

ENCOUNTER_TYPES = ("inpatient", "outpatient", "emergency", "telehealth", "other")
RECORD_TYPES = ("demographics", "note", "lab", "imaging", "medication", "order", "psychotherapy_note",
                "substance_use", "hiv", "genetic", "other")
EHR_ACTIONS = tuple(a for a in ACTIONS[: ACTIONS.index("login_failed") + 1])
OUTCOMES = ("success", "denied")
NO_PATIENT_ACTIONS = ("login_failed", "search")  # may name no patient


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text | date | timestamp | boolean | hhmm | choice | code
    required: bool = False  # a row without a value is rejected
    in_header: bool = False  # the header must name it even when values may be empty
    allowed: tuple[str, ...] = ()
    max_length: int | None = None


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


_CONTACT = _texts("address_line", "city", "state", "postal_code", "phone")
WORKFORCE = InterchangeFile("workforce.csv", (
    Column("user_id", required=True, max_length=128), *_texts("first_name", "last_name"), Column("birth_date", "date"),
    Column("role", "choice", required=True, allowed=ROLES), Column("department", max_length=128),
    Column("hire_date", "date"), Column("termination_date", "date"), *_CONTACT, Column("patient_mrn"),
    Column("shift_start", "hhmm"), Column("shift_end", "hhmm")), key=("user_id",))
PATIENTS = InterchangeFile("patients.csv", (
    Column("mrn", required=True), *_texts("first_name", "last_name"), Column("birth_date", "date"),
    Column("death_date", "date"), Column("sex"), *_CONTACT, Column("vip", "boolean"),
    Column("restricted", "boolean")), key=("mrn",))
ENCOUNTERS = InterchangeFile("encounters.csv", (
    Column("encounter_id", required=True, max_length=128), Column("mrn", required=True),
    Column("department", max_length=128), Column("attending_user_id", max_length=128),
    Column("type", "choice", allowed=ENCOUNTER_TYPES), Column("start", "timestamp", required=True),
    Column("end", "timestamp")), key=("encounter_id",), required=False)
CARE_TEAM = InterchangeFile("care_team.csv", (
    Column("mrn", required=True), Column("user_id", required=True, max_length=128), Column("role", max_length=64),
    Column("start", "timestamp", required=True), Column("end", "timestamp")),
    key=("mrn", "user_id", "start"), required=False, written=("start",))  # the start as written keys a row in the vault
ACCESS_LOG = InterchangeFile("access_log.csv", (
    Column("event_id", required=True, max_length=128), Column("timestamp", "timestamp", required=True),
    Column("user_id", required=True, max_length=128), Column("mrn", in_header=True),
    Column("action", "choice", required=True, allowed=EHR_ACTIONS), Column("record_type", "choice", allowed=RECORD_TYPES),
    Column("outcome", "choice", allowed=OUTCOMES), Column("purpose_of_use", "code", max_length=16),
    Column("break_glass", "boolean"), Column("reason"), Column("workstation", max_length=128)), key=("event_id",))
FILES = (WORKFORCE, PATIENTS, ENCOUNTERS, CARE_TEAM, ACCESS_LOG)


@dataclass
class Problems:
    """Reasons a chunk's rows cannot be read, collected check by check as boolean masks; a reason is
    one text for every row the mask names, or each row's own by position (a sequence or a mapping)."""

    size: int
    found: list[tuple[np.ndarray, str | Sequence[str] | Mapping[int, str]]] = field(default_factory=list)

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
        for mask, reason in self.found:
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


_WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())  # what str.strip() trims


def check_chunk(spec: InterchangeFile, header: list[str], chunk: CsvChunk, zone: ZoneInfo) -> CheckedChunk:
    """Type every column of `spec` and note what cannot be read (before any duplicate check)."""
    n = len(chunk)
    problems = Problems(n)
    width = len(header)
    ragged = chunk.fields != width
    if ragged.any():
        problems.add(ragged, [f"expected {width} fields, found {f}" for f in chunk.fields.tolist()])
    clean = {}
    for col in spec.columns:
        if col.name in chunk.table.column_names:
            text = pc.utf8_trim(values.arrow_text(chunk.table.column(col.name)), _WHITESPACE)
        else:
            text = pa.array([""] * n, pa.string())
        if col.required:
            problems.add(_true(pc.equal(text, "")), f"missing {col.name}")
        if col.max_length:
            problems.add(_true(pc.greater(pc.utf8_length(text), col.max_length)),
                         f"{col.name} longer than {col.max_length} characters")
        clean[col.name] = _typed(col, text, zone, problems)
        if col.name in spec.written:  # what the file says, which no time zone changes
            clean[f"{col.name}_as_written"] = values.unknown_is_null(text)
    return CheckedChunk(chunk, clean, problems)


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
    """Each chunk of `table` typed and checked (the columns, then `extra` checks, then duplicates
    across the whole file): the chunk, the positions of its good rows, and its rejected rows as
    quarantine entries (`file:line: reason`, the row as read), in line order."""
    register = KeyRegister(spec)
    for chunk in table.chunks():
        checked = check_chunk(spec, table.header, chunk, zone)
        for check in extra:
            check(checked)
        register.check(checked)
        rejected = [QuarantineEntry(spec.name, int(chunk.lines[i]), reason, chunk.raw_row(i, table.header))
                    for i, reason in sorted(checked.problems.reasons().items())]
        yield checked, np.flatnonzero(~checked.problems.rejected), rejected
