"""FHIR AuditEvent, R4 and R5: NDJSON (a bulk export: one resource a line), Bundles and single
resources, in JSON or XML, mapped as the IHE Basic Audit Log Patterns (BALP) write them.

| contract field | FHIR R4 | FHIR R5 |
|---|---|---|
| event_id | the extension `urn:auditor:fhir:source-event-id` (an auditor's export), else `id` (none: `sha256:` and the digest of the resource) | same |
| timestamp | `recorded` (then `period.start`) | `recorded` (then `occurredDateTime`, `occurredPeriod.start`) |
| user_id | the requestor agent's `who.identifier.value`, else the id its `who.reference` names (a requestor typed DICOM Application 110150 is an application's work: quarantined) | same |
| mrn | the entity whose role is Patient (object-role 1) or whose `what` is a Patient: its identifier's value (an HL7 CX: the part before `^`), else the reference's id | `patient`, then as R4 |
| action | see `action_of`: restful read/vread/history: view, search: search, create, update/patch, delete; DICOM Query 110112: search, Export 110106: export (disclose with a `Disclosure` / `disclose` subtype), Import 110107: create; a failed User Authentication 110114: login_failed; a `print` code: print; otherwise the action code C/R/U/D | same, from `category` and `code` |
| record_type | an entity's sensitivity label (v3 ActCode PSYTHPN, PSY: psychotherapy_note; ETH, SUD: substance_use; HIV; GDIS: genetic), else the other entities' resource types (`RECORD_TYPES`; another type: other); only the patient: demographics | same |
| outcome | `outcome` 0: success; 4, 8, 12: denied | `outcome.code` |
| purpose_of_use | `purposeOfEvent`, then the requestor's `purposeOfUse` (v3 ActReason / PurposeOfUse codes) | `authorization`, then the requestor's `authorization` |
| break_glass | a purpose BTG, or a DICOM Security Alert (110113) with subtype Emergency Override Started (110127) | same |
| reason | with break-the-glass: the text of the BTG purpose | same |
| workstation | the requestor's `network.address` (else the first agent's) | `networkString` |

BALP says a consumer shall not reject an event that does not conform: what can be mapped is, and what
could not be is counted (the ingest's warnings name it). An event is quarantined only when it names no
user, no time or no action the contract records (a successful sign-in, an application start), or
cannot be read (not JSON or XML, not an AuditEvent, too big, nested past orjson's 1,024 levels), with its place (NDJSON
line, Bundle entry) and a reason that quotes no value of it. XML is read with entities, DTDs and
external references refused (defusedxml), documents up to MAX_DOCUMENT bytes and NDJSON lines up to
MAX_LINE bytes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import orjson

from auditor.audit.fhir_export import APPLICATION, EVENT_ID
from auditor.errors import InputError
from auditor.ingest.formats import ChunkBuilder, EventChunk, MappedEvent, Unmappable, instant_us
from auditor.ingest.formats.codes import BTG, action_of_codes
from auditor.ingest.formats.fhir_xml import XmlRefused, resource_of_xml

SUFFIXES = (".ndjson", ".json", ".xml")
MAX_LINE = 1 << 20  # an NDJSON line (one resource)
MAX_DOCUMENT = 64 << 20  # a JSON or XML document (a resource or a Bundle)

RECORD_TYPES = {"Patient": "demographics", "RelatedPerson": "demographics", "Observation": "lab",
                "DiagnosticReport": "lab", "Specimen": "lab", "ImagingStudy": "imaging", "Media": "imaging",
                "Medication": "medication", "MedicationRequest": "medication", "MedicationStatement": "medication",
                "MedicationAdministration": "medication", "MedicationDispense": "medication", "ServiceRequest": "order",
                "DocumentReference": "note", "Composition": "note", "ClinicalImpression": "note", "Basic": "other"}
# HL7 v3 ActCode sensitivity labels on an entity (securityLabel): the contract's sensitive record types
SENSITIVE_LABELS = {"PSYTHPN": "psychotherapy_note", "PSY": "psychotherapy_note", "ETH": "substance_use",
                    "SUD": "substance_use", "HIV": "hiv", "GDIS": "genetic"}
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{0,63}")


class FhirAuditEvents:
    name = "fhir"

    def __init__(self, max_line: int = MAX_LINE, max_document: int = MAX_DOCUMENT,
                 parallel_from: int | None = None, range_bytes: int | None = None) -> None:
        self.max_line, self.max_document = max_line, max_document
        self.parallel_from = PARALLEL_FROM_BYTES if parallel_from is None else parallel_from
        self.range_bytes = RANGE_BYTES if range_bytes is None else range_bytes

    def files(self, path: Path) -> list[Path]:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not found:
                raise InputError(f"{path} holds no FHIR file (.ndjson, .json or .xml)")
            return found
        if not path.is_file():
            raise InputError(f"{path} is not a file or a folder")
        if path.suffix.lower() not in SUFFIXES:
            raise InputError(f"{path.name}: a FHIR file ends in .ndjson, .json or .xml")
        return [path]

    def chunks(self, file: Path, zone: ZoneInfo) -> Iterator[EventChunk]:
        if file.suffix.lower() == ".ndjson" and file.stat().st_size >= self.parallel_from:
            yield from _mapped_in_workers(file, zone, self.max_line, self.range_bytes)
            return
        yield from _mapped(file.name, _records(file, self.max_line, self.max_document), zone)


def _mapped(name: str, records, zone: ZoneInfo) -> Iterator[EventChunk]:
    builder = ChunkBuilder(name)
    for line, resource, problem, raw in records:
        if problem is not None:
            builder.reject(line, problem, raw)
        else:
            try:
                builder.add(map_event(resource, zone, builder.unmapped, raw), line, raw)
            except Unmappable as refused:
                builder.reject(line, str(refused), raw)
        if builder.full():
            yield builder.take()
    if builder.records:
        yield builder.take()


# -- a big NDJSON file: mapped by worker processes, a range of lines each, while this one appends -------

PARALLEL_FROM_BYTES = 8 << 20  # below this, starting the workers costs more than they save
RANGE_BYTES = 4 << 20  # about 3,500 AuditEvents
WORKERS = 2
AHEAD = 4  # ranges mapped ahead of the one being appended


def _ranges(file: Path, range_bytes: int) -> Iterator[tuple[int, int, int]]:
    """(start, end, number of its first line) of ranges of whole lines, about `range_bytes` each."""
    size, start, line = file.stat().st_size, 0, 1
    with open(file, "rb") as f:
        while start < size:
            f.seek(min(start + range_bytes, size))
            rest = f.readline() if start + range_bytes < size else b""
            end = min(start + range_bytes, size) + len(rest)
            f.seek(start)
            line_count = f.read(end - start).count(b"\n")
            yield start, end, line
            start, line = end, line + line_count


def _map_range(path: str, start: int, end: int, first_line: int, zone: ZoneInfo, max_line: int) -> list[EventChunk]:
    """In a worker: the range's lines mapped (no database, no key: only the file)."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    parts = data.split(b"\n")
    whole = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])  # as a file's lines are read
    lines = enumerate(whole, start=first_line)
    return list(_mapped(Path(path).name, _ndjson_lines(lines, max_line), zone))


def _mapped_in_workers(file: Path, zone: ZoneInfo, max_line: int, range_bytes: int) -> Iterator[EventChunk]:
    """The file's chunks in order, mapped by WORKERS new interpreters (spawned: they inherit no open
    connection), AHEAD ranges ahead of the caller."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        pending: deque = deque()
        for start, end, first_line in _ranges(file, range_bytes):
            pending.append(pool.submit(_map_range, str(file), start, end, first_line, zone, max_line))
            while len(pending) > AHEAD:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


# -- reading: (place, resource, problem, raw) for each resource of a file -------------------------------

def canonical(resource: dict) -> str:
    """The resource as compact JSON with sorted keys: what an event's hash covers and quarantine keeps."""
    try:
        return orjson.dumps(resource, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits: the standard library writes it
        return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _records(file: Path, max_line: int, max_document: int) -> Iterator[tuple[int, dict | None, str | None, str]]:
    if file.suffix.lower() == ".ndjson":
        yield from _ndjson(file, max_line)
        return
    size = file.stat().st_size
    if size > max_document:
        yield 1, None, f"larger than {_size(max_document)}: not read (split it, or export NDJSON)", ""
        return
    data = file.read_bytes()
    if file.suffix.lower() == ".xml":
        try:
            document = resource_of_xml(data)
        except XmlRefused as refused:
            yield 1, None, str(refused), data.decode("utf-8", "replace")
            return
    else:
        document, problem = _json(data)
        if problem is not None:
            yield 1, None, problem, data.decode("utf-8", "replace")
            return
    yield from _resources(document, 1, entries_numbered=True)


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit:,} bytes"


def _ndjson(file: Path, max_line: int) -> Iterator[tuple[int, dict | None, str | None, str]]:
    with open(file, "rb") as lines:
        yield from _ndjson_lines(enumerate(lines, start=1), max_line)


def _ndjson_lines(lines, max_line: int) -> Iterator[tuple[int, dict | None, str | None, str]]:
    for number, line in lines:
        if not line.strip():
            continue
        if len(line) > max_line:
            yield number, None, f"a line longer than {_size(max_line)}", line.decode("utf-8", "replace")
            continue
        document, problem = _json(line.rstrip(b"\r\n"))
        if problem is not None:
            yield number, None, problem, line.decode("utf-8", "replace").rstrip("\r\n")
            continue
        yield from _resources(document, number, entries_numbered=False)


def _json(data: bytes) -> tuple[object, str | None]:
    try:
        return orjson.loads(data), None  # orjson refuses nesting past 1,024 levels (no stack to exhaust)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "UTF-8" in text or "surrogate" in text:
            return None, "not UTF-8 text"
        if "recursion" in text.lower() or "depth limit" in text:
            return None, "JSON nested too deeply"
        return None, f"not JSON (at line {exc.lineno}, column {exc.colno})"


def _resources(document, line: int, entries_numbered: bool) -> Iterator[tuple[int, dict | None, str | None, str]]:
    """The AuditEvents of a resource or of a Bundle's entries (`entries_numbered`: each entry's place is
    its number in the Bundle; otherwise every entry is at `line`)."""
    if not isinstance(document, dict):
        yield line, None, "not a FHIR resource (a JSON object)", json.dumps(document, ensure_ascii=False)
        return
    if document.get("resourceType") != "Bundle":
        yield line, document, None, canonical(document)
        return
    entries = document.get("entry")
    for n, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
        place = n if entries_numbered else line
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            yield place, None, "a Bundle entry without a resource", json.dumps(entry, ensure_ascii=False)
        else:
            yield place, resource, None, canonical(resource)


# -- mapping one AuditEvent -----------------------------------------------------------------------------

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


def _reference_id(reference: str | None, kind: str | None = None) -> str | None:
    """'Patient/123/_history/2' -> '123' (of `kind` only, when given)."""
    if not isinstance(reference, str) or "/" not in reference:
        return None
    parts = reference.split("/")
    at = parts.index("_history") if "_history" in parts else len(parts)
    if at < 2 or (kind is not None and parts[at - 2] != kind):
        return None
    return _text(parts[at - 1])


def _mrn(value: str | None) -> str | None:
    """An identifier's value; an HL7 v2 CX ('123^^^&1.2.3&ISO') is its first component."""
    text = _text(value)
    return _text(text.split("^", 1)[0]) if text else None


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
    return _text(identifier.get("value")) or _reference_id(who.get("reference"))


def _patient(event: dict, entities: list) -> tuple[str | None, list[dict]]:
    """The patient's MRN, and the entities that are not the patient."""
    named = event.get("patient")  # R5
    if isinstance(named, dict):
        identifier = named.get("identifier") if isinstance(named.get("identifier"), dict) else {}
        mrn = _mrn(identifier.get("value")) or _reference_id(named.get("reference"), "Patient")
        others = [e for e in entities if not _is_patient(e)]
        return mrn, others
    mrn, others = None, []
    for entity in entities:
        if mrn is None and _is_patient(entity):
            what = entity.get("what") if isinstance(entity.get("what"), dict) else {}
            identifier = what.get("identifier") if isinstance(what.get("identifier"), dict) else {}
            mrn = _mrn(identifier.get("value")) or _reference_id(what.get("reference"), "Patient")
        elif not _is_patient(entity):
            others.append(entity)
    return mrn, others


def _is_patient(entity: dict) -> bool:
    what = entity.get("what") if isinstance(entity.get("what"), dict) else {}
    if _reference_id(what.get("reference"), "Patient"):
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
        if isinstance(what.get("type"), str) and _TYPE_NAME.fullmatch(what["type"]):  # a Reference's type alone
            kinds.append(what["type"])
        if isinstance(reference, str) and "/" in reference and not reference.startswith("#"):
            kinds.append(reference.split("/")[-2] if "/_history/" not in reference else reference.split("/")[-4])
        kinds += [t["code"] for t in _codings(entity.get("type"))  # a resource type, not an audit-entity-type number
                  if isinstance(t.get("code"), str) and _TYPE_NAME.fullmatch(t["code"])]
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
        name = kind if isinstance(kind, str) and _TYPE_NAME.fullmatch(kind) else "resource"
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
    return MappedEvent(event_id=event_id, at_us=at_us, user_id=user, action=action, mrn=mrn, record_type=record_type,
                       outcome="denied" if failed else "success", purpose=purpose, break_glass=glass,
                       reason=reason if glass else None, workstation=_workstation(agent, agents),
                       row_hash=digest)


def _source_event_id(event: dict) -> str | None:
    """The event id an auditor's export kept in its extension (an id that is not a FHIR id)."""
    for extension in _all(event.get("extension")):
        if isinstance(extension, dict) and extension.get("url") == EVENT_ID:
            return _text(extension.get("valueString"))
    return None


def _get(event: dict, element: str, child: str):
    value = event.get(element)
    return value.get(child) if isinstance(value, dict) else None
