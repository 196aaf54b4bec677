"""The quarantine, as `auditor ingest --rejected` lists it: where each unreadable row was and why.
Only clear columns are read; the rows themselves stay sealed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from auditor.vault.records import IngestRun, QuarantinedRow


@dataclass(frozen=True)
class Rejection:
    file: str
    line: int
    reason: str
    source: str
    run_id: int
    run_started_at: datetime

    def __str__(self) -> str:
        return (f"{self.file}:{self.line}: {self.reason}  "
                f"[source {self.source}, ingest run {self.run_id} of {self.run_started_at:%Y-%m-%d %H:%M} UTC]")


def rejections(engine: Engine, source: str | None = None) -> list[Rejection]:
    query = (select(QuarantinedRow.file, QuarantinedRow.line, QuarantinedRow.reason, QuarantinedRow.source,
                    QuarantinedRow.run_id, IngestRun.started_at)
             .join(IngestRun, IngestRun.id == QuarantinedRow.run_id)
             .order_by(QuarantinedRow.run_id, QuarantinedRow.source, QuarantinedRow.file, QuarantinedRow.line))
    if source is not None:
        query = query.where(QuarantinedRow.source == source)
    with engine.connect() as conn:
        return [Rejection(*row) for row in conn.execute(query)]
