"""IHE ATNA audit messages: DICOM PS3.15 A.5 AuditMessage XML, as PACS, HIEs and IHE actors send
them (RFC 3881's attribute style, `code` and `displayName`, and DICOM's since 2017, `csd-code` and
`originalText`), one message a file.

| contract field | AuditMessage |
|---|---|
| event_id | the event id an auditor's forwarder names (an object of ID type `event-id`, urn:auditor), else `sha256:` and the digest of the message as received (a message carries no id of its own) |
| timestamp | EventIdentification/@EventDateTime (without an offset: the organisation's zone) |
| user_id | the ActiveParticipant with UserIsRequestor true: @UserID (with the RoleIDCode Application 110150: an application's work, quarantined) |
| mrn | the ParticipantObjectIdentification of a person (type 1) in the patient role (1): @ParticipantObjectID (an HL7 CX: its first component; a FHIR token, a system and a value parted by a bar: the value; `Patient/id`: the id) |
| action | EventID and EventTypeCode codes, then EventActionCode, by the table FHIR uses (auditor.ingest.formats.codes): Query 110112: search; Export 110106: export; Import 110107: create; DICOM Instances Accessed 110103 and Patient Record 110110 by the action code; a failed User Authentication 110114: login_failed |
| record_type | an object of ID type urn:auditor:record-type (an auditor's forwarder), else @ParticipantObjectSensitivity (v3 ActCode PSYTHPN, ETH, HIV, GDIS ...), else the other objects' ID type: a study, series or SOP instance (110180, 110181): imaging; a report number (9) or an XDS document: note; another object: other; the patient alone: demographics |
| outcome | @EventOutcomeIndicator 0: success; 4, 8, 12: denied |
| purpose_of_use | EventIdentification/PurposeOfUse (the first code that is not BTG); BTG: break_glass |
| break_glass | a PurposeOfUse BTG, or a Security Alert (110113) with EventTypeCode Emergency Override Started (110127) |
| workstation | the requestor's @NetworkAccessPointID |
| reason | with break-the-glass: the patient object's ParticipantObjectDetail `reason` (base64) |

A message is read whole or not at all: one that is not well-formed XML, holds a DTD or an entity, is
not an AuditMessage, or names a coded value without its code system or display name (DICOM requires
all three; `../shared/data/atna/examples/atna-record-1.xml` is such a message) is quarantined with its
reason, never loaded half-way. A participant's name (ParticipantObjectName) is never loaded; the
message as received is kept only sealed, in quarantine, when it is refused. The requestor's @UserName
and a role code of the site's (not DICOM's source, destination or media) are not kept either, as in
FHIR (users are named, and their roles given, by the workforce file): an ingest counts each message
that carries them among what it did not map."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Iterator
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from auditor.audit.atna_export import EVENT_ID_CODE, OWN, REASON_DETAIL, RECORD_TYPE_SYSTEM
from auditor.audit.fhir_codes import APPLICATION
from auditor.errors import InputError
from auditor.ingest.formats import ChunkBuilder, EventChunk, MappedEvent, Unmappable, instant_us
from auditor.ingest.formats.codes import BTG, action_of_codes
from auditor.ingest.formats.fhir_mapping import NAME_NOT_KEPT, ROLE_NOT_KEPT, SENSITIVE_LABELS
from auditor.ingest.formats.fhir_xml import XmlRefused, hardened_xml
from auditor.ingest.interchange_files import RECORD_TYPES

MAX_MESSAGE = 1 << 20  # bytes: an audit message is a few kilobytes
CODED = ("EventID", "EventTypeCode", "RoleIDCode", "ParticipantObjectIDTypeCode", "PurposeOfUse", "MediaType")
CONTRACT_RECORD_TYPES = set(RECORD_TYPES)  # access_log.csv's
IMAGING_IDS = {"110180", "110181"}  # Study Instance UID, SOP Class UID
NOTE_IDS = {"9"}  # Report Number


class AtnaMessages:
    name = "atna"
    title = "IHE ATNA / DICOM PS3.15 AuditMessage XML, one a file"

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message

    def files(self, path: Path) -> list[Path]:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
            if not found:
                raise InputError(f"{path} holds no audit message (.xml)")
            return found
        if not path.is_file():
            raise InputError(f"{path} is not a file or a folder")
        if path.suffix.lower() != ".xml":
            raise InputError(f"{path.name}: an audit message file ends in .xml")
        return [path]

    def chunks(self, file: Path, zone: ZoneInfo) -> Iterator[EventChunk]:
        builder = ChunkBuilder(file.name)
        if file.stat().st_size > self.max_message:
            builder.reject(1, f"larger than {self.max_message:,} bytes: not read", "")
        else:
            data = file.read_bytes()
            raw = data.decode("utf-8", "replace")
            try:
                builder.add(map_message(data, zone, builder.unmapped), 1, raw)
            except Unmappable as refused:
                builder.reject(1, str(refused), raw)
        yield builder.take()


def parse(data: bytes) -> Element:
    """The AuditMessage element, each element's tag its name without a namespace; Unmappable (whole)
    when it cannot be read as one."""
    try:
        root = hardened_xml(data, local_names=True)
    except XmlRefused as refused:
        raise Unmappable(f"{refused}: not loaded" if str(refused).startswith("not well-formed") else str(refused)) from None
    if root.tag != "AuditMessage":
        raise Unmappable("not an AuditMessage (DICOM PS3.15 A.5)")
    for name in CODED:
        for element in root.iter(name):
            missing = _missing(element)
            if missing:
                raise Unmappable(f"{name} without its {' and '.join(missing)}: the message is not loaded half-way")
    return root


# DICOM's roles of a participant in a transfer (PS3.16 CID 402: source, destination, their media, an
# application launcher), not a user's role in the organisation
TRANSFER_ROLES = frozenset({"110151", "110152", "110153", "110154", "110155", None})


def _code(element: Element | None) -> str | None:
    if element is None:
        return None
    value = element.get("csd-code") or element.get("code")
    return value.strip() or None if value else None


def _missing(element: Element) -> list[str]:
    """What a coded value lacks of its code, its code system and its display name, in either style."""
    return [what for what, present in (
        ("code (csd-code or code)", _code(element)), ("code system (codeSystemName)", element.get("codeSystemName")),
        ("display name (originalText or displayName)", element.get("originalText") or element.get("displayName")))
        if not present]


def _mrn(value: str | None) -> str | None:
    """The patient's identifier as senders write it: an HL7 v2 CX ('123^^^&1.2.3&ISO': the first
    component), a FHIR token ('urn:oid:1.2.3|123': the value) or reference ('Patient/123': the id)."""
    text = value.strip() if isinstance(value, str) else ""
    if "^" in text:
        text = text.split("^", 1)[0]
    elif "|" in text:
        text = text.rsplit("|", 1)[1]
    elif text.startswith("Patient/"):
        text = text[len("Patient/"):].split("/", 1)[0]
    return text.strip() or None


def _is_patient(obj: Element) -> bool:
    return obj.get("ParticipantObjectTypeCode") == "1" and obj.get("ParticipantObjectTypeCodeRole") == "1"


def _own(obj: Element, system: str, code: str | None = None) -> bool:
    """An object this auditor's forwarder adds (auditor.audit.atna_export): an event id, a record type."""
    id_type = obj.find("ParticipantObjectIDTypeCode")
    return (id_type is not None and id_type.get("codeSystemName") == system
            and (code is None or _code(id_type) == code))


def _record_type(objects: list[Element], unmapped) -> str | None:
    for obj in objects:
        if _own(obj, RECORD_TYPE_SYSTEM):
            code = _code(obj.find("ParticipantObjectIDTypeCode"))
            if code in CONTRACT_RECORD_TYPES:
                return code
    objects = [o for o in objects if not _own(o, OWN) and not _own(o, RECORD_TYPE_SYSTEM)]
    for obj in objects:
        label = (obj.get("ParticipantObjectSensitivity") or "").strip()
        if label in SENSITIVE_LABELS:
            return SENSITIVE_LABELS[label]
    others = [o for o in objects if not _is_patient(o) and o.get("ParticipantObjectTypeCodeRole") != "24"]  # 24: query
    for obj in others:
        id_type = obj.find("ParticipantObjectIDTypeCode")
        code = _code(id_type)
        if code in IMAGING_IDS:
            return "imaging"
        if code in NOTE_IDS or (id_type is not None and "XDS" in (id_type.get("codeSystemName") or "")):
            return "note"
    if others:
        unmapped["an object of a kind with no record type of its own (recorded as other)"] += 1
        return "other"
    return None


def map_message(data: bytes, zone: ZoneInfo, unmapped) -> MappedEvent:
    """One AuditMessage as the contract's fields; Unmappable (a reason quoting no value of it) when it
    cannot be read whole or names no user, time or action the contract records."""
    root = parse(data)
    event = root.find("EventIdentification")
    if event is None:
        raise Unmappable("an AuditMessage without its EventIdentification")
    at_us = instant_us(event.get("EventDateTime"), zone)
    if at_us is None:
        raise Unmappable("no time that can be read (EventDateTime)")
    requestors = [p for p in root.findall("ActiveParticipant") if (p.get("UserIsRequestor") or "").strip().lower()
                  in ("true", "1")]
    if not requestors:
        raise Unmappable("no user (no active participant is the requestor)")
    requestor = requestors[0]
    user = (requestor.get("UserID") or "").strip()
    if not user:
        raise Unmappable("no user (the requestor has no UserID)")
    roles = [_code(r) for r in requestor.findall("RoleIDCode")]
    if APPLICATION in roles:
        raise Unmappable("the work of an application (DCM 110150), not a person's access")
    if (requestor.get("UserName") or "").strip():
        unmapped[NAME_NOT_KEPT] += 1
    if any(role not in TRANSFER_ROLES for role in roles):  # a site's role for the user, not DICOM's of the transfer
        unmapped[ROLE_NOT_KEPT] += 1
    failed = (event.get("EventOutcomeIndicator") or "0").strip() != "0"
    types = {c for c in [_code(event.find("EventID"))] if c}
    subtypes = {c for c in (_code(e) for e in event.findall("EventTypeCode")) if c}
    verb = (event.get("EventActionCode") or "").strip() or None
    action, glass = action_of_codes(types, subtypes, verb, failed)
    purposes = [c for c in (_code(p) for p in event.findall("PurposeOfUse")) if c]
    glass = glass or BTG in purposes
    objects = root.findall("ParticipantObjectIdentification")
    patient = next((o for o in objects if _is_patient(o)), None)
    mrn = _mrn(patient.get("ParticipantObjectID")) if patient is not None else None
    record_type = _record_type(objects, unmapped) if mrn else None
    if mrn and record_type is None:
        record_type = "demographics"
    digest = hashlib.sha256(data).digest()
    own_id = next((o.get("ParticipantObjectID") for o in objects if _own(o, OWN, EVENT_ID_CODE)), None)
    reason = _detail(patient, REASON_DETAIL) if patient is not None and glass else None
    workstation = (requestor.get("NetworkAccessPointID") or "").strip() or None
    return MappedEvent(event_id=(own_id or "").strip() or f"sha256:{digest.hex()[:32]}", at_us=at_us, user_id=user,
                       action=action, mrn=mrn,
                       record_type=record_type, outcome="denied" if failed else "success",
                       purpose=next((p for p in purposes if p != BTG), BTG if glass and BTG in purposes else None),
                       break_glass=glass, reason=reason, workstation=workstation, row_hash=digest)


def _detail(obj: Element, kind: str) -> str | None:
    """A ParticipantObjectDetail's value (base64, as DICOM's ValuePair is), as text."""
    for detail in obj.findall("ParticipantObjectDetail"):
        if detail.get("type") == kind:
            try:
                return base64.b64decode(detail.get("value") or "", validate=True).decode("utf-8").strip() or None
            except (ValueError, UnicodeDecodeError):
                return None
    return None
