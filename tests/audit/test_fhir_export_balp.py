"""BALP profiles on the exported AuditEvents (auditor.audit.fhir_export): an event claims a BALP profile
(`meta.profile`) exactly when it has the shape that profile requires, as far as a shape can be checked
here (type, subtype, action, outcome, agent and entity slices). The rules below are IHE ITI BALP's
(github.com/IHE/ITI.BasicAudit, input/fsh: PatientRead.fsh, PatientQuery.fsh, PatientCreate.fsh,
PatientUpdate.fsh, PatientDelete.fsh, Disclose.fsh); the canonical URLs are its sushi-config canonical
https://profiles.ihe.net/ITI/BALP with /StructureDefinition/ and each profile's Id."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from zoneinfo import ZoneInfo

import orjson
import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from hypothesis import given, settings, strategies as st

from auditor.audit.events import ACTIONS
from auditor.audit.fhir_export import audit_event, privacy_disclosure
from auditor.ingest.formats import EVENT_SCHEMA, MappedEvent, Unmappable
from auditor.ingest.formats.fhir_fast import fast_row
from auditor.ingest.formats.fhir_mapping import map_event
from tests.audit.test_fhir_export import events, ledger_entries

CANONICAL = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
DCM = "http://dicom.nema.org/resources/ontology/DCM"
REST = ("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest")
INTERACTION = "http://hl7.org/fhir/restful-interaction"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SCT = "http://snomed.info/sct"
PERSON = ("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1")
SYSTEM_OBJECT = ("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2")
ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PATIENT_ROLE, QUERY_ROLE = (ROLE, "1"), (ROLE, "24")
REST_OBJECT_ROLES = {(ROLE, "4"), (ROLE, "3"), (ROLE, "20")}  # RestObjectRoles
DATA_SOURCES = {(PARTICIPATION, "AUT"), (PARTICIPATION, "INF"), (PARTICIPATION, "CST")}  # the user of C/U/D
ZONE = ZoneInfo("UTC")


def _rest(subtypes, action, client, server, users, *, query=False, data_role=False) -> dict:
    return {"type": REST, "subtypes": {(INTERACTION, s) for s in subtypes}, "action": action, "outcome": "0",
            # agent slices by type: (min, max, needs network, needs requestor true, forbids network)
            "agents": {client: (1, 1, True, False, False), server: (1, 1, True, False, False),
                       **{u: (0, 1, False, True, True) for u in users}},
            "query": query, "data_role": data_role}


_READ = _rest(["read", "vread"], "R", (DCM, "110152"), (DCM, "110153"), [(PARTICIPATION, "IRCP")])
_QUERY = _rest(["search", "search-type", "search-system"], "E", (DCM, "110153"), (DCM, "110152"),
               [(PARTICIPATION, "IRCP")], query=True)
_CREATE = _rest(["create"], "C", (DCM, "110153"), (DCM, "110152"), DATA_SOURCES, data_role=True)
_UPDATE = _rest(["update", "patch"], "U", (DCM, "110153"), (DCM, "110152"), DATA_SOURCES, data_role=True)
_DELETE = _rest(["delete"], "D", (DCM, "110150"),
                ("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "custodian"), DATA_SOURCES,
                data_role=True)
PROFILES = {"Read": _READ, "Query": _QUERY, "Create": _CREATE, "Update": _UPDATE, "Delete": _DELETE,
            **{"Patient" + name: {**rule, "patient": True} for name, rule in
               [("Read", _READ), ("Query", _QUERY), ("Create", _CREATE), ("Update", _UPDATE), ("Delete", _DELETE)]},
            "PrivacyDisclosure.Source": {
                "type": (DCM, "110106"), "subtypes": {("http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle",
                                                       "disclose")}, "action": "R", "outcome": None,
                "agents": {(DCM, "110153"): (1, 1, True, False, False), (DCM, "110152"): (1, 1, True, False, False),
                           (SCT, "159541003"): (0, 1, False, False, False),  # custodian
                           (SCT, "429577009"): (0, 1, False, False, False)},  # authorizer
                "source_is_observer": (DCM, "110153"), "patient": True, "min_entities": 2}}
CANDIDATES = {"view": "Read", "search": "Query", "create": "Create", "update": "Update", "delete": "Delete"}


def _present(value) -> bool:
    """A FHIR element that is there: a value, or children (ele-1: no empty element)."""
    if isinstance(value, dict):
        return any(_present(v) for v in value.values())
    if isinstance(value, list):
        return any(_present(v) for v in value)
    return value is not None and value != ""


def _pair(coding) -> tuple:
    return (coding.get("system"), coding.get("code")) if isinstance(coding, dict) else (None, None)


def _typed(items: list[dict], code: tuple, concept: bool) -> list[dict]:
    """The items a slice by `type` (pattern) takes: a CodeableConcept holding the coding, or that Coding."""
    return [i for i in items if (code in {_pair(c) for c in i.get("type", {}).get("coding", [])} if concept
                                 else _pair(i.get("type")) == code)]


def violations(resource: dict, profile: str) -> list[str]:
    """What of `profile`'s shape the resource lacks (empty: it has the shape BALP requires)."""
    rule, found = PROFILES[profile], []
    if _pair(resource.get("type")) != rule["type"]:
        found.append(f"type is not {rule['type'][1]}")
    matching = [s for s in resource.get("subtype", []) if _pair(s) in rule["subtypes"]]
    if len(matching) != 1:
        found.append(f"{len(matching)} subtypes of {sorted(c for _, c in rule['subtypes'])}, not 1")
    if resource.get("action") != rule["action"]:
        found.append(f"action is not {rule['action']}")
    if not _present(resource.get("outcome")) or rule["outcome"] not in (None, resource.get("outcome")):
        found.append(f"outcome is not {rule['outcome'] or 'there'}")
    agents = resource.get("agent", [])
    if len(agents) < 2:
        found.append(f"{len(agents)} agents, not 2 or more")
    for code, (least, most, network, requestor, no_network) in rule["agents"].items():
        sliced = _typed(agents, code, concept=True)
        if not least <= len(sliced) <= most:
            found.append(f"{len(sliced)} agents typed {code[1]}, not {least}..{most}")
        for agent in sliced:
            if not _present(agent.get("who")):
                found.append(f"agent {code[1]} has no who")
            if network and not _present(agent.get("network")):
                found.append(f"agent {code[1]} has no network")
            if requestor and agent.get("requestor") is not True:
                found.append(f"agent {code[1]} is not the requestor")
            if no_network and "network" in agent:
                found.append(f"agent {code[1]} (a user) has a network")
            if rule.get("source_is_observer") == code and agent.get("who") != resource.get("source", {}).get("observer"):
                found.append("the source agent is not the observer (val-audit-source)")
    entities = resource.get("entity", [])
    least = rule.get("min_entities", 2 if rule.get("patient") else 1)
    if len(entities) < least:
        found.append(f"{len(entities)} entities, not {least} or more")
    if "query" in rule:  # the RESTful profiles: one data (or query) entity, typed System Object
        sliced = _typed(entities, SYSTEM_OBJECT, concept=False)
        if len(sliced) != 1:
            found.append(f"{len(sliced)} System Object entities, not 1")
        for entity in sliced:
            if rule["query"]:
                if _pair(entity.get("role")) != QUERY_ROLE or not _present(entity.get("query")) \
                        or "what" in entity or "detail" in entity or "lifecycle" in entity:
                    found.append("the query entity is not role 24 with a query and no what")
            else:
                if not _present(entity.get("what")):
                    found.append("the data entity has no what")
                if ("role" in entity or rule["data_role"]) and _pair(entity.get("role")) not in REST_OBJECT_ROLES:
                    found.append("the data entity's role is not a RestObjectRoles code")
    if rule.get("patient"):
        sliced = _typed(entities, PERSON, concept=False)
        if len(sliced) != 1:
            found.append(f"{len(sliced)} Person entities, not 1")
        for entity in sliced:
            what = entity.get("what", {})
            if _pair(entity.get("role")) != PATIENT_ROLE:
                found.append("the patient entity's role is not Patient")
            if not _present(what) or what.get("type", "Patient") != "Patient" \
                    or not str(what.get("reference", "Patient/")).startswith("Patient/"):
                found.append("the patient entity's what is not a Reference(Patient)")
    return found


def _claimed(resource: dict) -> list[str]:
    profiles = resource.get("meta", {}).get("profile", [])
    assert all(p.startswith(CANONICAL) for p in profiles)
    return [p[len(CANONICAL):] for p in profiles]


def _conforming(resource: dict, action: str, has_patient: bool) -> list[str]:
    """The BALP profiles an exported event of `action` may claim, those whose shape it has."""
    candidates = []
    if action in CANDIDATES:
        candidates = [("Patient" if has_patient else "") + CANDIDATES[action]]
    elif action == "disclose":
        candidates = ["PrivacyDisclosure.Source"]
    return [p for p in candidates if not violations(resource, p)]


def _read_back_both_ways(resource: dict):
    """The general mapper's event (None: its refusal), which the NDJSON shortcut gives too, with the
    same warnings: the shortcut takes every exported line (fast_row never leaves one to the general path)."""
    line = orjson.dumps(resource)
    general_warned, fast_warned = Counter(), Counter()
    try:
        general = map_event(json.loads(line), ZONE, general_warned, line.decode("utf-8"))
    except Unmappable as refused:
        with pytest.raises(Unmappable, match=re.escape(str(refused))):
            fast_row(line, ZONE, fast_warned)
        return None
    row = fast_row(line, ZONE, fast_warned)
    assert row is not None, "the NDJSON shortcut left an exported line to the general mapper"
    assert MappedEvent(**dict(zip(EVENT_SCHEMA.names, row))) == general and fast_warned == general_warned
    return general


@settings(max_examples=200, deadline=None)
@given(events, st.none() | st.just("MRN-1"))
def test_an_exported_event_claims_the_balp_profiles_whose_shape_it_has_and_no_other(event, mrn):
    mrn = mrn if event["patient_id"] is not None else None
    resource = audit_event(event, mrn, None)
    assert _claimed(resource) == _conforming(resource, event["action"], mrn is not None)
    AuditEvent.model_validate(resource)
    back = _read_back_both_ways(resource)
    assert back is None or back.user_id == event["user_id"]


@pytest.mark.parametrize("role", [None, "nurse"])
@pytest.mark.parametrize("action", ACTIONS)
def test_what_each_kind_of_exported_event_claims(action, role):
    """None: the log's events lack what BALP's profiles require (see auditor.audit.fhir_export)."""
    event = {"seq": 1, "at_us": 0, "source": "ehr", "source_event_id": "e1", "user_id": "u1", "role": role,
             "action": action, "patient_id": 1, "record_type": "note", "outcome": "success", "purpose": "TREAT",
             "break_glass": False, "reason": None, "workstation": "WS-1"}
    resource = audit_event(event, "MRN-1", None)
    assert "meta" not in resource
    if action in CANDIDATES:  # why: the transaction's client and server are not in an access log
        why = violations(resource, "Patient" + CANDIDATES[action])
        assert "1 agents, not 2 or more" in why and sum(w.startswith("0 agents typed") for w in why) == 2
    AuditEvent.model_validate(resource)
    _read_back_both_ways(resource)


@settings(max_examples=100, deadline=None)
@given(ledger_entries, st.none() | st.just("MRN-1"))
def test_a_ledger_entry_is_a_balp_privacy_disclosure_source_when_its_patient_is_known(entry, mrn):
    resource = privacy_disclosure(entry, mrn)
    assert violations(resource, "PrivacyDisclosure.Source") == ([] if mrn else ["the patient entity's what is not "
                                                                                "a Reference(Patient)"])
    assert _claimed(resource) == (["PrivacyDisclosure.Source"] if mrn else [])
    AuditEvent.model_validate(resource)
    back = _read_back_both_ways(resource)
    assert back is None or (back.action, back.mrn, back.user_id) == ("disclose", mrn, entry["released_by"])


def _balp_patient_read() -> dict:
    """A PatientRead as BALP's example ex-auditBasicReadServer has it (synthetic names)."""
    return {"resourceType": "AuditEvent", "type": {"system": REST[0], "code": "rest"},
            "subtype": [{"system": INTERACTION, "code": "read"}], "action": "R", "recorded": "2026-11-05T08:10:00Z",
            "outcome": "0", "source": {"site": "server.example", "observer": {"display": "server.example"}},
            "agent": [{"type": {"coding": [{"system": DCM, "code": "110153"}]}, "requestor": False,
                       "who": {"display": "server.example"}, "network": {"address": "http://server.example/fhir"}},
                      {"type": {"coding": [{"system": DCM, "code": "110152"}]}, "requestor": False,
                       "who": {"display": "ws-1.example"}, "network": {"address": "ws-1.example"}},
                      {"type": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]}, "requestor": True,
                       "who": {"identifier": {"value": "u1"}}}],
            "entity": [{"type": {"system": SYSTEM_OBJECT[0], "code": "2"}, "role": {"system": ROLE, "code": "4"},
                        "what": {"reference": "List/ex-list"}},
                       {"type": {"system": PERSON[0], "code": "1"}, "role": {"system": ROLE, "code": "1"},
                        "what": {"reference": "Patient/ex-patient"}}]}


def _drop(path: tuple):
    def change(resource: dict) -> None:
        here = resource
        for step in path[:-1]:
            here = here[step]
        del here[path[-1]]
    return change


@pytest.mark.parametrize("change", [
    _drop(("agent", 0)), _drop(("agent", 1, "network")), _drop(("entity", 1)), _drop(("entity", 0, "what")),
    _drop(("subtype", 0)), lambda r: r.update(outcome="4"), lambda r: r.update(action="E"),
    lambda r: r["agent"][2].update(network={"address": "ws-1"}), lambda r: r["agent"][1].update(network={}),
    lambda r: r["entity"][1].update(what={"reference": "Group/g1"}), lambda r: r["entity"][0].update(role={"code": "24"}),
])
def test_the_shape_check_knows_balp_s_own_example_and_what_it_must_not_lack(change):
    example = _balp_patient_read()
    assert violations(example, "PatientRead") == [] and violations(example, "Read") == []
    assert violations(example, "PatientQuery") and violations(example, "PrivacyDisclosure.Source")
    broken = copy.deepcopy(example)
    change(broken)
    assert violations(broken, "PatientRead")
