"""The usual FHIR R4 AuditEvent on an NDJSON line, mapped without building it as Python dictionaries:
msgspec decodes the line straight into the few typed fields the mapping reads (the rest of the
resource is skipped unread), and `fast_event` maps them as auditor.ingest.formats.fhir_mapping does.

It is only a shortcut. Whatever it is not sure of, it leaves to the general mapper (None): a line
that is not an AuditEvent of R4's JSON shapes (an R5 event, a value of another type, a Coding where
a CodeableConcept is expected or the reverse, a time that does not read), so the two always give
the same event (tests/ingest/formats/test_fhir_fast.py holds them to it). Both hash the line as
received (`row_hash`), which is what quarantine keeps.

A log repeats the same few event types, purposes and entities (a patient's, a kind of record's) again
and again: those parts are decoded and mapped once per distinct JSON text (`_Memo`: msgspec skips their
insides unread, as `msgspec.Raw`), so an event costs little more than its decoding, its agent (whose
workstation nearly every event names anew), its time and its hash. Each part is mapped before
anything else of the event, so a part the shortcut is not sure of leaves the line to the general
mapper whatever else the event holds (a memo can only make the shortcut take fewer lines, never
answer otherwise)."""

from __future__ import annotations

import hashlib
from typing import Callable, Iterator, Optional
from zoneinfo import ZoneInfo

import msgspec

from auditor.audit.fhir_codes import APPLICATION, EVENT_ID, MRN
from auditor.ingest.formats import EVENT_SCHEMA, MappedEvent, Unmappable, instant_us
from auditor.ingest.formats.codes import BTG, action_of_codes
from auditor.ingest.formats.fhir_mapping import (NAME_NOT_KEPT, ROLE_NOT_KEPT, SENSITIVE_LABELS, TYPE_NAME, purpose_of,
                                                  record_type_of, reference_id)

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


class Who(msgspec.Struct, gc=False):  # an agent's Reference
    identifier: Optional[Identifier] = None
    reference: Optional[str] = None
    display: msgspec.Raw = msgspec.Raw()  # the agent's name: not kept, counted (_says_of_itself)


class Network(msgspec.Struct, gc=False):
    address: Optional[str] = None


class Agent(msgspec.Struct, gc=False):
    who: Optional[Who] = None
    requestor: Optional[bool] = None
    type: Optional[Concept] = None
    network: Optional[Network] = None
    purposeOfUse: list[Concept] = []
    name: msgspec.Raw = msgspec.Raw()  # what a requestor says of itself: not kept, counted (_says_of_itself)
    role: msgspec.Raw = msgspec.Raw()
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
    action: Optional[str] = None
    outcome: Optional[str] = None
    type: msgspec.Raw = msgspec.Raw()  # the parts that repeat: their text, mapped by a _Memo
    subtype: msgspec.Raw = msgspec.Raw()
    purposeOfEvent: msgspec.Raw = msgspec.Raw()
    agent: list[Agent] = []  # a user at a workstation: nearly every event's differs
    entity: list[msgspec.Raw] = []  # the patient, the record: mapped by a _Memo, each by its text
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
    row = fast_row(line, zone, unmapped)
    return None if row is None else MappedEvent(**dict(zip(_FIELDS, row)))


_FIELDS = tuple(EVENT_SCHEMA.names)


def fast_row(line: bytes, zone: ZoneInfo, unmapped) -> tuple | None:
    """fast_event's event as its EVENT_SCHEMA values in order (what a ChunkBuilder holds), or None.
    One function, each step written out: it runs once per event of a bulk export."""
    try:
        event = _DECODER.decode(line)
        if (event.resourceType != "AuditEvent" or event.patient is not None or event.category is not None
                or event.code is not None or event.authorization is not None):
            raise _NotSure
        failed = event.outcome is not None and event.outcome not in ("0", "")
        key = (bytes(event.type), bytes(event.subtype), event.action, failed, bytes(event.purposeOfEvent))
        head = _HEAD_KNOWN.get(key)  # each lookup written out: a call to the _Memo costs more than the lookup
        if head is None or head is _Memo.NOT_SURE:
            head = _HEADS(key)
        entities = []
        for raw in event.entity:  # two or three a line
            key = bytes(raw)
            found = _ENTITY_KNOWN.get(key)
            if found is None or found is _Memo.NOT_SURE:
                found = _ENTITIES(key)
            entities.append(found)
        at_us = instant_us(event.recorded, zone)
        if at_us is None:
            raise _NotSure  # the general mapper looks further (period.start, R5's occurred[x])
        agents = event.agent
        agent = None
        for candidate in agents:
            if candidate.networkString is not None or candidate.networkUri is not None or candidate.authorization is not None:
                raise _NotSure
            if agent is None and candidate.requestor:
                agent = candidate
        if agent is None:
            raise Unmappable("no user (no agent is the requestor)")
        who = agent.who
        user = None
        if who is not None:
            user = _text(who.identifier.value if who.identifier is not None else None) or reference_id(who.reference)
        if user is None:
            raise Unmappable("no user (the requestor names no identifier or reference)")
        if agent.type is not None and any(c.code == APPLICATION for c in _codings(agent.type)):
            raise Unmappable("the work of an application (DCM 110150), not a person's access")
        what, of_event, alone = head
        if type(what) is str:
            raise Unmappable(what)
        action, glass = what
        if agent.purposeOfUse:  # the last part it may not be sure of
            purpose, btg, reason = _purpose(of_event, tuple(_purposes(agent.purposeOfUse)))
        else:
            purpose, btg, reason = alone
        mrn, record_type = _patient_and_record(entities, unmapped)  # a warning counted here is the event's
        digest = _sha256(line).digest()
        event_id = (_source_event_id(event) if event.extension else None) or _text(event.id) \
            or f"sha256:{digest.hex()[:32]}"
        if mrn is None and action != "login_failed" and action in ("view", "update", "delete", "create", "print"):
            unmapped["a patient action that names no patient (loaded without one)"] += 1
        if agent.name or agent.role or (who is not None and who.display):
            _says_of_itself(agent, who, unmapped)
        return (event_id, at_us, user, mrn, action, record_type, "denied" if failed else "success", purpose,
                glass or btg, reason if glass or btg else None, _workstation(agent, agents), digest)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, _NotSure):  # the general mapper says why
        return None


_sha256 = hashlib.sha256
_NULL = msgspec.Raw(b"null")


def _says_of_itself(agent: Agent, who: Who | None, unmapped) -> None:
    """As fhir_mapping's: a name or a role given (JSON null is none) is counted, never kept."""
    if (agent.name and agent.name != _NULL) or (who is not None and who.display and who.display != _NULL):
        unmapped[NAME_NOT_KEPT] += 1
    if agent.role and agent.role != _NULL:
        unmapped[ROLE_NOT_KEPT] += 1


# What a memo holds is bounded by its texts' size, not their number: a part may be as long as a line
# (a mebibyte), and a file of distinct long parts must not grow a worker's memory with the file
_MEMO_BYTES = 32 << 20  # the texts a memo holds (each with its dictionary entry), then it starts again
_MEMO_KEY_BYTES = 16 << 10  # a part longer than this is mapped each time it comes, never held
_ENTRY_BYTES = 100  # a key's object and its dictionary entry, about


class _Memo:
    """What `mapping` gives for a key (a part's text), worked out once per key. A part the shortcut is
    not sure of (a shape it does not read, a value of another type) is remembered as such."""

    NOT_SURE = object()

    def __init__(self, mapping: Callable, size: Callable = len) -> None:
        self.mapping, self.size, self.known, self.held = mapping, size, {}, 0

    def __call__(self, key):
        found = self.known.get(key)
        if found is None:
            try:
                found = self.mapping(key)
            except (_NotSure, msgspec.ValidationError, msgspec.DecodeError, RecursionError):
                found = self.NOT_SURE
            size = self.size(key)
            if size <= _MEMO_KEY_BYTES:
                if self.held + size + _ENTRY_BYTES > _MEMO_BYTES:
                    self.known.clear()
                    self.held = 0
                self.known[key] = found
                self.held += size + _ENTRY_BYTES
        if found is self.NOT_SURE:
            raise _NotSure
        return found


def _head(key: tuple) -> tuple:
    """Of an event's type, subtypes, action code, failure and purposeOfEvent: its kind (see _kind), the
    purposes of the event, and the purpose, break-the-glass and reason they give alone (_purpose)."""
    kind, purposes = _kind(key[:4]), _purposes_of_event(key[4])
    return kind, purposes, _purpose(purposes, ())


def _kind(key: tuple) -> tuple[str, bool] | str:
    """(action, break-the-glass) of an event's type, subtypes, action code and failure, or why the
    contract records none (the refusal's text: raised where the general mapper raises it)."""
    kind, subtypes, verb, failed = key
    kind = msgspec.json.decode(kind, type=Optional[Coding]) if kind else None
    subtypes = msgspec.json.decode(subtypes, type=list[Coding]) if subtypes else []
    if (kind is not None and kind.coding is not None) or any(c.coding is not None for c in subtypes):
        raise _NotSure  # a CodeableConcept where a Coding is expected
    codes = {str(kind.code)} if kind is not None else set()
    try:
        return action_of_codes(codes, {str(c.code) for c in subtypes}, verb, failed)
    except Unmappable as refused:
        return str(refused)


def _purposes_of_event(text: bytes) -> tuple[tuple[str, str | None], ...]:
    """The (code, BTG's text) of purposeOfEvent's codes, in order."""
    concepts = msgspec.json.decode(text, type=list[Concept]) if text else []
    return tuple(_purposes(concepts))


def _purposes(concepts: list[Concept]) -> Iterator[tuple[str, str | None]]:
    for concept in concepts:
        for code in _codings(concept):
            text = _text(code.code)
            if text:  # purpose_of reads a concept's text only for BTG
                yield text, _text(concept.text) if text == BTG else None


def _entity(text: bytes) -> tuple[bool, str | None, str | None, tuple[str, ...]]:
    """Of one entity: whether it is the patient, the MRN it names if so, the record type of its first
    sensitivity label, and the resource types it names. Every coding it holds is checked (the general
    mapper may read any of them)."""
    entity = msgspec.json.decode(text, type=Entity)
    labels = [label.code for label in entity.securityLabel if _plain(label)]
    kinds = _kinds(entity)
    patient = _is_patient(entity)
    mrn = None
    if patient and entity.what is not None:
        identifier = entity.what.identifier
        mrn = (_mrn(identifier) if identifier is not None else None) or reference_id(entity.what.reference, "Patient")
    label = next((SENSITIVE_LABELS[code] for code in labels if code in SENSITIVE_LABELS), None)
    return patient, mrn, label, kinds


_HEADS = _Memo(_head, size=lambda key: len(key[0]) + len(key[1]) + len(key[2] or "") + len(key[4]))
_ENTITIES = _Memo(_entity)
_HEAD_KNOWN, _ENTITY_KNOWN = _HEADS.known, _ENTITIES.known


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


def _is_patient(entity: Entity) -> bool:
    what = entity.what
    if what is not None and what.reference is not None and reference_id(what.reference, "Patient"):
        return True
    role, kind = _coding(entity.role), _coding(entity.type)
    return bool(role) and role[0].code == "1" and bool(kind) and kind[0].code in ("1", "Patient")


def _patient_and_record(entities: list[tuple], unmapped) -> tuple[str | None, str | None]:
    """The first patient entity's MRN and the record type: a sensitivity label on any entity first,
    then the resource types of the entities that are not the patient (demographics when there are none)."""
    if len(entities) == 2 and entities[0][0] and entities[0][1] and not entities[1][0]:  # the usual event:
        return entities[0][1], entities[0][2] or entities[1][2] or record_type_of(entities[1][3], unmapped)  # the loop's answer
    mrn, label, kinds, others = None, None, [], False
    for patient, its_mrn, its_label, its_kinds in entities:
        label = label or its_label
        if mrn is None and patient:
            mrn = its_mrn
        elif not patient:
            others = True
            kinds += its_kinds
    if not mrn:
        return mrn, None
    record_type = label or record_type_of(kinds, unmapped)
    return mrn, "demographics" if record_type is None and not others else record_type


def _mrn(identifier: Identifier) -> str | None:
    text = _text(identifier.value)
    if text is None or identifier.system == MRN:
        return text
    return _text(text.split("^", 1)[0])


def _kinds(entity: Entity) -> tuple[str, ...]:
    kinds = []
    what = entity.what
    if what is not None:
        if what.type is not None and TYPE_NAME.fullmatch(what.type):
            kinds.append(what.type)
        reference = what.reference
        if reference is not None and "/" in reference and not reference.startswith("#"):
            kinds.append(reference.split("/")[-2] if "/_history/" not in reference else reference.split("/")[-4])
    kinds += [t.code for t in _coding(entity.type) if t.code is not None and TYPE_NAME.fullmatch(t.code)]
    return tuple(kinds)


def _purpose(of_event: tuple, of_use: tuple) -> tuple[str | None, bool, str | None]:
    found = of_event + of_use if of_use else of_event
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
