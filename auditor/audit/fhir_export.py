"""The audit log as FHIR R4 AuditEvents, in the codes of the IHE Basic Audit Log Patterns (BALP): every
event of a span of time, the vault's own gateway events and the imported ones, in sequence order.

| event | AuditEvent (R4) |
|---|---|
| view | type rest, subtype read, action R |
| search | type rest, subtype search-type, action E |
| create, update, delete | type rest, subtype create / update / delete, action C / U / D |
| export | DICOM Export 110106, action R |
| disclose | DICOM Export 110106 with the ISO 21089 lifecycle code `disclose`, action R |
| print | DICOM Patient Record 110110 with this auditor's code `print` (no FHIR or DICOM code prints), action R |
| login_failed | DICOM User Authentication 110114, subtype Login 110122, action E, outcome 4 |
| destroy | DICOM Patient Record 110110 with this auditor's code `destroy`, action D (a purge by crypto-shredding) |
| review, rewrap | DICOM Application Activity 110100 with this auditor's code, action E (the office's own work) |

None of these claims a BALP profile (`meta.profile`): BALP's RESTful profiles (IHE.BasicAudit.Read,
PatientRead, Query, PatientQuery, Create ... PatientDelete) describe the RESTful transaction itself and
require a client and a server agent (DICOM 110152 / 110153 ...), each with `who` and `network`, a data
entity with a role and `what`, a successful outcome, and for a query the query itself (`entity.query`);
an access log names a user at a workstation, not the transaction's two ends, and holds no query. A
log's `disclose` event names no recipient (BALP PrivacyDisclosure.Source requires one): the ledger's
entries below are the disclosures' BALP records.

`id` is the event's id at its source when it is a FHIR id (else `sha256-` and a digest, with the id
itself in the extension EVENT_ID), or `vault-` and its sequence number for the vault's own events;
`recorded` its time (UTC); the requestor agent names the user (`who.identifier.value`; typed DICOM
Application 110150 for the vault's own service accounts, whose work is not a person's access), their role
(as text), the workstation (`network.address`) and, in `purposeOfEvent`, the purpose of use and BTG
with the reason when the access broke the glass. The patient is an entity (type Person, role
Patient) named by MRN; the record type is a second entity: a resource type by `what.type`
(note: DocumentReference, lab: Observation, imaging: ImagingStudy, medication: MedicationRequest,
order: ServiceRequest, other: Basic) or a sensitivity label (psychotherapy_note: PSYTHPN,
substance_use: ETH, hiv: HIV, genetic: GDIS); a record of no stated type is a System Object
entity with neither. auditor.ingest.formats.fhir reads all of it back to the same fields.

Each entry of the disclosures ledger (45 CFR 164.528) is an AuditEvent of its own (`privacy_disclosure`),
a BALP IHE.BasicAudit.PrivacyDisclosure.Source (`meta.profile`) whenever its patient is known: the
recipient named by its kind and its request, never by name or address."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Iterator

import pyarrow.compute as pc
from sqlalchemy import Connection, select

from auditor.audit import blocks
from auditor.audit.events import CANONICAL_COLUMNS
from auditor.audit.fhir_codes import (ACT_CODE, ACT_REASON, APPLICATION, BALP, DCM, ENTITY_TYPE, EVENT_ID, EVENT_TYPE,  # noqa: F401
                                      LEDGER, LIFECYCLE, MRN, OBJECT_ROLE, OWN, REQUESTER, RESTFUL, ROI_REQUEST, SNOMED)
from auditor.audit.schema import AuditEventRow


_REST = {"view": ("read", "R"), "search": ("search-type", "E"), "create": ("create", "C"), "update": ("update", "U"),
         "delete": ("delete", "D")}
RESOURCES = {"note": "DocumentReference", "lab": "Observation", "imaging": "ImagingStudy",
             "medication": "MedicationRequest", "order": "ServiceRequest", "other": "Basic"}
LABELS = {"psychotherapy_note": "PSYTHPN", "substance_use": "ETH", "hiv": "HIV", "genetic": "GDIS"}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"  # R4 core: why a required element is empty
PRIVACY_DISCLOSURE = BALP + "PrivacyDisclosure.Source"


def _coding(system: str, code: str, display: str | None = None) -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def _kind(action: str) -> tuple[dict, list[dict], str]:
    """(type, subtypes, action code) of an event's action."""
    if action in _REST:
        code, verb = _REST[action]
        return _coding(EVENT_TYPE, "rest", "Restful Operation"), [_coding(RESTFUL, code)], verb
    if action == "export":
        return _coding(DCM, "110106", "Export"), [], "R"
    if action == "disclose":
        return _coding(DCM, "110106", "Export"), [_coding(LIFECYCLE, "disclose", "Disclose")], "R"
    if action == "login_failed":
        return _coding(DCM, "110114", "User Authentication"), [_coding(DCM, "110122", "Login")], "E"
    if action in ("print", "destroy"):
        return _coding(DCM, "110110", "Patient Record"), [_coding(OWN, action)], "R" if action == "print" else "D"
    return _coding(DCM, "110100", "Application Activity"), [_coding(OWN, action)], "E"


def event_id(source: str, source_event_id: str | None, seq: int) -> tuple[str, str | None]:
    """(the AuditEvent's id, the source's event id when it is not a FHIR id and goes in EVENT_ID)."""
    if source_event_id is None:
        return f"{source}-{seq}"[:64] if _FHIR_ID.fullmatch(f"{source}-{seq}") else f"seq-{seq}", None
    if _FHIR_ID.fullmatch(source_event_id):
        return source_event_id, None
    return "sha256-" + hashlib.sha256(source_event_id.encode("utf-8")).hexdigest()[:40], source_event_id


def audit_event(event: dict, mrn: str | None, reason: str | None) -> dict:
    """One log event (CANONICAL_COLUMNS as a dict) as a FHIR R4 AuditEvent; `mrn` its patient's, `reason`
    its break-the-glass reason as read by whoever exports."""
    action = event["action"]
    failed = event["outcome"] != "success" or action == "login_failed"
    kind, subtypes, verb = _kind(action)
    ident, original = event_id(event["source"], event["source_event_id"], event["seq"])
    at = datetime.fromtimestamp(event["at_us"] / 1_000_000, tz=timezone.utc)
    agent: dict = {"who": {"identifier": {"value": event["user_id"] or "unknown"}}, "requestor": True}
    if event["source"] == "vault" and event["role"] == "service":  # the vault's own service account at work
        agent["type"] = {"coding": [_coding(DCM, APPLICATION, "Application")]}
    if event["role"]:
        agent["role"] = [{"text": event["role"]}]
    if event["workstation"]:
        agent["network"] = {"address": event["workstation"]}
    out: dict = {"resourceType": "AuditEvent", "id": ident}  # no BALP profile: see the module's docstring
    if original is not None:
        out["extension"] = [{"url": EVENT_ID, "valueString": original}]
    out.update({"type": kind, **({"subtype": subtypes} if subtypes else {}), "action": verb,
                "recorded": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "outcome": "4" if failed else "0"})
    purposes = [{"coding": [_coding(ACT_REASON, event["purpose"])]}] if event["purpose"] else []
    if event["break_glass"]:
        purposes.append({"coding": [_coding(ACT_REASON, "BTG", "break the glass")], **({"text": reason} if reason else {})})
    if purposes:
        out["purposeOfEvent"] = purposes
    out["agent"] = [agent]
    out["source"] = {"site": event["source"], "observer": {"display": "auditor"},
                     "type": [_coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4",
                                      "Application Server")]}
    if mrn is not None:
        entities = [{"what": {"identifier": {"system": MRN, "value": mrn}}, "type": _coding(ENTITY_TYPE, "1", "Person"),
                     "role": _coding(OBJECT_ROLE, "1", "Patient")}]
        record = event["record_type"]
        if record in LABELS:
            entities.append({"what": {"type": "DocumentReference"}, "type": _coding(ENTITY_TYPE, "2", "System Object"),
                             "securityLabel": [_coding(ACT_CODE, LABELS[record])]})
        elif record in RESOURCES:
            entities.append({"what": {"type": RESOURCES[record]}, "type": _coding(ENTITY_TYPE, "2", "System Object")})
        elif record is None:
            entities.append({"type": _coding(ENTITY_TYPE, "2", "System Object")})
        out["entity"] = entities
    return out


def _instant(at: datetime) -> str:
    at = at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _absent(reason: str) -> dict:
    """An element BALP requires that this vault has no value for, as R4 says why (data-absent-reason)."""
    return {"extension": [{"url": ABSENT, "valueCode": reason}]}


def privacy_disclosure(entry: dict, mrn: str | None) -> dict:
    """One disclosures ledger entry (ReleaseChange.ledger_entries) as an AuditEvent: the release desk the
    source, the requester the recipient (its kind and request, not its name: sealed in the vault), the
    coordinator who released it the user and custodian, the patient by MRN, what was released the data
    entity. A BALP PrivacyDisclosure.Source, whose source and recipient agents need a `network`: the
    desk's packet goes over none (not-applicable), the recipient's address is sealed (masked). Without
    the patient (purged: the ledger outlives them) it is no BALP event (its patient entity needs `what`)."""
    observer = {"display": "auditor"}  # BALP val-audit-source: the source agent is the observer
    agents = [{"type": {"coding": [_coding(DCM, "110153", "Source Role ID")]}, "who": observer, "requestor": False,
               "network": _absent("not-applicable")},
              {"type": {"coding": [_coding(DCM, "110152", "Destination Role ID")]},
               "who": {"identifier": {"system": ROI_REQUEST, "value": str(entry["request_id"])}},
               "role": [{"coding": [_coding(REQUESTER, entry["requester_type"])], "text": entry["requester_type"]}],
               "requestor": False, "network": _absent("masked")}]
    if entry["released_by"]:  # BALP's custodian (SNOMED CT 159541003), who released the data
        agents.append({"type": {"coding": [_coding(SNOMED, "159541003", "Record keeping/library clerk")]},
                       "who": {"identifier": {"value": entry["released_by"]}}, "requestor": True})
    details = [("legal-basis", entry["legal_basis"]), ("accountable", "yes" if entry["accountable"] else "no"),
               ("exemption", entry["exemption"]), ("documents", str(entry["documents"]))]
    patient: dict = {"type": _coding(ENTITY_TYPE, "1", "Person"), "role": _coding(OBJECT_ROLE, "1", "Patient")}
    if mrn is not None:
        patient["what"] = {"identifier": {"system": MRN, "value": mrn}}
    return {"resourceType": "AuditEvent", "id": f"disclosure-{entry['id']}",
            **({"meta": {"profile": [PRIVACY_DISCLOSURE]}} if mrn is not None else {}),
            "type": _coding(DCM, "110106", "Export"),
            "subtype": [_coding(LIFECYCLE, "disclose", "Disclose Record Lifecycle Event")],
            "action": "R", "recorded": _instant(entry["at"]), "outcome": "0",
            "purposeOfEvent": [{"coding": [_coding(ACT_REASON, entry["purpose"])], "text": entry["legal_basis"]}],
            "agent": agents,
            "source": {"site": "release-of-information", "observer": observer,
                       "type": [_coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4",
                                        "Application Server")]},
            "entity": [patient, {"what": {"identifier": {"system": LEDGER, "value": str(entry["id"])}},
                                 "type": _coding(ENTITY_TYPE, "2", "System Object"),
                                 "role": _coding(OBJECT_ROLE, "3", "Report"), "description": entry["description"],
                                 "detail": [{"type": k, "valueString": v} for k, v in details if v]}]}


def log_events(conn: Connection, first_us: int, last_us: int, mac_key: bytes | None,
               patient_id: int | None = None, batch: int = 20_000) -> Iterator[dict]:
    """The log's events with first_us <= at < last_us (of one patient, when given), rows and blocks
    merged in sequence order, each as a dict of CANONICAL_COLUMNS (the reason still sealed)."""
    E = AuditEventRow.__table__
    where = [E.c.at_us >= first_us, E.c.at_us < last_us] + ([E.c.patient_id == patient_id] if patient_id is not None else [])
    # the rows as they are read, `batch` at a time (a server-side cursor on PostgreSQL, for this statement
    # only): a month of them is not held at once, in psycopg's buffer nor as dicts
    result = conn.execute(select(*(E.c[n] for n in CANONICAL_COLUMNS)).where(*where).order_by(E.c.seq)
                          .execution_options(yield_per=batch))
    try:
        pending = (dict(zip(CANONICAL_COLUMNS, r)) for r in result)
        row = next(pending, None)
        for table in blocks.events_within(conn, [(first_us, last_us)], mac_key):
            if patient_id is not None:
                table = table.filter(pc.fill_null(pc.equal(table["patient_id"], patient_id), False))
            for event in table.to_pylist():
                while row is not None and row["seq"] < event["seq"]:
                    yield row
                    row = next(pending, None)
                yield event
        while row is not None:
            yield row
            row = next(pending, None)
    finally:
        result.close()
