"""The audit log's events as IHE ATNA audit messages (DICOM PS3.15 A.5 AuditMessage, the 2017 attribute
style: `csd-code`, `codeSystemName`, `originalText`), for `auditor forward` to a SIEM or another
auditor's `auditor listen`.

| event | AuditMessage |
|---|---|
| view, create, update, delete | EventID Patient Record 110110, EventActionCode R, C, U, D |
| search | EventID Query 110112, action E |
| export, disclose | EventID Export 110106, action R; disclose adds the EventTypeCode ISO 21089 `disclose` |
| login_failed | EventID User Authentication 110114, EventTypeCode Login 110122, action E |
| print, destroy, review, rewrap | EventID Patient Record 110110 (print R, destroy D) or Application Activity 110100 (E), with this auditor's code |
| outcome | EventOutcomeIndicator 0 (success) or 4 (denied) |
| purpose, break the glass | PurposeOfUse (v3 ActReason), and BTG |
| user, workstation | the requestor ActiveParticipant's UserID and NetworkAccessPointID |
| patient | a person (type 1) in the patient role (1), Patient Number (RFC 3881 code 2): the MRN; a break-the-glass reason as its ParticipantObjectDetail `reason` |
| record type | a system object whose ID type is this auditor's record-type code (urn:auditor:record-type) |
| event id | a system object whose ID type is this auditor's `event-id` (urn:auditor): the id at the event's source |

auditor.ingest.formats.atna reads all of it back; what another receiver does not know it ignores."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from xml.sax.saxutils import quoteattr

from auditor.audit.fhir_export import event_id

OWN = "urn:auditor"
RECORD_TYPE_SYSTEM = "urn:auditor:record-type"
EVENT_ID_CODE = "event-id"
REASON_DETAIL = "reason"
_VERBS = {"view": "R", "create": "C", "update": "U", "delete": "D"}


def _coded(element: str, code: str, system: str, display: str) -> str:
    return f"<{element} csd-code={quoteattr(code)} codeSystemName={quoteattr(system)} originalText={quoteattr(display)}/>"


def _identification(action: str) -> tuple[str, list[tuple[str, str, str]], str]:
    """(EventID, EventTypeCodes, EventActionCode) of an event's action."""
    if action in _VERBS:
        return _coded("EventID", "110110", "DCM", "Patient Record"), [], _VERBS[action]
    if action == "search":
        return _coded("EventID", "110112", "DCM", "Query"), [], "E"
    if action in ("export", "disclose"):
        types = [("disclose", "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", "Disclose")] \
            if action == "disclose" else []
        return _coded("EventID", "110106", "DCM", "Export"), types, "R"
    if action == "login_failed":
        return _coded("EventID", "110114", "DCM", "User Authentication"), [("110122", "DCM", "Login")], "E"
    if action in ("print", "destroy"):
        return (_coded("EventID", "110110", "DCM", "Patient Record"), [(action, "urn:auditor:action", action)],
                "R" if action == "print" else "D")
    return _coded("EventID", "110100", "DCM", "Application Activity"), [(action, "urn:auditor:action", action)], "E"


def _object(object_id: str, type_code: str, role: str, id_type: str, sensitivity: str | None = None,
            details: list[tuple[str, str]] = ()) -> str:
    out = (f"<ParticipantObjectIdentification ParticipantObjectID={quoteattr(object_id)} "
           f'ParticipantObjectTypeCode="{type_code}" ParticipantObjectTypeCodeRole="{role}"'
           + (f" ParticipantObjectSensitivity={quoteattr(sensitivity)}" if sensitivity else "") + ">" + id_type)
    for kind, value in details:
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        out += f"<ParticipantObjectDetail type={quoteattr(kind)} value={quoteattr(encoded)}/>"
    return out + "</ParticipantObjectIdentification>"


def audit_message(event: dict, mrn: str | None, reason: str | None) -> bytes:
    """One log event (CANONICAL_COLUMNS as a dict) as an AuditMessage, UTF-8; `mrn` its patient's,
    `reason` its break-the-glass reason as read by whoever forwards."""
    action = event["action"]
    failed = event["outcome"] != "success" or action == "login_failed"
    eid, types, verb = _identification(action)
    at = datetime.fromtimestamp(event["at_us"] / 1_000_000, tz=timezone.utc).isoformat(timespec="microseconds")
    parts = [f'<EventIdentification EventActionCode="{verb}" EventDateTime={quoteattr(at.replace("+00:00", "Z"))} '
             f'EventOutcomeIndicator="{4 if failed else 0}">', eid]
    parts += [_coded("EventTypeCode", *t) for t in types]
    if event["purpose"]:
        parts.append(_coded("PurposeOfUse", event["purpose"], "v3-ActReason", event["purpose"]))
    if event["break_glass"]:
        parts.append(_coded("PurposeOfUse", "BTG", "v3-ActReason", "break the glass"))
    parts.append("</EventIdentification>")
    user = event["user_id"] or "unknown"
    network = (f" NetworkAccessPointID={quoteattr(event['workstation'])} NetworkAccessPointTypeCode=\"1\""
               if event["workstation"] else "")
    parts.append(f'<ActiveParticipant UserID={quoteattr(user)} UserIsRequestor="true"{network}>'
                 + (_coded("RoleIDCode", "110150", "DCM", "Application") if event["source"] == "vault"
                    and event["role"] == "service" else "")
                 + "</ActiveParticipant>")
    parts.append(f'<AuditSourceIdentification AuditSourceID={quoteattr(event["source"])}>'
                 '<AuditSourceTypeCode csd-code="4" codeSystemName="DCM" originalText="Application Server Process"/>'
                 "</AuditSourceIdentification>")
    if mrn is not None:
        parts.append(_object(mrn, "1", "1", _coded("ParticipantObjectIDTypeCode", "2", "RFC-3881", "Patient Number"),
                             details=[(REASON_DETAIL, reason)] if event["break_glass"] and reason else []))
        if event["record_type"]:
            parts.append(_object(event["record_type"], "2", "3", _coded("ParticipantObjectIDTypeCode",
                                                                       event["record_type"], RECORD_TYPE_SYSTEM,
                                                                       "Record type")))
    ident, original = event_id(event["source"], event["source_event_id"], event["seq"])
    parts.append(_object(original or event["source_event_id"] or ident, "2", "4",
                         _coded("ParticipantObjectIDTypeCode", EVENT_ID_CODE, OWN, "Audit event id")))
    return ("<AuditMessage>" + "".join(parts) + "</AuditMessage>").encode("utf-8")
