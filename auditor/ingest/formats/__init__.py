"""Readers of audit-log formats other than the interchange CSV export: each yields the same chunks of
access events (`EventChunk`) into the one ingest path (auditor.ingest.event_import), with the same
quarantine, rerun and `--source` semantics as the CSV contract. Adding a format is one module here
(a `Reader`) and one test folder; `reader` finds them for `auditor ingest PATH --format NAME`. A
vendor's extract needs no module: a mapping file (auditor.ingest.formats.mapping_file) describes it.

A reader maps what it can and records what it could not (`EventChunk.unmapped`, counted in the
ingest's warnings); it quarantines an event only when it names no user, no time or no action, or
cannot be read at all, each with its place and a reason that quotes no value from it."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import import_module
from operator import attrgetter
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from auditor.vault.quarantine_entry import QuarantineEntry

CHUNK_EVENTS = 50_000  # events per chunk handed to the gateway

# the gateway's EHR_EVENT_COLUMNS, as a reader fills them
EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("at_us", pa.int64()), ("user_id", pa.string()), ("mrn", pa.string()),
    ("action", pa.string()), ("record_type", pa.string()), ("outcome", pa.string()), ("purpose", pa.string()),
    ("break_glass", pa.bool_()), ("reason", pa.string()), ("workstation", pa.string()), ("row_hash", pa.binary()),
])


@dataclass(slots=True)
class MappedEvent:
    """One event mapped to the contract's fields (auditor ingest's access_log.csv columns)."""

    event_id: str
    at_us: int
    user_id: str
    action: str
    mrn: str | None = None
    record_type: str | None = None
    outcome: str = "success"
    purpose: str | None = None
    break_glass: bool = False
    reason: str | None = None
    workstation: str | None = None
    row_hash: bytes = b""


@dataclass
class EventChunk:
    """Up to CHUNK_EVENTS events of one input file, mapped (`events`, EVENT_SCHEMA), each with its place
    in the file (`lines`: line or entry number) and its text as read (`raws`, for quarantining an event
    the gateway refuses later); the records of the file the reader refused (`rejected`); and what the
    mapping could not carry over, by what (`unmapped`)."""

    file: str
    events: pa.Table
    lines: list[int]
    raws: Sequence[str]  # a worker's chunk: read back from the file when asked (fhir.LineTexts)
    rejected: list[QuarantineEntry] = field(default_factory=list)
    unmapped: Counter = field(default_factory=Counter)
    records: int = 0  # records read (events mapped + rejected)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_EPOCH_DAY = _EPOCH.toordinal()
_MICROSECOND = timedelta(microseconds=1)


def instant_us(value, zone: ZoneInfo) -> int | None:
    """An ISO 8601 date-time as UTC microseconds; without an offset, in `zone` (the organisation's);
    None when it cannot be read."""
    if type(value) is str:  # the usual UTC time ("...Z"), by whole-number arithmetic: a fifth of the cost
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is timezone.utc:
            seconds = (moment.toordinal() - _EPOCH_DAY) * 86_400 + moment.hour * 3_600 + moment.minute * 60
            return (seconds + moment.second) * 1_000_000 + moment.microsecond
        if moment is not None and moment.tzinfo is not None:  # another offset, as BALP may write it
            return (moment - _EPOCH) // _MICROSECOND
    return _instant_us(value, zone)


def _instant_us(value, zone: ZoneInfo) -> int | None:
    """instant_us for every time: the text trimmed, Z and seven digits of a second read by hand."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)  # Python 3.11 reads Z and cuts a fraction to microseconds
    except ValueError:
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        fraction = re.search(r"\.(\d+)", text)
        if fraction and len(fraction.group(1)) > 6:  # .NET writes seven digits: microseconds are enough
            text = text[: fraction.start(1) + 6] + text[fraction.end(1):]
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return (moment - _EPOCH) // _MICROSECOND


class Unmappable(Exception):
    """An event the contract cannot take (no user, time or action it records): the reason quotes no value."""


class Reader(Protocol):
    """A format: its name, what it reads, the files of PATH it reads, and their chunks."""

    name: str
    title: str

    def files(self, path: Path) -> list[Path]:
        """The files this format reads at `path` (a file or a folder); InputError when there are none."""

    def chunks(self, file: Path, zone: ZoneInfo) -> Iterator[EventChunk]:
        """The file's events, a chunk at a time (`zone`: for a time written without an offset)."""


SizeLimit = tuple[str, str, int]  # (MappedEvent field, its access_log.csv column, characters at most)


@cache
def size_limits() -> tuple[SizeLimit, ...]:
    """The CSV contract's size limits, which hold for every format (looked up when first needed: a
    worker process is handed them rather than loading the contract's module)."""
    from auditor.ingest.interchange_files import ACCESS_LOG

    columns = {c.name: c for c in ACCESS_LOG.columns}
    return tuple((field_name, column, columns[column].limit) for field_name, column in (
        ("event_id", "event_id"), ("user_id", "user_id"), ("mrn", "mrn"), ("purpose", "purpose_of_use"),
        ("reason", "reason"), ("workstation", "workstation")))


_ROW = attrgetter(*EVENT_SCHEMA.names)  # a MappedEvent's values in EVENT_SCHEMA's order


class ChunkBuilder:
    """Mapped events and refused records of one file, cut into chunks."""

    def __init__(self, file: str, limits: tuple[SizeLimit, ...] | None = None) -> None:
        self.file = file
        limits = size_limits() if limits is None else limits
        self._limits = [(EVENT_SCHEMA.names.index(name), column, limit) for name, column, limit in limits]
        self._reset()

    def _reset(self) -> None:
        self.rows: list[tuple] = []  # each event's EVENT_SCHEMA values
        self.lines: list[int] = []
        self.raws: list[str] = []
        self.rejected: list[QuarantineEntry] = []
        self.unmapped: Counter = Counter()
        self.records = 0

    def add(self, event: MappedEvent, line: int, raw: str) -> None:
        """`event`, unless a value is over the contract's size limit for its column (then refused)."""
        self.add_row(_ROW(event), line, raw)

    def add_row(self, row: tuple, line: int, raw: str) -> None:
        """An event as its EVENT_SCHEMA values in order, as `add` takes it (its values' sizes are
        checked when the chunk is taken, column by column)."""
        self.rows.append(row)
        self.lines.append(line)
        self.raws.append(raw)
        self.records += 1

    def reject(self, line: int, reason: str, raw: str) -> None:
        self.rejected.append(QuarantineEntry(self.file, line, reason, raw))
        self.records += 1

    def full(self) -> bool:
        return len(self.rows) >= CHUNK_EVENTS

    def take(self) -> EventChunk:
        """The chunk of what was added: an event with a value over the contract's size limit for its
        column is refused (the first such column names the reason), in its place among the refusals."""
        columns = zip(*self.rows) if self.rows else [()] * len(EVENT_SCHEMA)
        table = pa.table([pa.array(c, t) for c, t in zip(columns, EVENT_SCHEMA.types)], schema=EVENT_SCHEMA)
        lines, raws, rejected = self.lines, self.raws, self.rejected
        too_long = self._too_long(table)
        if too_long:
            keep = np.ones(table.num_rows, dtype=bool)
            keep[list(too_long)] = False
            table = table.filter(pa.array(keep))
            rejected = sorted(rejected + [QuarantineEntry(self.file, lines[at], reason, raws[at])
                                          for at, reason in too_long.items()], key=attrgetter("line"))
            lines = [n for n, kept in zip(lines, keep) if kept]
            raws = [r for r, kept in zip(raws, keep) if kept]
        chunk = EventChunk(self.file, table, lines, raws, rejected, self.unmapped, self.records)
        self._reset()
        return chunk

    def _too_long(self, table: pa.Table) -> dict[int, str]:
        """The rows with a value over its column's limit, and why (the first such column of each)."""
        found: dict[int, str] = {}
        for at, column, limit in self._limits:
            lengths = pc.fill_null(pc.utf8_length(table.column(at)), 0)  # no value: nothing over
            if (pc.max(lengths).as_py() or 0) > limit:
                counts = lengths.to_numpy()
                for row in np.flatnonzero(counts > limit).tolist():
                    found.setdefault(row, f"a value over its size limit ({column}: {int(counts[row]):,} characters, "
                                          f"at most {limit:,})")
        return found


# The formats this auditor reads itself, by name: each a module of this package with its reader class
# (`name`, `title`, `files`, `chunks`), imported when first asked for. Adding a format is its module,
# its line here and its tests. "csv", the interchange export, has its own path (auditor.ingest.ehr_import).
READERS = {"fhir": ("auditor.ingest.formats.fhir", "FhirAuditEvents"),
           "atna": ("auditor.ingest.formats.atna", "AtnaMessages")}
CSV_TITLE = "the interchange export: a folder of the contract's CSV files (the default)"


def _readers() -> dict[str, Callable[[], Reader]]:
    return {name: getattr(import_module(module), cls) for name, (module, cls) in READERS.items()}


def reader_titles() -> dict[str, str]:
    """Each format this auditor reads itself (csv first) -> what it reads."""
    return {"csv": CSV_TITLE, **{name: made.title for name, made in _readers().items()}}


def reader(name: str, site_dir: Path | None = None) -> Reader:
    """The reader of format `name` (not "csv": the interchange export has its own path): fhir, atna,
    or a vendor's extract by its mapping file (ours in policies/formats, or the site's in
    `site_dir`/formats)."""
    made = _readers().get(name)
    if made is not None:
        return made()
    from auditor.ingest.formats.mapping_file import find_mapping
    from auditor.ingest.formats.vendor import VendorExtract

    return VendorExtract(find_mapping(name, site_dir))

