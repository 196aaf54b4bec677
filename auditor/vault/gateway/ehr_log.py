"""An EHR's access log into the tamper-evident audit log, and interchange rows into quarantine.
Mixed into AccessGateway; only the `svc:import` service account may write either.

Each EHR access becomes one AuditEvent with the EHR's source name and event id, the SHA-256 of the
row it came from, and the patient named by internal id (found through the MRN's blind index). An
event already in the log (same source and event id, same row hash) is skipped; one with the same id
but other content is reported as a conflict, never overwritten. Events go in batches, each one
transaction with its own `svc:import` event saying how many it appended.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent, ImportedEvents
from auditor.audit.schema import AuditEventRow, ImportedEventKey
from auditor.crypto.envelope import new_key_id
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.lookups import IngestLookups
from auditor.vault.records import IngestRun, QuarantinedRow, WorkforceMember

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway.core import AccessGateway

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
class QuarantineEntry:
    file: str
    line: int
    reason: str  # never a value from the row
    raw_row: str  # the row as read; sealed before it is stored


class EhrLogWriting:
    def known_patients(self: "AccessGateway", mrns: Iterable[str]) -> dict[str, int]:
        """Internal ids of the patients with these MRNs (blind-index lookup); unknown MRNs are absent."""
        with Session(self.records) as session:
            return self.patient_ids(session, sorted(set(mrns)))

    def workforce_roles(self: "AccessGateway") -> dict[str, str]:
        """Every workforce account's role, by user id (no PHI: both are clear columns)."""
        with Session(self.records) as session:
            return dict(session.execute(select(WorkforceMember.user_id, WorkforceMember.role)).all())

    def workforce_roles_of(self: "AccessGateway", user_ids: Iterable[str]) -> dict[str, str]:
        """The roles of these workforce accounts, by user id (accounts not in the workforce are absent)."""
        wanted, found = sorted(set(user_ids)), {}
        with Session(self.records) as session:
            for i in range(0, len(wanted), 900):
                found.update(session.execute(select(WorkforceMember.user_id, WorkforceMember.role)
                                             .where(WorkforceMember.user_id.in_(wanted[i : i + 900]))).all())
        return found

    def append_ehr_events(self: "AccessGateway", ctx: AccessContext, source: str, events: pa.Table,
                          batch: int = 5000, lookups: IngestLookups | None = None) -> EhrAppend:
        """Append `events` (EHR_EVENT_COLUMNS as an Arrow table; at_us in UTC microseconds) to the audit
        log. `lookups` keeps the MRNs and user ids looked up so far (reused across the calls for one
        file, each MRN's blind index and each account's role is looked up once)."""
        result = EhrAppend()
        lookups = lookups or IngestLookups()
        mrns = events["mrn"]
        patient_id = lookups.patients.mapped(mrns, self.known_patients)
        unknown = pc.and_(pc.is_valid(mrns), pc.is_null(patient_id)).to_numpy(zero_copy_only=False)
        result.unknown_patient = np.flatnonzero(unknown).tolist()
        frame = events.append_column("patient_id", patient_id).append_column(
            "role", lookups.roles.mapped(events["user_id"], self.workforce_roles_of)).append_column(
            "position", pa.array(np.arange(events.num_rows)))
        if unknown.any():
            frame = frame.filter(pa.array(~unknown))
        for start in range(0, frame.num_rows, batch):
            self._append_ehr_batch(ctx, source, frame.slice(start, batch), result)
        return result

    def _append_ehr_batch(self: "AccessGateway", ctx: AccessContext, source: str, frame: pa.Table,
                          result: EhrAppend) -> None:
        def work(session: Session, events: list[AuditEvent]) -> None:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            event_ids = frame["event_id"]
            loaded = _loaded_hashes(session, source, event_ids)
            new = frame
            if loaded:
                ids, hashes = event_ids.to_pylist(), frame["row_hash"].to_pylist()
                present = np.array([i in loaded for i in ids], dtype=bool)
                same = np.array([loaded.get(i) == h for i, h in zip(ids, hashes)], dtype=bool)
                result.already_present += int(same.sum())
                result.conflicting += pc.filter(frame["position"], pa.array(present & ~same)).to_pylist()
                new = frame.filter(pa.array(~present))
            if new.num_rows:
                events.append(_ehr_events(source, new))
                events.append(self._event(ctx, writer, "create", at, record_type="access_log",
                                          detail=f"appended {new.num_rows} access events from source {source}"))
            result.appended += new.num_rows
            result.unknown_account += new["role"].null_count

        self._audited(work)

    # -- ingest runs and quarantine ----------------------------------------------------------------------
    def start_ingest_run(self: "AccessGateway", source: str, time_zone: str) -> int:
        run = IngestRun(source=source, time_zone=time_zone, started_at=self.clock.now())
        with Session(self.records) as session, session.begin():
            session.add(run)
            session.flush()
            return run.id

    def finish_ingest_run(self: "AccessGateway", run_id: int, summary: dict) -> None:
        with Session(self.records) as session, session.begin():
            session.execute(update(IngestRun).where(IngestRun.id == run_id)
                            .values(finished_at=self.clock.now(), summary=json.dumps(summary, sort_keys=True)))

    def quarantine_rows(self: "AccessGateway", ctx: AccessContext, run_id: int, source: str,
                        entries: list[QuarantineEntry]) -> int:
        """Keep rows that could not be read, sealed under the run's data key; a row already kept
        (same source, file, line and content) is not kept twice. Returns how many were new."""

        def work(session: Session, events: list[AuditEvent]) -> int:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            digests = {(e.file, e.line, self.indexer.quarantined_row(e.raw_row)): e for e in entries}
            kept = set()
            for file in {e.file for e in entries}:
                kept |= set(session.execute(select(QuarantinedRow.file, QuarantinedRow.line, QuarantinedRow.row_digest)
                                            .where(QuarantinedRow.source == source, QuarantinedRow.file == file)).all())
            new = {k: e for k, e in digests.items() if k not in kept}
            if not new:
                return 0
            key_id = self._quarantine_key(session, run_id)
            rows = []
            for (file, line, digest), e in new.items():
                row_id = new_key_id()
                rows.append({"id": row_id, "run_id": run_id, "source": source, "file": file, "line": line,
                             "reason": e.reason[:512], "row_digest": digest,
                             "raw_row": self.envelope.seal(key_id, "quarantine", "raw_row", row_id, e.raw_row)})
            session.execute(insert(QuarantinedRow), rows)
            events.append(self._event(ctx, writer, "create", at, record_type="quarantine",
                                      detail=f"{len(rows)} unreadable rows from source {source} kept in quarantine"))
            return len(rows)

        return self._audited(work)

    def _quarantine_key(self: "AccessGateway", session: Session, run_id: int) -> int:
        key_id = session.scalar(select(IngestRun.quarantine_key_id).where(IngestRun.id == run_id))
        if key_id is None:
            key_id = self.envelope.create_key("quarantine")
            session.execute(update(IngestRun).where(IngestRun.id == run_id).values(quarantine_key_id=key_id))
        return key_id


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
