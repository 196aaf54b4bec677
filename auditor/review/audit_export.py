"""Exporting the audit log as a use case: `auditor export auditevents` writes every event of a span of
local days (or one patient's) as FHIR R4 AuditEvents (auditor.audit.fhir_export), one a line, for a
SIEM, an archive or another auditor. MRNs are read through the gateway as svc:report (as findings
name patients); break-the-glass reasons as the exporting member of the office, each an audited read
in their name. After the log's events come the disclosures ledger's entries of the span (45 CFR
164.528), each a BALP PrivacyDisclosure, read through the release desk (svc:roi) as an accounting is.
The file is written whole or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from contextlib import closing
from itertools import chain
from pathlib import Path
from typing import Iterator

import orjson

from auditor.audit.fhir_export import audit_event, log_events, privacy_disclosure
from auditor.database import read_snapshot
from auditor.errors import NotFound
from auditor.home import Vault
from auditor.phi_files import Outputs
from auditor.policy.frames import Period
from auditor.vault.gateway import AccessContext
from auditor.vault.gateway.directory import ReportDirectory
from auditor.vault.gateway.release import ReleaseDesk

CHUNK = 20_000  # events between two reads of MRNs and reasons


@dataclass
class AuditEventExport:
    path: Path
    period: Period
    events: int = 0
    patients: int = 0
    reasons: int = 0
    disclosures: int = 0  # disclosures ledger entries, as PrivacyDisclosure AuditEvents after the log's


def export_auditevents(vault: Vault, period: Period, out: Path, reader: AccessContext,
                       mrn: str | None = None) -> AuditEventExport:
    """The log's events in `period` (of the patient with `mrn`: NotFound, without the MRN, when there is
    none) as FHIR AuditEvent NDJSON at `out`."""
    patient_id = None
    if mrn is not None:
        found = [p for p in vault.gateway.search_patients(reader, mrn=mrn) if p.mrn == mrn.strip()]
        if not found:
            raise NotFound("no patient with that MRN")  # never echo the MRN
        patient_id = found[0].patient_id
    done = AuditEventExport(out, period)
    directory = ReportDirectory(vault.gateway, AccessContext.service("report"))
    mrns: dict[int, str] = {}

    def lines(events: Iterator[dict]) -> Iterator[bytes]:
        chunk: list[dict] = []
        for event in events:
            chunk.append(event)
            if len(chunk) >= CHUNK:
                yield _written(chunk)
                chunk = []
        if chunk:
            yield _written(chunk)

    def _written(chunk: list[dict]) -> bytes:
        wanted = sorted({e["patient_id"] for e in chunk if e["patient_id"] is not None} - set(mrns))
        if wanted:
            mrns.update(directory.mrns(wanted))
        glass = [e["seq"] for e in chunk if e["break_glass"] and e["reason"] is not None]
        reasons = vault.gateway.read_access_reasons(reader, glass) if glass else {}
        done.events += len(chunk)
        done.reasons += len(reasons)
        return b"".join(orjson.dumps(audit_event(e, mrns.get(e["patient_id"]), reasons.get(e["seq"]))) + b"\n"
                        for e in chunk)

    def disclosures() -> Iterator[bytes]:
        ledger = ReleaseDesk(vault.gateway).change(
            "view", lambda change: change.ledger_entries(period.start.to_pydatetime(), period.end.to_pydatetime(),
                                                         patient_id))
        wanted = sorted({e["patient_id"] for e in ledger} - set(mrns))
        if wanted:
            mrns.update(directory.mrns(wanted))
        done.disclosures = len(ledger)
        yield b"".join(orjson.dumps(privacy_disclosure(e, mrns.get(e["patient_id"]))) + b"\n" for e in ledger)

    first_us, last_us = int(period.start.value // 1000), int(period.end.value // 1000)
    with vault.records.connect() as conn:
        read_snapshot(conn)
        # closed here, on a failed write too: the events' streamed read (a server-side cursor on PostgreSQL)
        # ends with its connection, not whenever the failure is let go and the pool has lent it to another
        with closing(log_events(conn, first_us, last_us, vault.keyring.log_mac_key, patient_id)) as events, \
                Outputs() as outputs:
            outputs.add_chunks(out, chain(lines(events), disclosures()))
    done.patients = len(mrns)
    return done
