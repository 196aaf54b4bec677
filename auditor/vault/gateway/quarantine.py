"""Ingest runs and the quarantine of interchange rows that could not be read. Mixed into
AccessGateway; only the `svc:import` service account may write them.

A quarantined row is kept as read, sealed under its run's data key (never in the clear, never in a
message), with its file, line and a reason that holds no value from the row.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.crypto.envelope import new_key_id
from auditor.vault.gateway.bulk import insert_rows
from auditor.vault.gateway.context import AccessContext, export_source
from auditor.vault.quarantine_entry import QuarantineEntry  # noqa: F401  (the gateway's name for it)
from auditor.vault.records import IngestRun, QuarantinedRow

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway.core import AccessGateway


class QuarantineWriting:
    def start_ingest_run(self: "AccessGateway", source: str, time_zone: str) -> int:
        run = IngestRun(source=export_source(source), time_zone=time_zone, started_at=self.clock.now())
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
            kept = set()  # of this batch's lines only: a file's earlier batches and runs are not read again
            for file in {e.file for e in entries}:
                lines = sorted({e.line for e in entries if e.file == file})
                for i in range(0, len(lines), 900):
                    kept |= set(session.execute(
                        select(QuarantinedRow.file, QuarantinedRow.line, QuarantinedRow.row_digest).where(
                            QuarantinedRow.source == source, QuarantinedRow.file == file,
                            QuarantinedRow.line.in_(lines[i : i + 900]))).all())
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
            insert_rows(session, QuarantinedRow, rows)
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
