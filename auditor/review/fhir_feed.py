"""The FHIR endpoint's use cases: AuditEvents sent by a system account (the IHE ATX:FHIR Feed) into the
vault's log, and a patient's access events read back as AuditEvents (in the spirit of IHE ITI-81).

A sent event takes the one ingest path of a file (auditor.ingest.event_import): mapped by the FHIR
mapping (BALP), appended through the gateway as svc:import under the FEED ACCOUNT's name as its source
(what the event says of its own source is not believed), deduplicated by event id (a resent event
adds nothing), and, when it names no user, no time or no action, or no patient the vault knows, kept
in quarantine with a reason that quotes no value from it (`auditor ingest --rejected` lists it). When
`receive` returns, what it accepted is committed: the server answers 201 after it, never before
(45 CFR 164.312(b), audit controls: an event acknowledged is an event recorded)."""

from __future__ import annotations

from collections import Counter, deque
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

import orjson

from auditor.audit.fhir_export import audit_event, log_events
from auditor.database import read_snapshot
from auditor.errors import InputError, NotFound
from auditor.home import Vault
from auditor.ingest.ehr_import import IngestSummary
from auditor.ingest.event_import import append_chunks, quarantine
from auditor.ingest.formats import ChunkBuilder, Unmappable
from auditor.ingest.formats.fhir_records import json_document
from auditor.ingest.formats.fhir_mapping import canonical, map_event
from auditor.review.patient_access import report_days
from auditor.staff.feeds import FeedAccount
from auditor.vault.gateway import AccessContext
from auditor.vault.gateway.lookups import IngestLookups

PLACE = "fhir feed"  # the quarantine's "file" of what the endpoint received; the place is the Bundle entry
MAX_DEPTH = 32  # an AuditEvent in a batch Bundle nests about 10 levels deep
MAX_ENTRIES = 1000  # AuditEvents in one batch Bundle
SEARCH_CAP = 1000  # AuditEvents in one search answer (the newest; `total` says how many matched)


@dataclass(frozen=True)
class Received:
    """What became of one sent event (a single POST, or an entry of a batch): `status` as HTTP says it
    (201 appended, 200 in the log already, 400 unreadable, 409 its id loaded with other content, 422
    not an access the contract records), and why, quoting no value of the event."""

    place: int
    status: int
    diagnostics: str

    @property
    def accepted(self) -> bool:
        return self.status in (200, 201)


@dataclass(frozen=True)
class Sent:
    """One record of what was sent: a resource, or why it could not be read (`problem`), and its text."""

    place: int
    resource: dict | None
    problem: str | None
    raw: str


def parse_json(body: bytes) -> tuple[object, str | None]:
    """The body as JSON (orjson: no recursion to exhaust), or why not (quoting nothing of it)."""
    document, problem = json_document(body)
    if problem is None and _depth(document) > MAX_DEPTH:
        return None, f"JSON nested deeper than {MAX_DEPTH} levels (an AuditEvent needs far fewer)"
    return document, problem


def _depth(document: object) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def one_event(body: bytes) -> Sent:
    """A POST /fhir/AuditEvent body as the one record it is."""
    document, problem = parse_json(body)
    if problem is not None:
        return Sent(1, None, problem, body.decode("utf-8", "replace"))
    if not isinstance(document, dict):
        return Sent(1, None, "not a FHIR resource (a JSON object)", body.decode("utf-8", "replace"))
    return Sent(1, document, None, canonical(document))


def batch_entries(document: dict) -> list[Sent]:
    """The entries of a batch Bundle, each an AuditEvent to create (`request` POST AuditEvent); an entry
    that is not is refused in its place (the Bundle itself was checked by `bundle_problem`)."""
    sent = []
    for n, entry in enumerate(document.get("entry") or [], start=1):
        raw = canonical(entry) if isinstance(entry, dict) else orjson.dumps(entry).decode()
        resource = entry.get("resource") if isinstance(entry, dict) else None
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            sent.append(Sent(n, None, "a Bundle entry without a resource", raw))
        elif not isinstance(request, dict) or request.get("method") != "POST" or \
                str(request.get("url", "")).strip("/") != "AuditEvent":
            sent.append(Sent(n, None, "an entry that is not a POST of an AuditEvent (request.method, request.url)", raw))
        else:
            sent.append(Sent(n, resource, None, canonical(resource)))
    return sent


def bundle_problem(document: object) -> str | None:
    """Why a POST /fhir body is not a batch Bundle this endpoint takes (None: it is)."""
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        return "POST /fhir takes a Bundle of type batch"
    if document.get("type") != "batch":
        return "this endpoint takes a Bundle of type batch (each AuditEvent accepted or refused on its own)"
    entries = document.get("entry") or []
    if not isinstance(entries, list):
        return "a Bundle's entry is a list"
    if len(entries) > MAX_ENTRIES:
        return f"more than {MAX_ENTRIES:,} entries in one Bundle: send several"
    return None


def receive(vault: Vault, feed: FeedAccount, sent: list[Sent]) -> list[Received]:
    """Map and append `sent` as events of the source `feed.name`, committed; quarantine what is refused.
    One Received per record, in order."""
    builder = ChunkBuilder(PLACE)
    for record in sent:
        if record.problem is not None:
            builder.reject(record.place, record.problem, record.raw)
            continue
        try:
            builder.add(map_event(record.resource, vault.timezone, builder.unmapped, record.raw),
                        record.place, record.raw)
        except Unmappable as refused:
            builder.reject(record.place, str(refused), record.raw)
    chunk = builder.take()
    summary = IngestSummary(0, feed.name, format="fhir")
    if chunk.events.num_rows:
        append_chunks(vault.gateway, summary, [chunk], IngestLookups(), Counter())
    else:
        summary.rejected += chunk.rejected
    if summary.rejected:  # a run of its own for what is kept, as a file's
        summary.run_id = vault.gateway.start_ingest_run(feed.name, vault.timezone.key)
        quarantine(vault.gateway, summary, summary.rejected)
        vault.gateway.finish_ingest_run(summary.run_id, {PLACE: {"rejected": len(summary.rejected)}})
    return _outcomes(sent, summary)


def _outcomes(sent: list[Sent], summary: IngestSummary) -> list[Received]:
    refused = {e.line: e.reason for e in summary.rejected}
    unreadable = {s.place for s in sent if s.problem is not None}
    count = summary.files.get(PLACE)
    new = count is None or count.already_present == 0  # else: some or all were in the log already
    done = []
    for record in sent:
        reason = refused.get(record.place)
        if reason is None:
            done.append(Received(record.place, 201 if new else 200,
                                 "in the audit log" if new else "in the audit log (this event or others of the "
                                                                "request were there already)"))
        elif record.place in unreadable:
            done.append(Received(record.place, 400, f"{reason}; kept in quarantine"))
        elif reason.startswith("event id already loaded"):
            done.append(Received(record.place, 409, f"{reason}; kept in quarantine"))
        else:
            done.append(Received(record.place, 422, f"{reason}; kept in quarantine"))
    return done


# -- a patient's access events, as AuditEvents -----------------------------------------------------------

@dataclass(frozen=True)
class PatientEvents:
    """The AuditEvents of a patient's record in a span (the newest SEARCH_CAP when more matched)."""

    events: list[dict]
    total: int

    @property
    def capped(self) -> bool:
        return self.total > len(self.events)


def patient_events(vault: Vault, feed: FeedAccount, mrn: str, first: date | None = None,
                   last: date | None = None, cap: int = SEARCH_CAP) -> PatientEvents:
    """The log's events of the patient with `mrn` from `first` to `last` (local days, inclusive; by
    default the patient access report's: three years up to today), as FHIR R4 AuditEvents. The patient
    is looked up through the gateway in the system account's name (svc:report, the account named as
    the workstation): the search is itself audited. NotFound, without the MRN, when there is no such
    patient. Break-the-glass reasons are left out (only the office's staff read them). At most the
    `cap` newest are given."""
    if (last or vault.today()) < (first or date.min):
        raise InputError("the dates hold no day: date=le is before date=ge, or date=ge is after today")
    first, last = report_days(vault, first, last)
    reader = replace(AccessContext.service("report"), workstation=f"feed account {feed.name}")
    found = [p for p in vault.gateway.search_patients(reader, mrn=mrn) if p.mrn == mrn.strip()]
    if not found:
        raise NotFound("no patient with that MRN")  # never echo the MRN
    patient = found[0]
    first_us, last_us = _local_us(vault, first), _local_us(vault, last + timedelta(days=1))
    kept: deque[dict] = deque(maxlen=cap)
    total = 0
    with vault.records.connect() as conn:
        read_snapshot(conn)
        with closing(log_events(conn, first_us, last_us, vault.keyring.log_mac_key, patient.patient_id)) as events:
            for event in events:  # (closed with its connection, as export_auditevents closes it)
                total += 1
                kept.append(event)
    return PatientEvents([audit_event(e, patient.mrn, None) for e in kept], total)


def _local_us(vault: Vault, day: date) -> int:
    start = datetime.combine(day, datetime.min.time(), tzinfo=vault.timezone).astimezone(timezone.utc)
    return (start - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
