"""FHIR AuditEvent, R4 and R5: NDJSON (a bulk export: one resource a line), Bundles and single
resources, in JSON or XML, mapped as the IHE Basic Audit Log Patterns (BALP) write them.

| contract field | FHIR R4 | FHIR R5 |
|---|---|---|
| event_id | the extension `urn:auditor:fhir:source-event-id` (an auditor's export), else `id` (none: `sha256:` and the digest of the resource) | same |
| timestamp | `recorded` (then `period.start`) | `recorded` (then `occurredDateTime`, `occurredPeriod.start`) |
| user_id | the requestor agent's `who.identifier.value`, else the id its `who.reference` names (a requestor typed DICOM Application 110150 is an application's work: quarantined); its `name`, `who.display` and `role` are not kept, and counted | same |
| mrn | the entity whose role is Patient (object-role 1) or whose `what` is a Patient: its identifier's value (an HL7 CX: the part before `^`), else the reference's id | `patient`, then as R4 |
| action | see `action_of`: restful read/vread/history: view, search: search, create, update/patch, delete; DICOM Query 110112: search, Export 110106: export (disclose with a `Disclosure` / `disclose` subtype), Import 110107: create; a failed User Authentication 110114: login_failed; a `print` code: print; otherwise the action code C/R/U/D | same, from `category` and `code` |
| record_type | an entity's sensitivity label (v3 ActCode PSYTHPN, PSY: psychotherapy_note; ETH, SUD: substance_use; HIV; GDIS: genetic), else the other entities' resource types (`RECORD_TYPES`; another type: other); only the patient: demographics | same |
| outcome | `outcome` 0: success; 4, 8, 12: denied | `outcome.code` |
| purpose_of_use | `purposeOfEvent`, then the requestor's `purposeOfUse` (v3 ActReason / PurposeOfUse codes) | `authorization`, then the requestor's `authorization` |
| break_glass | a purpose BTG, or a DICOM Security Alert (110113) with subtype Emergency Override Started (110127) | same |
| reason | with break-the-glass: the text of the BTG purpose | same |
| workstation | the requestor's `network.address` (else the first agent's) | `networkString` |

BALP says a consumer shall not reject an event that does not conform: what can be mapped is, and what
could not be is counted (the ingest's warnings name it). An event is quarantined only when it names no
user, no time or no action the contract records (a successful sign-in, an application start), or
cannot be read (not JSON or XML, not an AuditEvent, too big, nested past orjson's 1,024 levels), with its place (NDJSON
line, Bundle entry) and a reason that quotes no value of it. XML is read with entities, DTDs and
external references refused (as defusedxml refuses them), documents up to MAX_DOCUMENT bytes and NDJSON lines up to
MAX_LINE bytes."""

from __future__ import annotations

import gc
import os
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from itertools import accumulate, chain, islice
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import pyarrow as pa

from auditor.errors import InputError
from auditor.ingest.formats import ChunkBuilder, EventChunk, MappedEvent, SizeLimit, Unmappable, size_limits
from auditor.ingest.formats.fhir_fast import fast_event, fast_row
from auditor.ingest.formats.fhir_mapping import map_event
from auditor.ingest.formats.fhir_records import READ_BYTES, bounded_lines, ndjson_lines, records_of
from auditor.workers import submitted_meanwhile, worker_context

SUFFIXES = (".ndjson", ".json", ".xml")
MAX_LINE = 1 << 20  # an NDJSON line (one resource)
MAX_DOCUMENT = 64 << 20  # a JSON or XML document (a resource or a Bundle)

class FhirAuditEvents:
    name = "fhir"
    title = "FHIR AuditEvent, R4 and R5: NDJSON, Bundles or resources, JSON or XML"

    def __init__(self, max_line: int = MAX_LINE, max_document: int = MAX_DOCUMENT,
                 parallel_from: int | None = None, range_bytes: int | None = None) -> None:
        self.max_line, self.max_document = max_line, max_document
        self.parallel_from = PARALLEL_FROM_BYTES if parallel_from is None else parallel_from
        self.range_bytes = RANGE_BYTES if range_bytes is None else range_bytes

    def files(self, path: Path) -> list[Path]:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not found:
                raise InputError(f"{path} holds no FHIR file (.ndjson, .json or .xml)")
            return found
        if not path.is_file():
            raise InputError(f"{path} is not a file or a folder")
        if path.suffix.lower() not in SUFFIXES:
            raise InputError(f"{path.name}: a FHIR file ends in .ndjson, .json or .xml")
        return [path]

    def chunks(self, file: Path, zone: ZoneInfo) -> Iterator[EventChunk]:
        if file.suffix.lower() == ".ndjson" and file.stat().st_size >= self.parallel_from:
            yield from _mapped_in_workers(file, zone, self.max_line, self.range_bytes)
            return
        builder = ChunkBuilder(file.name)
        yield from _mapped(builder, records_of(file, self.max_line, self.max_document, _shortcut(builder, zone)), zone)


def _shortcut(builder: ChunkBuilder, zone: ZoneInfo) -> Callable[[bytes], MappedEvent | None]:
    """The usual AuditEvent on an NDJSON line, mapped without parsing it whole (fhir_fast)."""
    return lambda line: fast_event(line, zone, builder.unmapped)


def _mapped(builder: ChunkBuilder, records, zone: ZoneInfo) -> Iterator[EventChunk]:
    """`records` (place, resource or event mapped already, problem, raw) into chunks."""
    yield from _mapped_into(builder, records, zone)
    if builder.records:
        yield builder.take()


def _mapped_into(builder: ChunkBuilder, records, zone: ZoneInfo) -> Iterator[EventChunk]:
    """`records` into `builder`, each chunk it fills."""
    for line, resource, problem, raw in records:
        if problem is not None:
            builder.reject(line, problem, raw)
        else:
            try:
                event = resource if isinstance(resource, MappedEvent) else map_event(resource, zone, builder.unmapped, raw)
                builder.add(event, line, raw)
            except Unmappable as refused:
                builder.reject(line, str(refused), raw)
        if builder.full():
            yield builder.take()


# -- a big NDJSON file: mapped by worker processes, a range of lines each, while this one appends -------

PARALLEL_FROM_BYTES = 8 << 20  # below this, starting the workers costs more than they save
RANGE_BYTES = 4 << 20  # about 3,500 AuditEvents
WORKERS = max(1, min(8, len(os.sched_getaffinity(0))))  # the cores this process may use
WORKER_NICENESS = 10  # see _behind_the_appender
AHEAD = 32  # ranges mapped ahead of the one being appended: the workers go on while a merged chunk is
MERGED_EVENTS = 20_000  # events of a merged chunk at most


def _behind_the_appender() -> None:
    """A worker runs at a lower priority than the process that appends: every event waits for that one
    step, and the workers keep ahead of it anyway. On two cores, three processes sharing them equally
    left the appending process two thirds of a core and a core idle at the end, while it appended what
    the workers had mapped ahead (the bench's 300,000 events: 2.1-2.3 s, 2.0 s behind it)."""
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)


def _ranges(file: Path, range_bytes: int) -> Iterator[tuple[int, int]]:
    """(start, end) of ranges of whole lines, about `range_bytes` each (a line longer than that is read
    a mebibyte at a time, never whole). Their lines are counted by the workers, not here."""
    size, start = file.stat().st_size, 0
    with open(file, "rb") as f:
        while start < size:
            end = min(start + range_bytes, size)
            f.seek(end)
            while end < size:  # on to the end of the line the cut fell in
                rest = f.readline(READ_BYTES)
                end += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield start, end
            start = end


def _map_range(path: str, start: int, end: int, zone: ZoneInfo, max_line: int,
               limits: tuple[SizeLimit, ...]) -> tuple[list[EventChunk], int]:
    """In a worker: the range's lines mapped (no database, no key: only the file), numbered from 1
    within the range, and how many lines it has. Each chunk's events go back with where their lines
    are (LineTexts), not their text: what crosses to the appending process is a tenth as big."""
    with open(path, "rb") as f:
        f.seek(start)
        lines = _whole_lines(f, end - start, max_line)
        if lines is not None:  # the usual range: read at once, each line's place by adding up lengths
            starts = list(accumulate(map((1).__add__, map(len, lines)), initial=start))
            numbered, count = enumerate(lines, start=1), len(lines)
            offset_of = lambda number: starts[number - 1]  # noqa: E731
        else:
            numbered, offsets = _placed(f, start, end, max_line)
            offset_of = offsets.__getitem__
        builder = ChunkBuilder(Path(path).name, limits)
        with _no_cyclic_gc():
            chunks = _mapped_lines(builder, numbered, zone, max_line)
    if lines is None:
        count = len(offsets)
    for chunk in chunks:
        chunk.raws = LineTexts(path, [offset_of(n) for n in chunk.lines], max_line)
        chunk.rejected = [e if e.raw_row else replace(e, raw_row=LineTexts(path, [offset_of(e.line)], max_line)[0])
                          for e in chunk.rejected]  # a line the shortcut took, then refused for a value's size
    return chunks, count


def _mapped_lines(builder: ChunkBuilder, numbered, zone: ZoneInfo, max_line: int) -> list[EventChunk]:
    """The chunks of (number, line) pairs, as _mapped(ndjson_lines(...)) makes them. The usual line (ASCII,
    so UTF-8 already, within the limit) goes straight to fhir_fast's row, its text never decoded (a
    worker's events go back with where their lines are, not their text); any other line, and any line
    the shortcut leaves, takes the general path alone."""
    chunks, unmapped, shortcut = [], builder.unmapped, _shortcut(builder, zone)
    for number, line in numbered:
        if len(line) <= max_line:
            text = line.rstrip(b"\r\n")
            if text.isascii():
                try:
                    row = fast_row(text, zone, unmapped)
                except Unmappable as refused:
                    builder.reject(number, str(refused), text.decode("ascii"))
                    row = _REFUSED
                if row is not None:
                    if row is not _REFUSED:
                        builder.add_row(row, number, "")
                    if builder.full():
                        chunks.append(builder.take())
                    continue
        chunks.extend(_mapped_into(builder, ndjson_lines([(number, line)], max_line, shortcut), zone))
    if builder.records:
        chunks.append(builder.take())
    return chunks


_REFUSED = ()  # a line the shortcut refused (already in the builder)


WHOLE_RANGE = 4 * RANGE_BYTES  # a range up to this size is read at once


def _whole_lines(f, size: int, max_line: int) -> list[bytes] | None:
    """The `size` bytes from where `f` is, as lines without their line ends; None when they are more
    than WHOLE_RANGE or a line is as long as `max_line` (then _placed reads them: what it refuses
    for its length, and what it keeps of it, is decided there alone)."""
    if size > WHOLE_RANGE:
        return None
    data = f.read(size)
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    if max(map(len, lines), default=0) >= max_line:
        f.seek(-len(data), os.SEEK_CUR)
        return None
    return lines


def _placed(f, start: int, end: int, max_line: int) -> tuple[Iterator[tuple[int, bytes]], dict[int, int]]:
    """The range's lines one at a time, numbered, and where each starts (filled in as they are read)."""
    offsets: dict[int, int] = {}

    def numbered() -> Iterator[tuple[int, bytes]]:
        at = start
        for number, line in enumerate(bounded_lines(f, max_line, end - start), start=1):
            offsets[number] = at
            at = f.tell()
            yield number, line

    return numbered(), offsets


class LineTexts:
    """The text of events' NDJSON lines, read from the file when asked (by the rare event the gateway
    refuses, to quarantine it): a line holding a Bundle gives the whole Bundle."""

    def __init__(self, path: str, offsets: list[int], max_line: int) -> None:
        self.path, self.offsets, self.max_line = path, offsets, max_line

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, position: int) -> str:
        with open(self.path, "rb") as f:
            f.seek(self.offsets[position])
            return f.readline(self.max_line + 1)[: self.max_line].decode("utf-8", "replace").rstrip("\r\n")


@contextmanager
def _no_cyclic_gc():
    """Parsed JSON holds no reference cycles: a worker's collector would only walk its events again and again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _mapped_in_workers(file: Path, zone: ZoneInfo, max_line: int, range_bytes: int) -> Iterator[EventChunk]:
    """The file's chunks in order, mapped by WORKERS processes (auditor.workers: they inherit no open
    connection or key), AHEAD ranges ahead of the caller; the ranges' chunks merged into chunks of about
    MERGED_EVENTS events, so the log takes them in a few transactions."""
    limits = size_limits()
    ranges = chain(_ranges(file, range_bytes), [(None, None)])
    pending: deque = deque()
    with ExitStack() as stack:
        pool = stack.enter_context(ProcessPoolExecutor(WORKERS, mp_context=worker_context(__name__),
                                                       initializer=_behind_the_appender))

        def submit(start: int, end: int) -> None:
            pending.append(pool.submit(_map_range, str(file), start, end, zone, max_line, limits))

        # the pool starts a worker at each of its first WORKERS submissions, the first once the fork server
        # has started: submitted by a thread, while this process maps the ranges after them (take)
        firsts = [(_map_range, (str(file), start, end, zone, max_line, limits))
                  for start, end in islice(ranges, WORKERS) if start is not None]
        pending.extend(stack.enter_context(submitted_meanwhile(pool, firsts)))
        starting = pending[0] if pending else None

        def take(start: int, end: int) -> None:
            nonlocal starting
            if starting is not None and not starting.done():  # the workers are still starting: this
                mapped = Future()  # process maps the next range meanwhile rather than wait idle
                mapped.set_result(_map_range(str(file), start, end, zone, max_line, limits))
                pending.append(mapped)
            else:
                starting = None
                submit(start, end)
        lines_before, held, first = 0, [], True

        def placed(future) -> Iterator[EventChunk]:
            nonlocal lines_before
            chunks, count = future.result()
            for chunk in chunks:
                chunk.lines = [lines_before + n for n in chunk.lines]
                chunk.rejected = [replace(e, line=lines_before + e.line) for e in chunk.rejected]
                yield chunk
            lines_before += count

        for start, end in chain(ranges, [(None, None)]):
            if start is not None:
                take(start, end)
            while len(pending) > (AHEAD if start is not None else 0):
                held.extend(placed(pending.popleft()))
                if held and (first or sum(c.events.num_rows for c in held) >= MERGED_EVENTS):
                    yield _merged(held)
                    held, first = [], False
        if held:
            yield _merged(held)


def _merged(chunks: list[EventChunk]) -> EventChunk:
    """One chunk of a file's consecutive chunks."""
    unmapped = Counter()
    for chunk in chunks:
        unmapped.update(chunk.unmapped)
    first = chunks[0]
    return EventChunk(first.file, pa.concat_tables([c.events for c in chunks]),
                      [n for c in chunks for n in c.lines],
                      LineTexts(first.raws.path, [o for c in chunks for o in c.raws.offsets], first.raws.max_line),
                      [e for c in chunks for e in c.rejected], unmapped, sum(c.records for c in chunks))
