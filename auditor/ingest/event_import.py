"""`auditor ingest PATH --format NAME`: an audit log in another format (auditor.ingest.formats) into
the vault's tamper-evident log, through the gateway as the `svc:import` account, by the seam the CSV
export's access_log.csv uses (`append_ehr_chunks`): the same quarantine, reruns and `--source`.

Every record of every file is accounted for: loaded, already present (the same event id and content
from this source), or rejected and quarantined with its place and reason (the reader's refusals; an
MRN that names no patient; an event id loaded before with other content). What a reader mapped only
in part is counted in the warnings. Context (patients, workforce, encounters, care team) comes from
the interchange export, loaded before or after: an access by an account the workforce does not name
is kept, as with the CSV."""

from __future__ import annotations

import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from auditor.ingest.ehr_import import EVENT_BATCH, FileCount, IngestSummary
from auditor.ingest.formats import EventChunk, Reader
from auditor.vault.gateway import AccessContext, AccessGateway, QuarantineEntry
from auditor.vault.gateway.lookups import IngestLookups

QUARANTINE_BATCH = 2000


def ingest_events(gateway: AccessGateway, path: Path, reader: Reader, zone: ZoneInfo, source: str,
                  progress: Callable[[str], None] = lambda _: None) -> IngestSummary:
    """The files of `path` that `reader` reads (a file or a folder), their events appended in order."""
    files = reader.files(path)  # InputError before anything is recorded
    summary = IngestSummary(gateway.start_ingest_run(source, zone.key), source, format=reader.name)
    lookups = IngestLookups()  # each MRN's patient and each account's role looked up once per run
    unmapped: Counter = Counter()
    started = time.perf_counter()
    for file in files:
        append_chunks(gateway, summary, reader.chunks(file, zone), lookups, unmapped)
        progress(file.name)
    summary.access_seconds = time.perf_counter() - started
    summary.warnings += [f"{n} event{'s' * (n != 1)}: {what}" for what, n in sorted(unmapped.items())]
    quarantine(gateway, summary, summary.rejected)
    gateway.finish_ingest_run(summary.run_id, {name: vars(count) for name, count in summary.files.items()})
    return summary


def append_chunks(gateway: AccessGateway, summary: IngestSummary, chunks: Iterable[EventChunk],
                  lookups: IngestLookups, unmapped: Counter) -> None:
    """Append the chunks' events as svc:import, counting each chunk under its file's name (its
    records loaded, already present or rejected) and keeping its refused records in the summary."""
    ctx = AccessContext.service("import")
    with closing(gateway.append_ehr_chunks(ctx, summary.source, chunks, lambda c: c.events, EVENT_BATCH,
                                           lookups)) as appended:
        for chunk, done in appended:
            _count(summary, summary.files.setdefault(chunk.file, FileCount()), chunk, done)
            unmapped.update(chunk.unmapped)


def quarantine(gateway: AccessGateway, summary: IngestSummary, entries: list[QuarantineEntry]) -> None:
    """Keep refused records in quarantine under the summary's ingest run."""
    ctx = AccessContext.service("import")
    for i in range(0, len(entries), QUARANTINE_BATCH):
        summary.newly_quarantined += gateway.quarantine_rows(ctx, summary.run_id, summary.source,
                                                             entries[i : i + QUARANTINE_BATCH])


def _count(summary: IngestSummary, count: FileCount, chunk: EventChunk, done) -> None:
    refused = [(p, "mrn not among the patients") for p in done.unknown_patient] + [
        (p, f"event id already loaded from source {summary.source} with different content") for p in done.conflicting]
    entries = list(chunk.rejected) + [QuarantineEntry(chunk.file, chunk.lines[p], reason, chunk.raws[p])
                                      for p, reason in refused]
    count.rows += chunk.records
    count.lines += chunk.records
    count.loaded += done.appended
    count.already_present += done.already_present
    count.rejected += len(entries)
    summary.unknown_accounts += done.unknown_account
    summary.rejected += sorted(entries, key=lambda e: e.line)
