"""`auditor ingest DIR --tz ZONE`: an EHR's interchange export (../shared/spec/interchange.md) into
the vault and the tamper-evident audit log, through the gateway as the `svc:import` account.

Order: patients, workforce, encounters, care team, orders, appointments, documents (who signed in
which chart: contract version 2, optional), then the access log, so each file can refer to the ones
before it. Rows that cannot be read are kept in quarantine with `file:line: reason` and the
good rows load; loading the same files again adds nothing, in any time zone (patients by MRN,
workforce by user id, encounters, orders, appointments and documents by source and their id, care
team by source, patient, user and start as written, access events by source and event id, quarantined rows by file, line and
content). Each batch is its own transaction: an interrupted ingest is finished by running it again.

An access by an account that workforce.csv does not name is kept, with no role: such an access is
exactly what an audit must see.
"""

from __future__ import annotations

import time
from contextlib import closing
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from auditor.errors import InputError
from auditor.ingest import interchange_records as records
from auditor.ingest.access_reader import AccessChunks
from auditor.ingest.csv_tables import CsvTable
from auditor.ingest.interchange_files import (ACCESS_LOG, APPOINTMENTS, CARE_TEAM, DOCUMENTS, ENCOUNTERS, FILES, ORDERS,
                                              PATIENTS, WORKFORCE, CheckedChunk, InterchangeFile, checked_chunks,
                                              entries_of_rejected_row)
from auditor.vault.gateway import AccessContext, AccessGateway, QuarantineEntry
from auditor.vault.gateway.lookups import IngestLookups

DEFAULT_SOURCE = "ehr"
BATCH = 2000  # records per gateway transaction (access events: EVENT_BATCH)
EVENT_BATCH = 100_000  # access events per transaction (a whole CSV chunk): fewer durable commits, same guarantees


@dataclass
class FileCount:
    """A file's physical lines after the header, every one accounted for: lines = loaded +
    already_present + rejected + continuing + blank. A record is counted on the line it starts on
    (loaded, already present or rejected); the other lines of a record over several lines (a quoted
    value with line breaks) are `continuing` when it loads, and rejected, each quarantined, when it
    does not. `rows` counts records."""

    rows: int = 0
    loaded: int = 0
    already_present: int = 0
    rejected: int = 0
    lines: int = 0
    continuing: int = 0
    blank: int = 0

    @property
    def accounted(self) -> int:
        return self.loaded + self.already_present + self.rejected + self.continuing + self.blank


@dataclass
class IngestSummary:
    run_id: int
    source: str
    files: dict[str, FileCount] = field(default_factory=dict)  # only the files given
    rejected: list[QuarantineEntry] = field(default_factory=list)
    newly_quarantined: int = 0
    warnings: list[str] = field(default_factory=list)
    unknown_accounts: int = 0  # access events by accounts not in the workforce (loaded)
    access_seconds: float = 0.0
    format: str = "csv"  # the interchange export; else the reader's name (auditor.ingest.formats)

    @property
    def access_rows_per_second(self) -> float:
        rows = self.files[ACCESS_LOG.name].rows if self.format == "csv" else sum(c.rows for c in self.files.values())
        return rows / self.access_seconds if self.access_seconds > 0 else float(rows)


def open_directory(folder: Path) -> dict[str, CsvTable]:
    """The interchange files present in `folder`, headers checked; InputError before anything loads."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a directory")
    missing = [f.name for f in FILES if f.required and not (folder / f.name).is_file()]
    if missing:
        raise InputError(f"{folder} is not an interchange export (missing {', '.join(missing)})")
    tables = {}
    for spec in FILES:
        if (folder / spec.name).is_file():
            table = CsvTable(folder / spec.name, spec.names)
            absent = [c for c in spec.header_columns if c not in table.header]
            if absent:
                raise InputError(f"{spec.name}: missing column(s) {', '.join(absent)}")
            tables[spec.name] = table
    return tables


def ingest_directory(gateway: AccessGateway, folder: Path, zone: ZoneInfo, source: str = DEFAULT_SOURCE,
                     progress: Callable[[str], None] = lambda _: None, read_ahead: bool | None = None) -> IngestSummary:
    """`read_ahead`: read access_log.csv in a child process one chunk ahead (default: when it is big)."""
    tables = open_directory(folder)
    summary = IngestSummary(gateway.start_ingest_run(source, zone.key), source)
    for table in tables.values():
        if table.unknown:
            summary.warnings.append(f"{table.name}: unknown column(s) {', '.join(table.unknown)} ignored")
    ctx = AccessContext.service("import")
    # access_log.csv's reader starts now: a child reads its first chunks while the other files load
    with AccessChunks(tables[ACCESS_LOG.name], zone, read_ahead) as access_log:
        loaders = ((PATIENTS, _load_patients), (WORKFORCE, _load_workforce), (ENCOUNTERS, _load_encounters),
                   (CARE_TEAM, _load_care_team), *_CARE_ACTIVITY,
                   (ACCESS_LOG, partial(_load_access_log, chunks=access_log)))
        for spec, load in loaders:
            if spec.name in tables:
                summary.files[spec.name] = FileCount()
                load(gateway, ctx, tables[spec.name], zone, summary)
                progress(spec.name)
    for i in range(0, len(summary.rejected), BATCH):
        summary.newly_quarantined += gateway.quarantine_rows(ctx, summary.run_id, source,
                                                             summary.rejected[i : i + BATCH])
    gateway.finish_ingest_run(summary.run_id, {name: vars(count) for name, count in summary.files.items()})
    return summary


def _checked(table: CsvTable, spec: InterchangeFile, zone: ZoneInfo, summary: IngestSummary,
             *extra: Callable[[CheckedChunk], None]) -> Iterator[tuple[CheckedChunk, np.ndarray]]:
    """Each chunk checked (types, `extra` checks, duplicates), its rejects recorded; yields the chunk
    and the positions of its good rows."""
    for checked, good, rejected in checked_chunks(table, spec, zone, *extra):
        chunk, count = checked.chunk, summary.files[spec.name]
        count.rows += len(chunk.lines)
        count.rejected += len(rejected)
        count.lines += chunk.line_count
        count.blank += chunk.blank
        count.continuing += int(chunk.covered[good].sum()) - len(good)
        summary.rejected += rejected
        yield checked, good


def _whole(table: CsvTable, spec: InterchangeFile, zone: ZoneInfo, summary: IngestSummary, *extra,
           known: Callable[[CheckedChunk], None] | None = None) -> pd.DataFrame:
    """The good rows of a context file (workforce, patients, ...), all chunks together."""
    good = []
    for checked, rows in _checked(table, spec, zone, summary, *extra, *([known] if known else [])):
        good.append(checked.clean.iloc[rows])
    return pd.concat(good) if good else pd.DataFrame(columns=list(spec.names))


def _load_patients(gateway, ctx, table, zone, summary) -> None:
    rows = records.patients(_whole(table, PATIENTS, zone, summary))
    count = summary.files[PATIENTS.name]
    for i in range(0, len(rows), BATCH):
        count.loaded += gateway.register_patients(ctx, rows[i : i + BATCH], source=summary.source).created
    count.already_present = len(rows) - count.loaded


def _load_workforce(gateway, ctx, table, zone, summary) -> None:
    frame = _whole(table, WORKFORCE, zone, summary, records.check_shift)
    linked = set(gateway.known_patients(frame["patient_mrn"].dropna().tolist()))
    unlinked = int((frame["patient_mrn"].notna() & ~frame["patient_mrn"].isin(list(linked))).sum())
    if unlinked:
        summary.warnings.append(f"{WORKFORCE.name}: {unlinked} patient_mrn value(s) name no patient; "
                                "those members were loaded without the link")
    rows = records.workforce(frame, linked)
    count = summary.files[WORKFORCE.name]
    for i in range(0, len(rows), BATCH):
        count.loaded += gateway.register_workforce(ctx, rows[i : i + BATCH], source=summary.source).created
    count.already_present = len(rows) - count.loaded


def _known_mrns(gateway: AccessGateway) -> Callable[[CheckedChunk], None]:
    def check(checked: CheckedChunk) -> None:
        mrns = checked.clean["mrn"]
        known = gateway.known_patients(mrns.dropna().tolist())
        checked.problems.add(records.unknown_in(mrns, known), "mrn not among the patients")
    return check


def _load_encounters(gateway, ctx, table, zone, summary) -> None:
    frame = _whole(table, ENCOUNTERS, zone, summary, records.check_spans, known=_known_mrns(gateway))
    users = set(gateway.workforce_roles())
    unattended = int(records.unknown_in(frame["attending_user_id"], users).sum())
    if unattended:
        summary.warnings.append(f"{ENCOUNTERS.name}: {unattended} attending_user_id value(s) name no workforce "
                                "member; those encounters were loaded without an attending")
    rows = records.encounters(frame, summary.source)
    count = summary.files[ENCOUNTERS.name]
    for i in range(0, len(rows), BATCH):
        count.loaded += gateway.add_encounters(ctx, rows[i : i + BATCH])
    count.already_present = len(rows) - count.loaded


def _load_care_team(gateway, ctx, table, zone, summary) -> None:
    users = set(gateway.workforce_roles())

    def known_user(checked: CheckedChunk) -> None:
        checked.problems.add(records.unknown_in(checked.clean["user_id"], users), "user_id not in the workforce")

    frame = _whole(table, CARE_TEAM, zone, summary, records.check_spans, known_user, known=_known_mrns(gateway))
    rows = records.care_team(frame, summary.source)
    count = summary.files[CARE_TEAM.name]
    for i in range(0, len(rows), BATCH):
        count.loaded += gateway.add_care_team(ctx, rows[i : i + BATCH])
    count.already_present = len(rows) - count.loaded


def _care_activity(spec: InterchangeFile, people: tuple[str, ...], times: Callable[[CheckedChunk], None],
                   build: Callable, add: Callable) -> Callable:
    """The loader of a version-2 file (orders, appointments, documents): every row names a patient and
    any user id it gives names a workforce member, or it is quarantined; `add` the gateway's writer."""

    def load(gateway, ctx, table, zone, summary) -> None:
        users = set(gateway.workforce_roles())

        def known_users(checked: CheckedChunk) -> None:
            for column in people:
                checked.problems.add(records.unknown_in(checked.clean[column], users), f"{column} not in the workforce")

        frame = _whole(table, spec, zone, summary, times, known_users, known=_known_mrns(gateway))
        rows = build(frame, summary.source)
        count = summary.files[spec.name]
        for i in range(0, len(rows), BATCH):
            count.loaded += add(gateway, ctx, rows[i : i + BATCH])
        count.already_present = len(rows) - count.loaded

    return load


def _no_check(checked: CheckedChunk) -> None:
    """documents: a signature is one instant, nothing to compare it with."""


_CARE_ACTIVITY = (
    (ORDERS, _care_activity(ORDERS, ("ordering_user_id",), records.check_order_times, records.orders,
                            AccessGateway.add_orders)),
    (APPOINTMENTS, _care_activity(APPOINTMENTS, ("provider_user_id",), records.check_appointment_times,
                                  records.appointments, AccessGateway.add_appointments)),
    (DOCUMENTS, _care_activity(DOCUMENTS, ("author_user_id",), _no_check, records.authored,
                               AccessGateway.add_authored_documents)),
)


def _load_access_log(gateway, ctx, table, zone, summary, chunks: AccessChunks) -> None:
    started = time.perf_counter()
    lookups = IngestLookups()  # each MRN's patient and each account's role looked up once per file
    with closing(gateway.append_ehr_chunks(ctx, summary.source, chunks, lambda chunk: chunk.events, EVENT_BATCH,
                                           lookups)) as appended:
        for chunk, done in appended:  # read one chunk ahead by a child for a big file; written one batch behind
            _count_access_chunk(table, summary, chunk, done)
    summary.access_seconds = time.perf_counter() - started


def _count_access_chunk(table: CsvTable, summary: IngestSummary, chunk, done) -> None:
    """A written chunk's counts, and its rows the checks or the gateway refused, into the summary."""
    count = summary.files[ACCESS_LOG.name]
    count.rows += chunk.rows
    count.loaded += done.appended
    count.already_present += done.already_present
    count.lines += chunk.line_count
    count.blank += chunk.blank
    summary.unknown_accounts += done.unknown_account
    refused = [(p, "mrn not among the patients") for p in done.unknown_patient] + [
        (p, f"event_id already loaded from source {summary.source} with different content") for p in done.conflicting]
    entries = list(chunk.rejected)
    for p, reason in refused:
        entries += entries_of_rejected_row(ACCESS_LOG.name, chunk, p, reason, table.header)
    count.continuing += int(chunk.spans.sum()) - len(chunk.spans) - sum(int(chunk.spans[p]) - 1 for p, _ in refused)
    count.rejected += len(entries)
    summary.rejected += sorted(entries, key=lambda e: e.line)
