"""The usual FHIR R4 AuditEvent on an NDJSON line, mapped without building it as Python dictionaries:
msgspec decodes the line straight into the few typed fields the mapping reads (the rest of the
resource is skipped unread), and `fast_event` maps them as auditor.ingest.formats.fhir_mapping does.

It is only a shortcut. Whatever it is not sure of, it leaves to the general mapper (None): a line
that is not an AuditEvent of R4's JSON shapes (an R5 event, a value of another type, a Coding where
a CodeableConcept is expected or the reverse, a time that does not read), so the two always give
the same event (tests/ingest/formats/test_fhir_fast.py holds them to it). Both hash the line as
received (`row_hash`), which is what quarantine keeps."""

from __future__ import annotations

import hashlib
from typing import Optional
from zoneinfo import ZoneInfo

import msgspec

from auditor.audit.fhir_codes import APPLICATION, EVENT_ID, MRN
from auditor.ingest.formats import MappedEvent, Unmappable, instant_us
from auditor.ingest.formats.codes import BTG, action_of_codes
from auditor.ingest.formats.fhir_mapping import SENSITIVE_LABELS, TYPE_NAME, purpose_of, record_type_of, reference_id

Raw = Optional[msgspec.Raw]  # an element the mapper reads and this shortcut leaves to it: present -> general path


class Coding(msgspec.Struct, gc=False):  # its system is not read: the mapping goes by codes alone
    code: Optional[str] = None
    coding: Raw = None  # a CodeableConcept where a Coding is expected


class Concept(msgspec.Struct, gc=False):
    coding: list[Coding] = []
    text: Optional[str] = None
    code: Raw = None  # a Coding where a CodeableConcept is expected


class Identifier(msgspec.Struct, gc=False):
    value: Optional[str] = None
    system: Optional[str] = None


class Reference(msgspec.Struct, gc=False):
    identifier: Optional[Identifier] = None
    reference: Optional[str] = None
    type: Optional[str] = None


class Network(msgspec.Struct, gc=False):
    address: Optional[str] = None


class Agent(msgspec.Struct, gc=False):
    who: Optional[Reference] = None
    requestor: Optional[bool] = None
    type: Optional[Concept] = None
    network: Optional[Network] = None
    purposeOfUse: list[Concept] = []
    networkString: Raw = None  # R5
    networkUri: Raw = None
    authorization: Raw = None


class Entity(msgspec.Struct, gc=False):
    what: Optional[Reference] = None
    type: Optional[Coding] = None
    role: Optional[Coding] = None
    securityLabel: list[Coding] = []


class Extension(msgspec.Struct, gc=False):
    url: Optional[str] = None
    valueString: Optional[str] = None


class AuditEvent(msgspec.Struct, gc=False):
    resourceType: str
    id: Optional[str] = None
    recorded: Optional[str] = None
    type: Optional[Coding] = None
    subtype: list[Coding] = []
    action: Optional[str] = None
    outcome: Optional[str] = None
    purposeOfEvent: list[Concept] = []
    agent: list[Agent] = []
    entity: list[Entity] = []
    extension: list[Extension] = []
    patient: Raw = None  # R5
    category: Raw = None
    code: Raw = None
    authorization: Raw = None


_DECODER = msgspec.json.Decoder(AuditEvent)


class _NotSure(Exception):
    """Something the general mapper reads and this shortcut does not."""


def fast_event(line: bytes, zone: ZoneInfo, unmapped) -> MappedEvent | None:
    """The event on `line` (without its line end), or None when the general mapper must read it;
    Unmappable as the general mapper raises it."""
    try:
        event = _DECODER.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):  # the general mapper says why
        return None
    if (event.resourceType != "AuditEvent" or event.patient is not None or event.category is not None
            or event.code is not None or event.authorization is not None):
        return None
    try:
        return _mapped(event, line, zone, unmapped)
    except _NotSure:
        return None


def _mapped(event: AuditEvent, line: bytes, zone: ZoneInfo, unmapped) -> MappedEvent:
    at_us = instant_us(event.recorded, zone)
    if at_us is None:
        raise _NotSure  # the general mapper looks further (period.start, R5's occurred[x])
    agent = None
    for candidate in event.agent:
        if candidate.networkString is not None or candidate.networkUri is not None or candidate.authorization is not None:
            raise _NotSure
        if agent is None and candidate.requestor:
            agent = candidate
    if agent is None:
        raise Unmappable("no user (no agent is the requestor)")
    user = _user(agent)
    if user is None:
        raise Unmappable("no user (the requestor names no identifier or reference)")
    if agent.type is not None and any(c.code == APPLICATION for c in _codings(agent.type)):
        raise Unmappable("the work of an application (DCM 110150), not a person's access")
    failed = event.outcome is not None and event.outcome not in ("0", "")
    action, glass = _action(event, failed)
    mrn, others = _patient(event.entity)
    record_type = _record_type(event.entity, others, unmapped) if mrn else None
    if mrn and record_type is None and not others:
        record_type = "demographics"
    purpose, btg, reason = _purpose(event, agent)
    glass = glass or btg
    digest = hashlib.sha256(line).digest()
    event_id = _source_event_id(event) or _text(event.id) or f"sha256:{digest.hex()[:32]}"
    if action != "login_failed" and mrn is None and action in ("view", "update", "delete", "create", "print"):
        unmapped["a patient action that names no patient (loaded without one)"] += 1
    return MappedEvent(event_id=event_id, at_us=at_us, user_id=user, action=action, mrn=mrn, record_type=record_type,
                       outcome="denied" if failed else "success", purpose=purpose, break_glass=glass,
                       reason=reason if glass else None, workstation=_workstation(agent, event.agent),
                       row_hash=digest)


_ACTIONS: dict[tuple, tuple[str, bool] | str] = {}  # what action_of_codes gave for these codes (a log has few)
_NO_TYPE = object()


def _action(event: AuditEvent, failed: bool) -> tuple[str, bool]:
    kind = event.type
    key = (kind.code if kind is not None and _plain(kind) else _NO_TYPE,
           tuple(c.code for c in event.subtype if _plain(c)), event.action, failed)
    found = _ACTIONS.get(key)
    if found is None:
        types = {str(key[0])} if key[0] is not _NO_TYPE else set()
        try:
            found = action_of_codes(types, {str(c) for c in key[1]}, event.action, failed)
        except Unmappable as refused:
            found = str(refused)
        if len(_ACTIONS) < 4096:
            _ACTIONS[key] = found
    if isinstance(found, str):
        raise Unmappable(found)
    return found


def _text(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _plain(coding: Coding) -> bool:
    if coding.coding is not None:
        raise _NotSure
    return True


def _coding(coding: Coding | None) -> list[Coding]:
    return [coding] if coding is not None and _plain(coding) else []


def _codings(concept: Concept) -> list[Coding]:
    if concept.code is not None:
        raise _NotSure
    return [c for c in concept.coding if _plain(c)]


def _user(agent: Agent) -> str | None:
    who = agent.who
    if who is None:
        return None
    value = who.identifier.value if who.identifier is not None else None
    return _text(value) or reference_id(who.reference)


def _is_patient(entity: Entity) -> bool:
    what = entity.what
    if what is not None and what.reference is not None and reference_id(what.reference, "Patient"):
        return True
    role, kind = entity.role, entity.type
    return (role is not None and _plain(role) and role.code == "1"
            and kind is not None and _plain(kind) and kind.code in ("1", "Patient"))


def _patient(entities: list[Entity]) -> tuple[str | None, list[Entity]]:
    mrn, others = None, []
    for entity in entities:
        patient = _is_patient(entity)
        if mrn is None and patient:
            what = entity.what
            if what is not None:
                identifier = what.identifier
                mrn = (_mrn(identifier) if identifier is not None else None) or reference_id(what.reference, "Patient")
        elif not patient:
            others.append(entity)
    return mrn, others


def _mrn(identifier: Identifier) -> str | None:
    text = _text(identifier.value)
    if text is None or identifier.system == MRN:
        return text
    return _text(text.split("^", 1)[0])


def _record_type(entities: list[Entity], others: list[Entity], unmapped) -> str | None:
    for entity in entities:
        for label in entity.securityLabel:
            if _plain(label) and label.code in SENSITIVE_LABELS:
                return SENSITIVE_LABELS[label.code]
    kinds = []
    for entity in others:
        what = entity.what
        if what is not None:
            if what.type is not None and TYPE_NAME.fullmatch(what.type):
                kinds.append(what.type)
            reference = what.reference
            if reference is not None and "/" in reference and not reference.startswith("#"):
                kinds.append(reference.split("/")[-2] if "/_history/" not in reference else reference.split("/")[-4])
        kinds += [t.code for t in _coding(entity.type) if t.code is not None and TYPE_NAME.fullmatch(t.code)]
    return record_type_of(kinds, unmapped)


def _purpose(event: AuditEvent, agent: Agent) -> tuple[str | None, bool, str | None]:
    found: list[tuple[str, str | None]] = []
    for concepts in (event.purposeOfEvent, agent.purposeOfUse):
        for concept in concepts:
            for code in _codings(concept):
                text = _text(code.code)
                if text:  # purpose_of reads a concept's text only for BTG
                    found.append((text, _text(concept.text) if text == BTG else None))
    if len(found) == 1 and found[0][0] != BTG:
        return found[0][0], False, None
    return purpose_of(found)


def _workstation(agent: Agent, agents: list[Agent]) -> str | None:
    network = agent.network
    found = _text(network.address) if network is not None else None
    if found:
        return found
    for candidate in agents:
        if candidate is not agent and candidate.network is not None:
            found = _text(candidate.network.address)
            if found:
                return found
    return None


def _source_event_id(event: AuditEvent) -> str | None:
    for extension in event.extension:
        if extension.url == EVENT_ID:
            return _text(extension.valueString)
    return None
