"""An EHR's access log into the tamper-evident audit log. Mixed into AccessGateway; only the
`svc:import` service account may write it.

Each EHR access becomes one audit event with the EHR's source name and event id, the SHA-256 of the
row it came from, and the patient named by internal id (found through the MRN's blind index). An
event already in the log (same source and event id, same row hash) is skipped; one with the same id
but other content is reported as a conflict, never overwritten. Events go in batches, each one
transaction with its own `svc:import` event saying how many it appended.

A stream of chunks is written by a pipeline: while a writer thread commits one batch (the database
writes and syncs its pages outside the GIL), this thread maps, checks, hashes and packs the next one
for the log size that commit will leave. The next transaction takes that work only if the log has
that size and the batch's already-loaded events are the ones seen when it was prepared, and does it
again otherwise (another writer came between). One batch is in flight at most: a failed one stops
the stream before the next begins.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from auditor.audit.events import ImportedEvents
from auditor.audit.log import PreparedBlocks
from auditor.audit.schema import AuditEventRow, ImportedEventKey
from auditor.database import read_snapshot
from auditor.errors import StorageError
from auditor.vault.gateway.context import AccessContext, export_source
from auditor.vault.gateway.lookups import IngestLookups
from auditor.vault.records import WorkforceMember

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway.core import AccessGateway

C = TypeVar("C")
EHR_EVENT_COLUMNS = ("event_id", "at_us", "user_id", "mrn", "action", "record_type", "outcome", "purpose",
                     "break_glass", "reason", "workstation", "row_hash")


@dataclass
class EhrAppend:
    appended: int = 0
    already_present: int = 0
    unknown_account: int = 0  # appended events by accounts not in the workforce (kept: that is what auditing must see)
    unknown_patient: list[int] = field(default_factory=list)  # positions whose MRN names no patient (not appended)
    conflicting: list[int] = field(default_factory=list)  # positions whose event id is loaded with other content


@dataclass(frozen=True)
class _Batch:
    """One transaction's events (`frame`: the EHR columns, patient_id, role, position) and what was
    prepared for it before its transaction: the events already loaded then, the rest as audit events,
    and their blocks packed for a log of `size` events."""

    frame: pa.Table
    loaded: dict[str, bytes]
    split: _Split
    imported: ImportedEvents | None
    prepared: PreparedBlocks | None
    size: int

    @property
    def new(self) -> pa.Table:
        return self.split.new

    @property
    def size_after(self) -> int:
        """The log's size once this batch commits (its events and its own `svc:import` event)."""
        return self.size + (self.new.num_rows + 1 if self.new.num_rows else 0)


class EhrLogWriting:
    def known_patients(self: "AccessGateway", mrns: Iterable[str]) -> dict[str, int]:
        """Internal ids of the patients with these MRNs (blind-index lookup); unknown MRNs are absent."""
        with _snapshot(self.records) as session:
            return self.patient_ids(session, sorted(set(mrns)))

    def workforce_roles(self: "AccessGateway") -> dict[str, str]:
        """Every workforce account's role, by user id (no PHI: both are clear columns)."""
        with _snapshot(self.records) as session:
            return dict(session.execute(select(WorkforceMember.user_id, WorkforceMember.role)).all())

    def workforce_roles_of(self: "AccessGateway", user_ids: Iterable[str]) -> dict[str, str]:
        """The roles of these workforce accounts, by user id (accounts not in the workforce are absent)."""
        wanted, found = sorted(set(user_ids)), {}
        with _snapshot(self.records) as session:
            for i in range(0, len(wanted), 900):
                found.update(session.execute(select(WorkforceMember.user_id, WorkforceMember.role)
                                             .where(WorkforceMember.user_id.in_(wanted[i : i + 900]))).all())
        return found

    def append_ehr_events(self: "AccessGateway", ctx: AccessContext, source: str, events: pa.Table,
                          batch: int = 5000, lookups: IngestLookups | None = None) -> EhrAppend:
        """Append `events` (EHR_EVENT_COLUMNS as an Arrow table; at_us in UTC microseconds) to the audit
        log, `batch` events a transaction."""
        ((_, result),) = self.append_ehr_chunks(ctx, source, [events], lambda table: table, batch, lookups)
        return result

    def append_ehr_chunks(self: "AccessGateway", ctx: AccessContext, source: str, chunks: Iterable[C],
                          events_of: Callable[[C], pa.Table], batch: int = 100_000,
                          lookups: IngestLookups | None = None) -> Iterator[tuple[C, EhrAppend]]:
        """Append each chunk's events (`events_of(chunk)`, as append_ehr_events takes them) and yield
        (chunk, what was appended) once all of its batches are committed, in order, through the
        pipeline described above. `lookups` keeps each MRN's patient and each account's role once
        looked up (one set for a whole file)."""
        source = export_source(source)
        lookups = lookups or IngestLookups()
        finished: deque[tuple[C, EhrAppend, list[Future]]] = deque()
        size: int | None = None
        running: Future | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-log-writer") as writer:
            for chunk in chunks:
                result, frame = self._ehr_frame(events_of(chunk), lookups)
                submitted = []
                for start in range(0, frame.num_rows, batch):
                    if size is None:
                        size = self._log_size()
                    part = self._prepare_ehr_batch(source, frame.slice(start, batch), size)
                    if running is not None:
                        running.result()  # the batch before: committed, or its failure raised here
                    running = writer.submit(self._append_ehr_batch, ctx, source, part, result)
                    submitted.append(running)
                    size = part.size_after
                finished.append((chunk, result, submitted))
                while finished and all(f.done() for f in finished[0][2]):
                    yield _done(finished.popleft())
            while finished:
                yield _done(finished.popleft())

    def _log_size(self: "AccessGateway") -> int:
        with self.records.connect() as conn:
            return self.audit_log.size(read_snapshot(conn))

    def _ehr_frame(self: "AccessGateway", events: pa.Table, lookups: IngestLookups) -> tuple[EhrAppend, pa.Table]:
        """The events with their patient (by MRN), role (by account) and position, without those whose
        MRN names no patient (listed in the result)."""
        result = EhrAppend()
        mrns = events["mrn"]
        patient_id = lookups.patients.mapped(mrns, self.known_patients)
        unknown = pc.and_(pc.is_valid(mrns), pc.is_null(patient_id)).to_numpy(zero_copy_only=False)
        result.unknown_patient = np.flatnonzero(unknown).tolist()
        frame = events.append_column("patient_id", patient_id).append_column(
            "role", lookups.roles.mapped(events["user_id"], self.workforce_roles_of)).append_column(
            "position", pa.array(np.arange(events.num_rows)))
        return result, frame.filter(pa.array(~unknown)) if unknown.any() else frame

    def _prepare_ehr_batch(self: "AccessGateway", source: str, frame: pa.Table, size: int) -> _Batch:
        """What can be done before the batch's transaction, for a log of `size` events."""
        with _snapshot(self.records) as session:
            loaded = _loaded_hashes(session, source, frame["event_id"])
        split = _Split.of(frame, loaded)
        imported = _ehr_events(source, split.new) if split.new.num_rows else None
        prepared = self.audit_log.prepare(imported, size, self.records.dialect) if imported else None
        return _Batch(frame, loaded, split, imported, prepared, size)

    def _append_ehr_batch(self: "AccessGateway", ctx: AccessContext, source: str, part: _Batch,
                          result: EhrAppend) -> None:
        def work(session: Session, events: list) -> None:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            # keys are never deleted (archiving keeps them), so only the ids the snapshot did not
            # find can have been loaded since: a rerun's batch is not looked up a second time
            meanwhile = _loaded_hashes(session, source, part.new["event_id"])
            split, imported = part.split, part.imported
            if meanwhile:  # loaded meanwhile: what was prepared is not what goes in
                split = _Split.of(part.frame, {**part.loaded, **meanwhile})
                imported = _ehr_events(source, split.new) if split.new.num_rows else None
            new = split.new
            result.already_present += split.already_present
            result.conflicting += split.conflicting
            if imported is not None:
                events.append(imported)
                events.append(self._event(ctx, writer, "create", at, record_type="access_log",
                                          detail=f"appended {new.num_rows} access events from source {source}"))
            result.appended += new.num_rows
            result.unknown_account += new["role"].null_count

        self._audited(work, prepared=part.prepared)


def _done(item: tuple[C, EhrAppend, list[Future]]) -> tuple[C, EhrAppend]:
    chunk, result, batches = item
    for batch in batches:
        batch.result()
    return chunk, result


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Session]:
    """A session reading one snapshot that blocks no writer (not SQLite's write lock, which the
    pipeline's writer thread may hold)."""
    try:
        with engine.connect() as conn:
            read_snapshot(conn)
            with Session(bind=conn) as session:
                yield session
    except SQLAlchemyError as exc:  # as the audited transaction says it (no SQL, no ids in the message)
        raise StorageError(f"the database refused a read ({type(exc).__name__}); nothing changed") from None


@dataclass(frozen=True)
class _Split:
    """A batch against the events of its source already in the log, and against itself: an event id
    repeated in the batch is its first row's, as if that row had been loaded just before (a file, a
    feed or a vendor's extract may repeat a row; the database would refuse the second key and with it
    the whole batch)."""

    new: pa.Table  # not loaded yet
    already_present: int = 0  # loaded (or earlier in the batch) with the same row hash
    conflicting: list[int] = field(default_factory=list)  # positions loaded (or earlier) with another row hash

    @classmethod
    def of(cls, frame: pa.Table, loaded: dict[str, bytes]) -> "_Split":
        event_ids = frame["event_id"]
        if not loaded and pc.count_distinct(event_ids).as_py() == frame.num_rows - event_ids.null_count:
            return cls(frame)  # the usual batch: no id loaded, none repeated
        ids, hashes = event_ids.to_pylist(), frame["row_hash"].to_pylist()
        known = dict(loaded)
        present = np.zeros(frame.num_rows, dtype=bool)
        same = np.zeros(frame.num_rows, dtype=bool)
        for at, (event_id, row_hash) in enumerate(zip(ids, hashes)):
            if event_id is None:
                continue
            before = known.get(event_id)  # loaded, or a row before it in the batch
            if before is None:
                known[event_id] = row_hash
            else:
                present[at], same[at] = True, before == row_hash
        return cls(frame.filter(pa.array(~present)), int(same.sum()),
                   pc.filter(frame["position"], pa.array(present & ~same)).to_pylist())


def _loaded_hashes(session: Session, source: str, event_ids: pa.ChunkedArray | pa.Array) -> dict[str, bytes]:
    """Row hashes of the events of `source` already in the log among `event_ids`: the keys of those
    stored in blocks, and (in a vault older than blocks) those stored as rows."""
    if not len(event_ids):
        return {}
    span = pc.min_max(event_ids).as_py()
    found = {}
    for table in (ImportedEventKey, AuditEventRow):
        found.update(_hashes_in(session, table, source, event_ids, span["min"], span["max"]))
    return found


def _hashes_in(session: Session, E, source: str, event_ids, low: str, high: str) -> dict[str, bytes]:
    """An export in event-id order (the usual case) is answered by one range scan of the (source,
    event id) index, most often empty; when the range holds many other events the ids are looked up
    in lists instead."""
    limit = 2 * len(event_ids) + 1
    ranged = session.execute(select(E.source_event_id, E.source_row_hash).where(
        E.source == source, E.source_event_id.between(low, high)).limit(limit)).all()
    if not ranged:
        return {}
    wanted = set(event_ids.to_pylist())
    if len(ranged) < limit:
        return {eid: bytes(h) if h is not None else b"" for eid, h in ranged if eid in wanted}
    found, ids = {}, sorted(wanted)
    for i in range(0, len(ids), 900):
        found.update((eid, bytes(h) if h is not None else b"") for eid, h in session.execute(
            select(E.source_event_id, E.source_row_hash)
            .where(E.source == source, E.source_event_id.in_(ids[i : i + 900]))))
    return found


def _ehr_events(source: str, frame: pa.Table) -> ImportedEvents:
    """The rows as one block of audit events, column by column (no object per row: the log hashes
    them as it appends)."""
    return ImportedEvents.of_columns(
        at_us=frame["at_us"], source=source, source_event_id=frame["event_id"], source_row_hash=frame["row_hash"],
        user_id=frame["user_id"], role=frame["role"], action=frame["action"], patient_id=frame["patient_id"],
        record_type=frame["record_type"], purpose=frame["purpose"], break_glass=frame["break_glass"],
        reason=frame["reason"], outcome=frame["outcome"], workstation=frame["workstation"])
