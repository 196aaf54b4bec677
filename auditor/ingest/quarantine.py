"""The quarantine, as `auditor ingest --rejected` lists it: where each unreadable row was and why; and
the ingest runs of a period with what they quarantined, as a report's data completeness states it.
Only clear columns are read; the rows themselves stay sealed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

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


@dataclass(frozen=True)
class IngestRunEntry:
    id: int
    source: str
    started_at: datetime
    summary: str | None  # the run's counts per file, as JSON


@dataclass(frozen=True)
class IngestRuns:
    """The ingest runs that started in a stretch of time and the rows they quarantined, by file and
    reason (for a report's data completeness: the rows themselves stay sealed)."""

    runs: list[IngestRunEntry]
    quarantined: int
    reasons: list[tuple[str, str, int]]  # (file, reason, rows), most rows first


def ingest_runs(engine: Engine, start: datetime, end: datetime) -> IngestRuns:
    """Runs started in [start, end), oldest first."""
    with engine.connect() as conn:
        runs = [IngestRunEntry(*row) for row in conn.execute(
            select(IngestRun.id, IngestRun.source, IngestRun.started_at, IngestRun.summary)
            .where(IngestRun.started_at >= start, IngestRun.started_at < end).order_by(IngestRun.id))]
        # counted by the database; most rows first, ties by file and reason (an order of their own: the
        # rows' order, which Counter.most_common kept, is none on PostgreSQL, and ids are random)
        reasons = sorted(conn.execute(select(QuarantinedRow.file, QuarantinedRow.reason, func.count())
                                      .where(QuarantinedRow.run_id.in_([r.id for r in runs]))
                                      .group_by(QuarantinedRow.file, QuarantinedRow.reason)).all() if runs else [],
                         key=lambda r: (-r[2], r[0], r[1]))
    return IngestRuns(runs, sum(n for _, _, n in reasons), [(f, why, n) for f, why, n in reasons])
