"""FHIR AuditEvent in (auditor.ingest.formats.fhir): every official R4 example in ../shared/data maps
or is quarantined with its reason; R5's elements map as R4's do; XML says what JSON says; hardened
XML refuses entities and DTDs whole; a broken record loses none of the good ones around it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from auditor.errors import InputError
from auditor.ingest.formats import CHUNK_EVENTS, Unmappable
from auditor.ingest.formats.fhir import FhirAuditEvents
from auditor.ingest.formats.fhir_mapping import canonical, map_event
from tests.ingest.formats.fhir_data import audit_event as balp_event

EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fhir-r4-examples"
UTC = ZoneInfo("UTC")
AT_0810_UTC = int(datetime(2026, 11, 5, 8, 10, tzinfo=timezone.utc).timestamp()) * 1_000_000
READER = FhirAuditEvents()


def _read(file: Path, zone: ZoneInfo = UTC) -> tuple[list[dict], list, Counter, int]:
    events, rejected, unmapped, records = [], [], Counter(), 0
    for chunk in READER.chunks(file, zone):
        events += chunk.events.to_pylist()
        rejected += chunk.rejected
        unmapped.update(chunk.unmapped)
        records += chunk.records
        assert len(chunk.lines) == len(chunk.raws) == chunk.events.num_rows
    return events, rejected, unmapped, records


def _fields(event: dict, *names) -> tuple:
    return tuple(event[n] for n in names)


# -- the official R4 examples -----------------------------------------------------------------------------
MAPPED = {  # file -> (event_id, user, mrn, action, record_type, outcome, purpose, workstation)
    "audit-event-example-media.json": ("example-media", "95", "e3cdfc81a0d24bd", "export", "other", "success", None,
                                       None),
    "audit-event-example-pixQuery.json": ("example-pixQuery", "95", "e3cdfc81a0d24bd", "search", None, "success", None,
                                          "Workstation1.ehr.familyclinic.com"),
    "audit-event-example-search.json": ("example-search", "95", None, "search", None, "success", None,
                                        "Workstation1.ehr.familyclinic.com"),
    "audit-event-example-vread.json": ("example-rest", "95", "example", "view", "demographics", "success", None,
                                       "Workstation1.ehr.familyclinic.com"),
    "auditevent-example-disclosure.json": ("example-disclosure", "SomeIdiot@nowhere", "example", "disclose",
                                           "demographics", "success", "HMARKT", "custodian.net"),
    "auditevent-example-error.json": ("example-error", "95", None, "create", None, "denied", None,
                                      "Workstation1.ehr.familyclinic.com"),
}
QUARANTINED = {
    "audit-event-example-login.json": "a sign-in or sign-out is not an access the contract records",
    "audit-event-example-logout.json": "a sign-in or sign-out is not an access the contract records",
    "auditevent-example.json": "no user (no agent is the requestor)",
}
COLUMNS = ("event_id", "user_id", "mrn", "action", "record_type", "outcome", "purpose", "workstation")


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="../shared/data is beside the project")
def test_every_official_r4_audit_event_maps_or_is_quarantined_with_its_reason():
    files = [f for f in READER.files(EXAMPLES) if "audit" in f.name.lower()]
    assert {f.name for f in files} == set(MAPPED) | set(QUARANTINED)
    for file in files:
        events, rejected, unmapped, records = _read(file)
        assert records == 1
        if file.name in MAPPED:
            assert [_fields(e, *COLUMNS) for e in events] == [MAPPED[file.name]] and not rejected, file.name
        else:
            assert events == [] and [(r.line, r.reason) for r in rejected] == [(1, QUARANTINED[file.name])]
            assert json.loads(rejected[0].raw_row)["resourceType"] == "AuditEvent"  # kept whole
    assert _read(EXAMPLES / "audit-event-example-media.json")[2] == {
        "an entity of a resource type with no record type of its own (recorded as other)": 1,
        "the requestor's name (not kept: users are named by the workforce file)": 1}  # every example names its requestor


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="../shared/data is beside the project")
def test_other_resources_in_the_folder_are_quarantined_as_not_audit_events():
    events, rejected, _, _ = _read(EXAMPLES / "patient-example.json")
    assert events == [] and [r.reason for r in rejected] == ["a Patient, not an AuditEvent"]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="../shared/data is beside the project")
def test_every_fhir_file_of_the_shared_data_is_read_whole_and_each_resource_accounted_for():
    """Every resource in every FHIR file of ../shared/data (the official R4 examples, Synthea's Bundles)
    maps or is quarantined with its reason: the AuditEvents as above, every other resource as what it is."""
    files = READER.files(EXAMPLES) + READER.files(EXAMPLES.parent / "synthea" / "fhir")
    assert len(files) >= 90
    for file in files:
        events, rejected, _, records = _read(file)
        document = json.loads(file.read_text(encoding="utf-8"))
        entries = [e["resource"] for e in document["entry"]] if document["resourceType"] == "Bundle" else [document]
        assert records == len(entries) == len(events) + len(rejected) >= 1, file.name
        others = [r["resourceType"] for r in entries if r["resourceType"] != "AuditEvent"]
        assert sorted(r.reason for r in rejected if "not an AuditEvent" in r.reason) == sorted(
            f"a {kind}, not an AuditEvent" for kind in others), file.name
        assert all(r.reason and "\n" not in r.reason for r in rejected), file.name


# -- R5, sensitivity labels, break the glass ----------------------------------------------------------------
R5_BTG = {
    "resourceType": "AuditEvent", "id": "r5-btg",
    "category": [{"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"}]}],
    "code": {"coding": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}]},
    "action": "R", "recorded": "2026-11-05T03:10:00-05:00",
    "outcome": {"code": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-outcome", "code": "0"}},
    "authorization": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"}],
                       "text": "patient unconscious, no chart access"}],
    "patient": {"reference": "Patient/p1", "identifier": {"value": "MRN-0042"}},
    "agent": [{"who": {"identifier": {"value": "dr.grey"}}, "requestor": True, "networkString": "ED-WS-7"}],
    "entity": [{"what": {"reference": "Patient/p1"}},
               {"what": {"reference": "DocumentReference/d9"},
                "securityLabel": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSYTHPN"}]}],
}


def test_an_r5_event_maps_its_patient_outcome_authorization_and_network():
    event = map_event(R5_BTG, UTC, Counter())
    assert (event.event_id, event.user_id, event.mrn, event.action, event.record_type, event.outcome, event.purpose,
            event.break_glass, event.reason, event.workstation) == (
        "r5-btg", "dr.grey", "MRN-0042", "view", "psychotherapy_note", "success", "BTG", True,
        "patient unconscious, no chart access", "ED-WS-7")
    assert event.at_us == AT_0810_UTC


def test_a_failed_r5_outcome_is_denied_and_an_emergency_override_alert_is_break_the_glass():
    alert = dict(R5_BTG, id="alert", authorization=[], outcome={"code": {"code": "4"}},
                 category=[{"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110113"}]}],
                 code={"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110127"}]})
    event = map_event(alert, UTC, Counter())
    assert (event.action, event.outcome, event.break_glass) == ("view", "denied", True)


@pytest.mark.parametrize("change,reason", [
    ({"recorded": None}, "no time that can be read (recorded)"),
    ({"recorded": "last tuesday"}, "no time that can be read (recorded)"),
    ({"agent": [{"who": {"identifier": {"value": "x"}}}]}, "no user (no agent is the requestor)"),
    ({"agent": [{"who": {"display": "Dr Grey"}, "requestor": True}]}, "no user (the requestor names no identifier"),
    ({"category": [{"coding": [{"code": "110100"}]}], "code": None, "action": "E"},
     "application activity (DCM 110100) is not an access the contract records"),
    ({"resourceType": "Observation"}, "a Observation, not an AuditEvent"),
    ({"resourceType": "<script>"}, "a resource, not an AuditEvent"),
])
def test_an_event_without_user_time_or_action_is_refused_with_a_reason_that_quotes_nothing(change, reason):
    event = {k: v for k, v in {**R5_BTG, **change}.items() if v is not None}
    with pytest.raises(Unmappable, match=reason.replace("(", r"\(").replace(")", r"\)")) as refused:
        map_event(event, UTC, Counter())
    assert "dr.grey" not in str(refused.value) and "MRN-0042" not in str(refused.value)


def test_what_the_requestor_says_of_itself_is_not_kept_and_is_counted():
    """BALP: what is not mapped is recorded. A user's name and role are the workforce file's."""
    event = {**R5_BTG, "agent": [{**R5_BTG["agent"][0], "name": "Dr Grey", "role": [{"text": "Chief of surgery"}],
                                 "who": {**R5_BTG["agent"][0]["who"], "display": "Meredith Grey"}}]}
    unmapped = Counter()
    mapped = map_event(event, UTC, unmapped)
    assert replace(mapped, row_hash=None) == replace(map_event(R5_BTG, UTC, Counter()), row_hash=None)
    assert unmapped == {"the requestor's name (not kept: users are named by the workforce file)": 1,
                        "the requestor's role (not kept: a user's role is the workforce file's)": 1}
    assert "Grey" not in repr(mapped) and "surgery" not in repr(mapped)


def test_a_time_without_an_offset_is_read_in_the_organisation_s_zone():
    event = map_event(dict(R5_BTG, recorded="2026-11-05T03:10:00"), ZoneInfo("America/New_York"), Counter())
    assert event.at_us == AT_0810_UTC


def test_without_an_id_the_event_is_named_by_its_content_so_a_rerun_adds_nothing():
    anonymous = {k: v for k, v in R5_BTG.items() if k != "id"}
    first, again = map_event(anonymous, UTC, Counter()), map_event(json.loads(json.dumps(anonymous)), UTC, Counter())
    assert first.event_id == again.event_id and first.event_id.startswith("sha256:")
    assert first.row_hash == again.row_hash


# -- files: NDJSON, Bundles, XML ------------------------------------------------------------------------------
def _event(n: int) -> dict:
    return dict(R5_BTG, id=f"e{n}")


def _row(n: int) -> dict:
    """An access as a BALP writer sends it (R4, one patient and one record: what the shortcut maps)."""
    return {"event_id": f"r{n}", "timestamp": "2026-11-05T08:10:00Z", "user_id": "u1", "mrn": "MRN1", "action": "view",
            "record_type": "note", "outcome": "success", "purpose_of_use": "TREAT", "break_glass": "false",
            "reason": "", "workstation": "WS-1"}


def test_ndjson_with_broken_lines_loses_none_of_the_good_events_around_them(tmp_path):
    lines = [json.dumps(_event(1)), '{"resourceType": "AuditEvent", "id": ', "", json.dumps(_event(2)), "[1, 2]",
             json.dumps({"resourceType": "Bundle", "entry": [{"resource": _event(3)}, {"fullUrl": "x"}]})]
    file = tmp_path / "log.ndjson"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    events, rejected, _, records = _read(file)
    assert [e["event_id"] for e in events] == ["e1", "e2", "e3"]
    assert [(r.line, r.reason) for r in rejected] == [
        (2, "not JSON (at line 1, column 38)"), (5, "not a FHIR resource (a JSON object)"),
        (6, "a Bundle entry without a resource")]
    assert rejected[0].raw_row == lines[1] and records == 6


def test_a_bundle_s_entries_are_numbered(tmp_path):
    file = tmp_path / "bundle.json"
    file.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                "entry": [{"resource": _event(1)}, {"resource": {"resourceType": "Patient"}},
                                          {"resource": _event(2)}]}), encoding="utf-8")
    events, rejected, _, _ = _read(file)
    assert [e["event_id"] for e in events] == ["e1", "e2"]
    assert [(r.line, r.reason) for r in rejected] == [(2, "a Patient, not an AuditEvent")]


XML_EVENT = """<?xml version="1.0" encoding="UTF-8"?>
<AuditEvent xmlns="http://hl7.org/fhir">
  <id value="x1"/>
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">read</div></text>
  <type><system value="http://terminology.hl7.org/CodeSystem/audit-event-type"/><code value="rest"/></type>
  <subtype><system value="http://hl7.org/fhir/restful-interaction"/><code value="read"/></subtype>
  <action value="R"/>
  <recorded value="2026-11-05T08:10:00Z"/>
  <outcome value="0"/>
  <purposeOfEvent><coding><system value="http://terminology.hl7.org/CodeSystem/v3-ActReason"/><code value="TREAT"/></coding></purposeOfEvent>
  <agent>
    <who><identifier><value value="n.nurse"/></identifier></who>
    <requestor value="true"/>
    <network><address value="WARD-3"/><type value="1"/></network>
  </agent>
  <source><observer><display value="EHR"/></observer></source>
  <entity><what><reference value="Patient/p7"/></what></entity>
  <entity><what><reference value="Observation/o1"/></what></entity>
</AuditEvent>
"""


def test_xml_says_what_the_same_json_says(tmp_path):
    (tmp_path / "one.xml").write_text(XML_EVENT, encoding="utf-8")
    events, rejected, _, _ = _read(tmp_path / "one.xml")
    assert rejected == []
    assert [_fields(e, *COLUMNS) for e in events] == [("x1", "n.nurse", "p7", "view", "lab", "success", "TREAT", "WARD-3")]
    bundle = ('<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>'
              + "".join(f"<entry><resource>{XML_EVENT.split('?>', 1)[1].replace('x1', f'x{n}')}</resource></entry>"
                        for n in (2, 3)) + "</Bundle>")
    (tmp_path / "bundle.xml").write_text(bundle, encoding="utf-8")
    events, rejected, _, _ = _read(tmp_path / "bundle.xml")
    assert [e["event_id"] for e in events] == ["x2", "x3"] and rejected == []


R5_XML = """<?xml version="1.0" encoding="UTF-8"?>
<AuditEvent xmlns="http://hl7.org/fhir">
  <id value="r5-btg"/>
  <category><coding><system value="http://dicom.nema.org/resources/ontology/DCM"/><code value="110110"/></coding></category>
  <code><coding><system value="http://hl7.org/fhir/restful-interaction"/><code value="read"/></coding></code>
  <action value="R"/>
  <recorded value="2026-11-05T03:10:00-05:00"/>
  <outcome><code><system value="http://terminology.hl7.org/CodeSystem/audit-event-outcome"/><code value="0"/></code></outcome>
  <authorization><coding><system value="http://terminology.hl7.org/CodeSystem/v3-ActReason"/><code value="BTG"/></coding>
    <text value="patient unconscious, no chart access"/></authorization>
  <patient><reference value="Patient/p1"/><identifier><value value="MRN-0042"/></identifier></patient>
  <agent><who><identifier><value value="dr.grey"/></identifier></who><requestor value="true"/>
    <networkString value="ED-WS-7"/></agent>
  <source><observer><display value="EHR"/></observer></source>
  <entity><what><reference value="Patient/p1"/></what></entity>
  <entity><what><reference value="DocumentReference/d9"/></what>
    <securityLabel><system value="http://terminology.hl7.org/CodeSystem/v3-ActCode"/><code value="PSYTHPN"/></securityLabel></entity>
</AuditEvent>
"""


def test_r5_in_xml_says_what_the_same_r5_json_says(tmp_path):
    """R5_BTG written as FHIR R5 XML: its category, code, outcome, authorization, patient and
    networkString read as the JSON's do."""
    (tmp_path / "r5.xml").write_text(R5_XML, encoding="utf-8")
    events, rejected, _, _ = _read(tmp_path / "r5.xml")
    json_event = map_event(R5_BTG, UTC, Counter())
    assert rejected == [] and len(events) == 1
    fields = ("event_id", "at_us", "user_id", "mrn", "action", "record_type", "outcome", "purpose", "break_glass",
              "reason", "workstation")
    assert [events[0][f] for f in fields] == [getattr(json_event, f) for f in fields]
    assert events[0]["break_glass"] and events[0]["record_type"] == "psychotherapy_note"


def test_a_break_the_glass_reason_in_r4_xml_is_read_and_the_narrative_is_not(tmp_path):
    """A CodeableConcept's text is a primitive (the reason); the resource's text is its narrative."""
    btg = XML_EVENT.replace(
        '<code value="TREAT"/></coding></purposeOfEvent>',
        '<code value="BTG"/></coding><text value="coding patient, no chart access"/></purposeOfEvent>')
    (tmp_path / "btg.xml").write_text(btg, encoding="utf-8")
    events, rejected, _, _ = _read(tmp_path / "btg.xml")
    assert rejected == [] and [(e["break_glass"], e["reason"]) for e in events] == [(True, "coding patient, no chart access")]


LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<AuditEvent xmlns="http://hl7.org/fhir"><id value="&lol3;"/></AuditEvent>"""
XXE = """<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<AuditEvent xmlns="http://hl7.org/fhir"><id value="&x;"/></AuditEvent>"""


@pytest.mark.parametrize("text,reason", [
    (LAUGHS, "XML with a DTD, an entity or an external reference: refused unread"),
    (XXE, "XML with a DTD, an entity or an external reference: refused unread"),
    ("<AuditEvent xmlns='http://hl7.org/fhir'><id value='a & b'/></AuditEvent>", "not well-formed XML (at line 1"),
    ("<AuditEvent><id value='1'/></AuditEvent>", "not FHIR XML"),
])
def test_hostile_or_broken_xml_is_quarantined_whole(tmp_path, text, reason):
    (tmp_path / "bad.xml").write_text(text, encoding="utf-8")
    events, rejected, _, records = _read(tmp_path / "bad.xml")
    assert events == [] and records == 1 and len(rejected) == 1
    assert rejected[0].reason.startswith(reason) and rejected[0].raw_row == text


def test_a_document_or_a_line_too_big_is_not_read_and_says_so(tmp_path):
    small = FhirAuditEvents(max_line=200, max_document=100)
    (tmp_path / "big.json").write_text(json.dumps(_event(1)), encoding="utf-8")
    (tmp_path / "big.ndjson").write_text(json.dumps(_event(1)) + "\n" + json.dumps({"resourceType": "AuditEvent"}) + "\n",
                                         encoding="utf-8")
    document = [q for c in small.chunks(tmp_path / "big.json", UTC) for q in c.rejected]
    assert [(q.line, q.reason) for q in document] == [(1, "larger than 100 bytes: not read (split it, or export NDJSON)")]
    lines = [q for c in small.chunks(tmp_path / "big.ndjson", UTC) for q in c.rejected]
    assert [(q.line, q.reason) for q in lines][0] == (1, "a line longer than 200 bytes")
    assert lines[0].raw_row.startswith('{"resourceType"') and len(lines[0].raw_row) == 200  # its first bytes


@pytest.mark.parametrize("parallel_from", [1 << 62, 0])  # read here; by workers, a range of lines each
def test_a_line_far_longer_than_the_limit_is_read_past_not_held(tmp_path, parallel_from):
    reader = FhirAuditEvents(max_line=1000, parallel_from=parallel_from, range_bytes=4096)
    huge = '{"resourceType":"AuditEvent","x":"' + "a" * (3 << 20) + '"}'  # 3 MiB: read a mebibyte at a time
    file = tmp_path / "huge.ndjson"
    file.write_text("\n".join([json.dumps(_event(1)), huge, json.dumps(_event(2))]) + "\n", encoding="utf-8")
    chunks = list(reader.chunks(file, UTC))
    assert [e for c in chunks for e in c.events.column("event_id").to_pylist()] == ["e1", "e2"]
    assert [(q.line, q.reason, len(q.raw_row)) for c in chunks for q in c.rejected] == [
        (2, "a line longer than 1,000 bytes", 1000)]
    assert [line for c in chunks for line in c.lines] == [1, 3]


def test_json_nested_deeper_than_an_audit_event_needs_is_refused(tmp_path):
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    (tmp_path / "deep.ndjson").write_text(deep + "\n" + json.dumps(_event(1)) + "\n", encoding="utf-8")
    events, rejected, _, _ = _read(tmp_path / "deep.ndjson")
    assert [e["event_id"] for e in events] == ["e1"] and rejected[0].reason.startswith("JSON nested")


def test_the_files_it_reads_and_refuses(tmp_path):
    with pytest.raises(InputError, match="holds no FHIR file"):
        READER.files(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="ends in .ndjson, .json or .xml"):
        READER.files(tmp_path / "notes.txt")
    (tmp_path / "b.ndjson").write_text("")
    (tmp_path / "a.json").write_text("{}")
    assert [f.name for f in READER.files(tmp_path)] == ["a.json", "b.ndjson"]


def test_a_big_file_comes_in_chunks_in_order(tmp_path):
    file = tmp_path / "many.ndjson"
    file.write_text("".join(json.dumps(_event(n)) + "\n" for n in range(CHUNK_EVENTS + 10)), encoding="utf-8")
    chunks = list(FhirAuditEvents(parallel_from=1 << 62).chunks(file, UTC))  # read here, not by workers
    assert [c.events.num_rows for c in chunks] == [CHUNK_EVENTS, 10]
    assert chunks[1].lines[0] == CHUNK_EVENTS + 1
    by_workers = list(READER.chunks(file, UTC))  # over 8 MiB: mapped by workers, a range of lines each
    assert len(by_workers) > 2 and [line for c in by_workers for line in c.lines] == list(range(1, CHUNK_EVENTS + 11))


# -- fuzzing: nothing crashes a reader, nothing good is lost --------------------------------------------------
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=12)
audit_like = st.fixed_dictionaries({"resourceType": st.just("AuditEvent")}, optional={
    "recorded": st.one_of(st.text(max_size=12), st.just("2026-11-05T08:10:00Z"), json_values),
    "agent": json_values | st.just([{"who": {"identifier": {"value": "u"}}, "requestor": True}]),
    "entity": json_values, "type": json_values, "subtype": json_values, "action": json_values,
    "outcome": json_values, "patient": json_values, "purposeOfEvent": json_values, "id": json_values})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(audit_like.map(json.dumps), json_values.map(json.dumps),
                          audit_like.map(lambda d: json.dumps(d)[: len(json.dumps(d)) // 2])), max_size=6))
def test_fuzzed_lines_never_crash_the_reader_and_every_line_is_accounted_for(tmp_path, lines):
    good = json.dumps(_event(99))
    file = tmp_path / "fuzz.ndjson"
    body = [good] + [line.replace("\n", " ") for line in lines] + [good.replace('"e99"', '"e100"')]
    file.write_text("\n".join(body) + "\n", encoding="utf-8")
    events, rejected, _, records = _read(file)
    ids = [e["event_id"] for e in events]
    assert ids[0] == "e99" and ids[-1] == "e100"
    assert records == len(events) + len(rejected) and records >= sum(1 for b in body if b.strip())


@settings(max_examples=100, deadline=None)
@given(audit_like)
def test_a_mapped_event_always_has_the_contract_s_required_fields(event):
    try:
        mapped = map_event(event, UTC, Counter())
    except Unmappable:
        return
    assert mapped.user_id and mapped.action and isinstance(mapped.at_us, int) and mapped.event_id
    assert mapped.outcome in ("success", "denied") and len(mapped.row_hash) == 32
    assert canonical(event)  # what the hash covers can always be written


def test_a_value_over_the_contract_s_size_limit_is_refused_as_in_a_csv(tmp_path):
    long_user = dict(R5_BTG, id="long", agent=[{"who": {"identifier": {"value": "u" * 300}}, "requestor": True}])
    (tmp_path / "limits.ndjson").write_text(json.dumps(long_user) + "\n" + json.dumps(_event(1)) + "\n", encoding="utf-8")
    events, rejected, _, records = _read(tmp_path / "limits.ndjson")
    assert [e["event_id"] for e in events] == ["e1"] and records == 2
    assert [(r.line, r.reason) for r in rejected] == [(1, "a value over its size limit (user_id: 300 characters, at most 128)")]


def test_the_workers_do_not_run_the_program_that_started_them(tmp_path):
    """A spawned worker would import the parent's main module (for `auditor`, the whole CLI) before
    its task: here a script without a main guard, which counts each time it runs. It runs once."""
    file = tmp_path / "big.ndjson"
    file.write_text("".join(json.dumps(_event(n)) + "\n" for n in range(40)), encoding="utf-8")
    runs = tmp_path / "runs"
    script = tmp_path / "ingest_script.py"
    script.write_text(
        "from pathlib import Path\nfrom zoneinfo import ZoneInfo\n"
        "from auditor.ingest.formats.fhir import FhirAuditEvents\n"
        f"with open({str(runs)!r}, 'a') as f:\n    f.write('ran\\n')\n"
        f"chunks = FhirAuditEvents(parallel_from=0, range_bytes=2000).chunks(Path({str(file)!r}), ZoneInfo('UTC'))\n"
        "print(sum(c.events.num_rows for c in chunks))\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["40"]
    assert runs.read_text().splitlines() == ["ran"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["event", "broken", "blank", "patient", "long", "crlf", "spaces", "usual",
                                 "over a limit"]), min_size=1, max_size=60), st.integers(200, 3000), st.booleans())
def test_a_big_file_mapped_by_workers_gives_what_one_reader_gives(tmp_path, kinds, range_bytes, ends_in_newline):
    """Worker processes map ranges of lines of a big NDJSON file (and this process maps some while
    they start): the same events, refusals, line numbers, texts (what quarantine would keep) and
    order as reading it in one process, wherever the ranges fall; a range holding a line too long is
    read a line at a time, the others at once."""
    lines = {"event": lambda n: json.dumps(_event(n)), "broken": lambda n: '{"resourceType": "Audit',
             "blank": lambda n: "", "patient": lambda n: json.dumps({"resourceType": "Patient", "id": f"p{n}"}),
             "long": lambda n: json.dumps({**_event(n), "id": "x" * 2000}), "crlf": lambda n: json.dumps(_event(n)) + "\r",
             "spaces": lambda n: " \t ", "usual": lambda n: json.dumps(balp_event(_row(n), UTC)),  # the shortcut's
             "over a limit": lambda n: json.dumps(balp_event({**_row(n), "user_id": "u" * 300}, UTC))}
    file = tmp_path / "big.ndjson"
    file.write_text("\n".join(lines[k](n) for n, k in enumerate(kinds)) + ("\n" if ends_in_newline else ""),
                    encoding="utf-8")

    def read(reader):
        out = []
        for chunk in reader.chunks(file, UTC):
            out += [("event", line, e["event_id"], chunk.raws[i])  # a worker's text read back from the file
                    for i, (line, e) in enumerate(zip(chunk.lines, chunk.events.to_pylist()))]
            out += [("rejected", r.line, r.reason, r.raw_row) for r in chunk.rejected]
        return sorted(out, key=lambda x: (x[1], x[0]))

    assert read(FhirAuditEvents(max_line=2000, parallel_from=0, range_bytes=range_bytes)) == read(
        FhirAuditEvents(max_line=2000))
