"""An interchange access_log.csv written as FHIR R4 AuditEvents (BALP shapes), for the round trip
CSV -> FHIR -> vault: what a site whose EHR emits AuditEvents would send for the same accesses."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

DCM = "http://dicom.nema.org/resources/ontology/DCM"
REST = "http://hl7.org/fhir/restful-interaction"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
VERBS = {"view": ("rest", "read", "R"), "create": ("rest", "create", "C"), "update": ("rest", "update", "U"),
         "delete": ("rest", "delete", "D"), "search": ("rest", "search-type", "E"), "export": ("110106", None, "R"),
         "disclose": ("110106", "Disclosure", "R"), "print": ("110110", "print", "R"),
         "login_failed": ("110114", "110122", "E")}
RESOURCES = {"note": "DocumentReference", "lab": "Observation", "imaging": "ImagingStudy",
             "medication": "MedicationRequest", "order": "ServiceRequest", "other": "Basic"}
LABELS = {"psychotherapy_note": "PSYTHPN", "substance_use": "ETH", "hiv": "HIV", "genetic": "GDIS"}


def audit_event(row: dict, zone: ZoneInfo) -> dict:
    kind, sub, verb = VERBS[row["action"]]
    system = "http://terminology.hl7.org/CodeSystem/audit-event-type" if kind == "rest" else DCM
    at = datetime.fromisoformat(row["timestamp"])
    at = at.replace(tzinfo=zone) if at.tzinfo is None else at
    failed = row["outcome"] == "denied" or row["action"] == "login_failed"
    event = {"resourceType": "AuditEvent", "id": row["event_id"], "type": {"system": system, "code": kind},
             "action": verb, "recorded": at.isoformat(), "outcome": "4" if failed else "0",
             "agent": [{"who": {"identifier": {"value": row["user_id"]}}, "requestor": True}],
             "source": {"observer": {"display": "EHR"}}}
    if sub:
        event["subtype"] = [{"system": REST if kind == "rest" else DCM, "code": sub}]
    if row["workstation"]:
        event["agent"][0]["network"] = {"address": row["workstation"], "type": "1"}
    purposes = [{"coding": [{"system": ACT_REASON, "code": row["purpose_of_use"]}]}] if row["purpose_of_use"] else []
    if row["break_glass"] == "true":
        purposes.append({"coding": [{"system": ACT_REASON, "code": "BTG"}], **({"text": row["reason"]} if row["reason"] else {})})
    if purposes:
        event["purposeOfEvent"] = purposes
    if row["mrn"]:
        entities = [{"what": {"identifier": {"value": row["mrn"]}}, "type": {"code": "1"}, "role": {"code": "1"}}]
        record = row["record_type"]
        if record in LABELS:
            entities.append({"what": {"reference": "DocumentReference/x"},
                             "securityLabel": [{"system": ACT_CODE, "code": LABELS[record]}]})
        elif record in RESOURCES:
            entities.append({"what": {"reference": f"{RESOURCES[record]}/x"}})
        elif not record:
            entities.append({"type": {"code": "2"}})  # an object of no known type: the record type stays empty
        event["entity"] = entities
    return event


def write_ndjson(access_log: Path, out: Path, zone: ZoneInfo) -> int:
    with open(access_log, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out.write_text("".join(json.dumps(audit_event(r, zone)) + "\n" for r in rows), encoding="utf-8")
    return len(rows)
