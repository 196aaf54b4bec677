"""One FHIR AuditEvent (R4 or R5, as JSON or as auditor.ingest.formats.fhir_xml gives XML) as the
contract's fields, per the IHE Basic Audit Log Patterns: the table is in auditor.ingest.formats.fhir,
which reads the files."""

from __future__ import annotations

import hashlib
import json
import re
from zoneinfo import ZoneInfo

import orjson

from auditor.audit.fhir_codes import APPLICATION, EVENT_ID, MRN
from auditor.ingest.formats import MappedEvent, Unmappable, instant_us
from auditor.ingest.formats.codes import BTG, action_of_codes

RECORD_TYPES = {"Patient": "demographics", "RelatedPerson": "demographics", "Observation": "lab",
                "DiagnosticReport": "lab", "Specimen": "lab", "ImagingStudy": "imaging", "Media": "imaging",
                "Medication": "medication", "MedicationRequest": "medication", "MedicationStatement": "medication",
                "MedicationAdministration": "medication", "MedicationDispense": "medication", "ServiceRequest": "order",
                "DocumentReference": "note", "Composition": "note", "ClinicalImpression": "note", "Basic": "other"}
# HL7 v3 ActCode sensitivity labels on an entity (securityLabel): the contract's sensitive record types
SENSITIVE_LABELS = {"PSYTHPN": "psychotherapy_note", "PSY": "psychotherapy_note", "ETH": "substance_use",
                    "SUD": "substance_use", "HIV": "hiv", "GDIS": "genetic"}
TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{0,63}")


def canonical(resource: dict) -> str:
    """The resource as compact JSON with sorted keys: what an event's hash covers and quarantine keeps."""
    try:
        return orjson.dumps(resource, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits: the standard library writes it
        return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _all(value) -> list:
    """A FHIR element that may repeat, as a list (XML gives a single one as itself)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _codings(concepts) -> list[dict]:
    """The codings of Coding or CodeableConcept values."""
    out = []
    for c in _all(concepts):
        if isinstance(c, dict):
            out += [x for x in _all(c.get("coding")) if isinstance(x, dict)] if "coding" in c else [c]
    return out


def _text(value) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def reference_id(reference: str | None, kind: str | None = None) -> str | None:
    """'Patient/123/_history/2' -> '123' (of `kind` only, when given)."""
    if not isinstance(reference, str) or "/" not in reference:
        return None
    parts = reference.split("/")
    at = parts.index("_history") if "_history" in parts else len(parts)
    if at < 2 or (kind is not None and parts[at - 2] != kind):
        return None
    return _text(parts[at - 1])


def _mrn(identifier: dict) -> str | None:
    """An identifier's value; an HL7 v2 CX ('123^^^&1.2.3&ISO') is its first component, unless the
    identifier is an MRN as an auditor's export writes it (whole, whatever it holds)."""
    text = _text(identifier.get("value"))
    if text is None or identifier.get("system") == MRN:
        return text
    return _text(text.split("^", 1)[0])


def _instant(value, zone: ZoneInfo) -> int | None:
    return instant_us(value, zone)


def _requestor(agents: list) -> dict | None:
    for agent in agents:
        if isinstance(agent, dict) and str(agent.get("requestor")).lower() == "true":
            return agent
    return None


def _user(agent: dict) -> str | None:
    who = agent.get("who") if isinstance(agent.get("who"), dict) else {}
    identifier = who.get("identifier") if isinstance(who.get("identifier"), dict) else {}
    return _text(identifier.get("value")) or reference_id(who.get("reference"))


def _patient(event: dict, entities: list) -> tuple[str | None, list[dict]]:
    """The patient's MRN, and the entities that are not the patient."""
    named = event.get("patient")  # R5
    if isinstance(named, dict):
        identifier = named.get("identifier") if isinstance(named.get("identifier"), dict) else {}
        mrn = _mrn(identifier) or reference_id(named.get("reference"), "Patient")
        others = [e for e in entities if not _is_patient(e)]
        return mrn, others
    mrn, others = None, []
    for entity in entities:
        if mrn is None and _is_patient(entity):
            what = entity.get("what") if isinstance(entity.get("what"), dict) else {}
            identifier = what.get("identifier") if isinstance(what.get("identifier"), dict) else {}
            mrn = _mrn(identifier) or reference_id(what.get("reference"), "Patient")
        elif not _is_patient(entity):
            others.append(entity)
    return mrn, others


def _is_patient(entity: dict) -> bool:
    what = entity.get("what") if isinstance(entity.get("what"), dict) else {}
    if reference_id(what.get("reference"), "Patient"):
        return True
    roles = _codings(entity.get("role"))
    types = _codings(entity.get("type"))
    return any(r.get("code") == "1" for r in roles) and any(t.get("code") in ("1", "Patient") for t in types)


def _record_type(entities: list[dict], others: list[dict], unmapped) -> str | None:
    """The record type: a sensitivity label on any entity first (42 CFR Part 2, psychotherapy notes...),
    then the resource type of an entity that is not the patient."""
    for entity in entities:
        for label in _codings(entity.get("securityLabel")):
            code = label.get("code")
            if isinstance(code, str) and code in SENSITIVE_LABELS:
                return SENSITIVE_LABELS[code]
    kinds = []
    for entity in others:
        what = entity.get("what") if isinstance(entity.get("what"), dict) else {}
        reference = what.get("reference")
        if isinstance(what.get("type"), str) and TYPE_NAME.fullmatch(what["type"]):  # a Reference's type alone
            kinds.append(what["type"])
        if isinstance(reference, str) and "/" in reference and not reference.startswith("#"):
            kinds.append(reference.split("/")[-2] if "/_history/" not in reference else reference.split("/")[-4])
        kinds += [t["code"] for t in _codings(entity.get("type"))  # a resource type, not an audit-entity-type number
                  if isinstance(t.get("code"), str) and TYPE_NAME.fullmatch(t["code"])]
    return record_type_of(kinds, unmapped)


def record_type_of(kinds: list[str], unmapped) -> str | None:
    """The record type of the first resource type that has one; other for another type."""
    for kind in kinds:
        if kind in RECORD_TYPES:
            return RECORD_TYPES[kind]
    if kinds:
        unmapped["an entity of a resource type with no record type of its own (recorded as other)"] += 1
        return "other"
    return None


def _codes(event: dict) -> tuple[set[str], set[str]]:
    """The event's type codes (R4 type, R5 category and code) and subtype codes (R4 subtype)."""
    types = {str(c.get("code")) for c in _codings(event.get("type")) + _codings(event.get("category"))}
    subtypes = {str(c.get("code")) for c in _codings(event.get("subtype")) + _codings(event.get("code"))}
    return types, subtypes


def action_of(event: dict, failed: bool) -> tuple[str, bool]:
    """(the contract's action, break-the-glass) of an AuditEvent; Unmappable when it records none."""
    types, subtypes = _codes(event)
    return action_of_codes(types, subtypes, event.get("action") if isinstance(event.get("action"), str) else None,
                           failed)


def _failed(event: dict) -> bool:
    outcome = event.get("outcome")
    if isinstance(outcome, dict):  # R5: a Coding under `code`
        codes = [c.get("code") for c in _codings(outcome.get("code"))]
        return bool(codes) and codes[0] not in ("0", "success")
    return outcome is not None and str(outcome) not in ("0", "")


def _purpose(event: dict, agent: dict) -> tuple[str | None, bool, str | None]:
    """The purpose of use (event level first, then the requestor's; BTG only when no other is given),
    whether one of them is break-the-glass (BTG), and the text that goes with it (the reason)."""
    found: list[tuple[str, str | None]] = []
    for concepts in (event.get("purposeOfEvent"), event.get("authorization"), agent.get("purposeOfUse"),
                     agent.get("authorization")):
        for concept in _all(concepts):
            text = _text(concept.get("text")) if isinstance(concept, dict) else None
            found += [(c["code"].strip(), text) for c in _codings(concept) if _text(c.get("code"))]
    return purpose_of(found)


def purpose_of(found: list[tuple[str, str | None]]) -> tuple[str | None, bool, str | None]:
    """Of the (code, text) purposes found in order: the first that is not BTG (BTG when there is no
    other), whether one is BTG, and the first text that goes with a BTG (the reason)."""
    purposes = [code for code, _ in found if code != BTG]
    glass = [text for code, text in found if code == BTG]
    reason = next((t for t in glass if t), None) if glass else None
    return (purposes[0] if purposes else BTG if glass else None), bool(glass), reason


def _workstation(agent: dict, agents: list) -> str | None:
    for candidate in [agent] + [a for a in agents if isinstance(a, dict) and a is not agent]:
        network = candidate.get("network") if isinstance(candidate.get("network"), dict) else {}
        found = _text(network.get("address")) or _text(candidate.get("networkString")) or _text(candidate.get("networkUri"))
        if found:
            return found
    return None


def map_event(event: dict, zone: ZoneInfo, unmapped, raw: str | None = None) -> MappedEvent:
    """One AuditEvent as the contract's fields; Unmappable (a reason quoting no value) when it names no
    user, no time or no action the contract records."""
    kind = event.get("resourceType")
    if kind != "AuditEvent":
        name = kind if isinstance(kind, str) and TYPE_NAME.fullmatch(kind) else "resource"
        raise Unmappable(f"a {name}, not an AuditEvent")
    at_us = None
    for when in (event.get("recorded"), event.get("occurredDateTime"), _get(event, "occurredPeriod", "start"),
                 _get(event, "period", "start")):
        at_us = _instant(when, zone)
        if at_us is not None:
            break
    if at_us is None:
        raise Unmappable("no time that can be read (recorded)")
    agents = _all(event.get("agent"))
    agent = _requestor(agents)
    if agent is None:
        raise Unmappable("no user (no agent is the requestor)")
    user = _user(agent)
    if user is None:
        raise Unmappable("no user (the requestor names no identifier or reference)")
    if any(c.get("code") == APPLICATION for c in _codings(agent.get("type"))):
        raise Unmappable("the work of an application (DCM 110150), not a person's access")
    failed = _failed(event)
    action, glass = action_of(event, failed)
    entities = [e for e in _all(event.get("entity")) if isinstance(e, dict)]
    mrn, others = _patient(event, entities)
    record_type = _record_type(entities, others, unmapped) if mrn else None
    if mrn and record_type is None and not others:
        record_type = "demographics"  # the patient alone: their chart's front page
    purpose, btg, reason = _purpose(event, agent)
    glass = glass or btg
    raw = raw if raw is not None else canonical(event)
    digest = hashlib.sha256(raw.encode("utf-8")).digest()
    event_id = _source_event_id(event) or _text(event.get("id")) or f"sha256:{digest.hex()[:32]}"
    if action != "login_failed" and mrn is None and action in ("view", "update", "delete", "create", "print"):
        unmapped["a patient action that names no patient (loaded without one)"] += 1
    _what_the_requestor_says_of_itself(agent, unmapped)
    return MappedEvent(event_id=event_id, at_us=at_us, user_id=user, action=action, mrn=mrn, record_type=record_type,
                       outcome="denied" if failed else "success", purpose=purpose, break_glass=glass,
                       reason=reason if glass else None, workstation=_workstation(agent, agents),
                       row_hash=digest)


def _what_the_requestor_says_of_itself(agent: dict, unmapped) -> None:
    """BALP's requestor may carry a name (`name`, `who.display`) and a functional role (`role`): neither is
    kept. A user is who the workforce file says, with the role it gives (an export's word about a user is
    not trusted): each event that has them is counted, as BALP asks of what is not mapped."""
    who = agent.get("who") if isinstance(agent.get("who"), dict) else {}
    if agent.get("name") is not None or who.get("display") is not None:
        unmapped[NAME_NOT_KEPT] += 1
    if agent.get("role") is not None:
        unmapped[ROLE_NOT_KEPT] += 1


NAME_NOT_KEPT = "the requestor's name (not kept: users are named by the workforce file)"
ROLE_NOT_KEPT = "the requestor's role (not kept: a user's role is the workforce file's)"


def _source_event_id(event: dict) -> str | None:
    """The event id an auditor's export kept in its extension (an id that is not a FHIR id)."""
    for extension in _all(event.get("extension")):
        if isinstance(extension, dict) and extension.get("url") == EVENT_ID:
            return _text(extension.get("valueString"))
    return None


def _get(event: dict, element: str, child: str):
    value = event.get(element)
    return value.get(child) if isinstance(value, dict) else None
