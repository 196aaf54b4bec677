"""A vendor's access-log extract (a delimited text file with a header row) read by its mapping file
(auditor.ingest.formats.mapping_file): `auditor ingest PATH --format NAME`.

Each record becomes one event, or is quarantined with its line and a reason that quotes no value:
no user, no time, a time none of the mapping's formats reads, an action code the mapping does not
name, a record CSV cannot read, bytes the file's encoding cannot decode. A record type, outcome,
purpose or break-the-glass code the mapping does not name is left out and counted (the ingest's
warnings), as BALP asks of a consumer. A file whose header lacks a column the mapping reads is
refused whole, before anything is loaded: it is another extract than the mapping describes.

An extract rarely carries an event id: then the event's id is a digest of the record as written and
of how many times the same record came before it in the file, so a rerun adds nothing and two
identical records (a user opening a chart twice in the same second) both load."""

from __future__ import annotations

import csv
import re
import hashlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

from auditor.errors import InputError
from auditor.ingest.csv_source import MAX_RECORD_BYTES
from auditor.ingest.formats import ChunkBuilder, EventChunk, MappedEvent, Unmappable, instant_us
from auditor.ingest.formats.mapping_file import ORGANISATION, FieldMapping, VendorMapping

MAX_FIELD = 1 << 16  # characters in one value: a break-the-glass reason, not a document
# characters csv reads into one value before it gives up: past MAX_FIELD a record is refused whole, its
# end found where its quotes close; past this, its quotes never closed, and no later line can be told
# from the rest of its value (read on as records, they could load as events nobody made)
MAX_VALUE_READ = MAX_RECORD_BYTES  # 16 MiB, the interchange export's bound on a record
KEPT_OF_THE_REST = 1 << 20  # characters of an unreadable rest of a file kept in quarantine
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # a byte the encoding could not decode (surrogateescape)


class VendorExtract:
    """The reader of the extracts `mapping` describes."""

    def __init__(self, mapping: VendorMapping) -> None:
        self.mapping = mapping
        self.name, self.title = mapping.name, mapping.title

    def files(self, path: Path) -> list[Path]:
        suffixes = self.mapping.suffixes
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise InputError(f"{path} holds no {self.name} extract ({', '.join(suffixes)})")
        elif path.is_file():
            if path.suffix.lower() not in suffixes:
                raise InputError(f"{path.name}: a {self.name} extract ends in {', '.join(suffixes)}")
            found = [path]
        else:
            raise InputError(f"{path} is not a file or a folder")
        for file in found:
            self._header(file)  # a file of another shape: refused before anything is loaded
        return found

    def chunks(self, file: Path, zone: ZoneInfo) -> Iterator[EventChunk]:
        mapping = RecordMapping(self.mapping, zone)
        builder = ChunkBuilder(file.name)
        seen: Counter = Counter()
        _allow_long_fields()
        yielded = False
        with self._open(file) as handle:
            lines = _Lines(handle)
            records = csv.reader(lines, delimiter=self.mapping.delimiter, strict=True)
            header = [h.strip() for h in next(records, [])]
            lines.take()
            where = {name: header.index(name) for name in self.mapping.columns() if name in header}
            while True:
                try:
                    row = next(records)
                except StopIteration:
                    break
                except csv.Error as exc:  # its text is kept in quarantine, as read
                    line, raw = lines.take()
                    if "field larger than field limit" in str(exc):  # the rest of the file is one refused record
                        builder.reject(line, f"a value over {MAX_VALUE_READ >> 20} MiB: a quoted value never closed? "
                                             "The rest of the file, from this line, is not read", self._escaped(
                                                 raw[:KEPT_OF_THE_REST]))
                        break
                    builder.reject(line, f"not a readable record ({_csv_problem(exc)})", self._escaped(raw))
                    continue
                line, raw = lines.take()
                if _UNDECODABLE.search(raw):
                    builder.reject(line, f"bytes not readable as {self.mapping.encoding}", self._escaped(raw))
                elif any(v.strip() for v in row):  # a blank line is no record
                    self._add(builder, mapping, row, where, line, raw, seen)
                if builder.full():
                    yielded = True
                    yield builder.take()
        if builder.records or not yielded:  # a file of a header only is counted too
            yield builder.take()

    def _add(self, builder: ChunkBuilder, mapping: "RecordMapping", row: list[str], where: dict[str, int],
             line: int, raw: str, seen: Counter) -> None:
        if len(row) <= max(where.values()):
            builder.reject(line, f"{len(row)} values: too few for the columns the mapping reads", raw)
            return
        if any(len(v) > MAX_FIELD for v in row):
            builder.reject(line, f"a value over {MAX_FIELD:,} characters", raw)
            return
        digest = hashlib.sha256(raw.encode("utf-8")).digest()
        key = int.from_bytes(digest[:8], "big")  # not the record itself: a big extract's rows stay on disk
        occurrence = seen[key]
        seen[key] += 1
        try:
            event = mapping.event({name: row[i] for name, i in where.items()}, digest, occurrence, builder.unmapped)
        except Unmappable as refused:
            builder.reject(line, str(refused), raw)
            return
        builder.add(event, line, raw)

    def _escaped(self, raw: str) -> str:
        """`raw` with the bytes its encoding could not decode written as \\xNN, for quarantine."""
        encoding = self.mapping.encoding
        return raw.encode(encoding, "surrogateescape").decode(encoding, "backslashreplace")

    def _open(self, file: Path):
        return open(file, encoding=self.mapping.encoding, errors="surrogateescape", newline="")

    def _header(self, file: Path) -> list[str]:
        _allow_long_fields()
        try:
            with self._open(file) as handle:
                header = next(csv.reader(handle, delimiter=self.mapping.delimiter), [])
        except (OSError, csv.Error) as exc:
            raise InputError(f"{file.name}: cannot read its header ({exc.__class__.__name__})") from None
        header = [h.strip() for h in header]
        missing = [c for c in self.mapping.columns(required=True) if c not in header]
        if missing:
            raise InputError(f"{file.name}: no column {', '.join(missing)} in its header, which the mapping "
                             f"{self.name} reads: another extract, or another version of it (auditor formats check "
                             f"{self.name} says what it reads)")
        return header


class RecordMapping:
    """One record's values (by column) to a MappedEvent, as `mapping` says."""

    def __init__(self, mapping: VendorMapping, zone: ZoneInfo) -> None:
        self.fields = mapping.fields
        time = mapping.fields["time"]
        self.zone = zone if time.zone == ORGANISATION else ZoneInfo(time.zone)

    def event(self, values: dict[str, str], digest: bytes, occurrence: int, unmapped: Counter) -> MappedEvent:
        """The event of one record (`digest`: of its text; `occurrence`: how many times the same text
        came before it in its file)."""
        user = self._text("user_id", values)
        if user is None:
            raise Unmappable("no user (the mapping's user_id is empty)")
        at_us = self._time(values)
        action = self._coded("action", values, unmapped)
        if action is None:
            raise Unmappable("an action code the mapping does not name")
        glass = self._coded("break_glass", values, unmapped)
        reason = self._text("reason", values)
        if reason is not None and self.fields["reason"].when == "break_glass" and not glass:
            reason = None
        event_id = self._text("event_id", values)
        if event_id is None:
            event_id = "sha256:" + hashlib.sha256(digest + occurrence.to_bytes(8, "big")).hexdigest()[:32]
        return MappedEvent(event_id=event_id, at_us=at_us, user_id=user, action=action, mrn=self._text("mrn", values),
                           record_type=self._coded("record_type", values, unmapped),
                           outcome=self._coded("outcome", values, unmapped) or "success",
                           purpose=self._purpose(values, unmapped), break_glass=bool(glass), reason=reason,
                           workstation=self._text("workstation", values), row_hash=digest)

    def _text(self, name: str, values: dict[str, str]) -> str | None:
        mapped = self.fields.get(name)
        if mapped is None:
            return None
        if not mapped.columns:
            return mapped.value  # type: ignore[return-value]
        parts = [values.get(c, "").strip() for c in mapped.columns]
        if not any(parts):
            return None
        return "|".join(parts) if len(parts) > 1 else parts[0]

    def _coded(self, name: str, values: dict[str, str], unmapped: Counter):
        mapped = self.fields.get(name)
        if mapped is None:
            return None
        if not mapped.columns:
            return mapped.value
        codes = [values.get(column, "").strip() for column in mapped.columns]
        found = _decode(mapped, codes)
        if found is None and name != "action" and any(codes):
            unmapped[f"a {name.replace('_', '-')} code the mapping does not name (left out)"] += 1
        return found

    def _purpose(self, values: dict[str, str], unmapped: Counter) -> str | None:
        mapped = self.fields.get("purpose")
        if mapped is None or not mapped.coded:
            return self._text("purpose", values)
        return self._coded("purpose", values, unmapped)

    def _time(self, values: dict[str, str]) -> int:
        mapped = self.fields["time"]
        text = values[mapped.columns[0]].strip()
        if not text:
            raise Unmappable("no time (the mapping's time column is empty)")
        for shape in mapped.formats:
            at = instant_us(text, self.zone) if shape == "iso" else _strptime_us(text, shape, self.zone)
            if at is not None:
                return at
        raise Unmappable(f"a time none of the mapping's {len(mapped.formats)} format(s) reads")


def _allow_long_fields() -> None:
    """Let csv read a value up to MAX_VALUE_READ, so that one over MAX_FIELD is refused by its record, with
    its line, and the next record starts where that one ends."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_VALUE_READ))


def _decode(mapped: FieldMapping, codes: list[str]):
    """The contract's value of a vendor's codes (one a column, in the mapping's order): of the first
    code the mapping names, by its exact code, else by the first substring it contains; else the
    mapping's `otherwise` (None when there is none)."""
    for code in codes:
        folded = code.casefold()
        if folded in mapped.codes:
            return mapped.codes[folded]
        for text, value in mapped.contains:
            if text in folded:
                return value
    return mapped.otherwise


def _strptime_us(text: str, shape: str, zone: ZoneInfo) -> int | None:
    try:
        moment = datetime.strptime(text, shape)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return (moment - _EPOCH) // timedelta(microseconds=1)


class _Lines:
    """The file's lines as csv reads them, keeping those of the record being read: its text as written
    (kept in quarantine when it is refused) and the number of its first line."""

    def __init__(self, handle) -> None:
        self.handle, self.taken, self.next_line = handle, [], 1

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        text = next(self.handle)
        self.taken.append(text)
        return text

    def take(self) -> tuple[int, str]:
        """(first line, text) of the lines read since the last take."""
        line, text = self.next_line, "".join(self.taken)
        self.next_line += len(self.taken)
        self.taken = []
        return line, text.rstrip("\r\n")


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    return text if len(text) < 80 and "'" not in text else "malformed quoting"
