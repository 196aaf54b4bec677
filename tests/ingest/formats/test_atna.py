"""IHE ATNA audit messages in (auditor.ingest.formats.atna): every message in ../shared/data/atna loads
or is quarantined with its reason (the one that breaks DICOM's schema and the two that are not
well-formed XML as dcm4chee publishes them are never loaded half-way); both attribute styles say the
same; hostile XML is refused unread; through the command line, a folder of messages loads once."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from auditor.errors import InputError
from auditor.ingest.formats import Unmappable
from auditor.ingest.formats.atna import AtnaMessages, map_message
from auditor.ingest.formats.fhir_mapping import NAME_NOT_KEPT, ROLE_NOT_KEPT

ATNA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "atna"
UTC = ZoneInfo("UTC")
READER = AtnaMessages()
needs_data = pytest.mark.skipif(not ATNA.is_dir(), reason="../shared/data is beside the project")

# file -> (user, mrn, action, record_type, outcome, workstation), or the reason it is quarantined
EXPECTED = {
    "examples/atna-record-1.xml": "ParticipantObjectIDTypeCode without its code system (codeSystemName) and display "
                                  "name (originalText or displayName): the message is not loaded half-way",
    "examples/atna-record-2.xml": ("7601002860123", "PATIENT1", "create", "note", "success", None),
    "examples/audit-message-iti55.xml": ("unknown", None, "search", None, "success", "192.168.42.20"),
    "examples/pdq.xml": ("MESA_DEPARTMENT|MESA_PD_CONSUMER", "24", "search", "demographics", "success", "127.0.0.1"),
    "examples/pdqm.xml": ("/app-gateway/fhir/Patient", None, "search", None, "success", "10.205.114.56"),
    "examples/pdqmread.xml": ("/app-gateway/fhir/Patient/IHERED-2340", "IHERED-2340", "search", "demographics",
                              "success", "10.205.114.56"),
    "examples/pdqv3.xml": ("unknown", "IHERED-2340", "search", "demographics", "success", "127.0.0.1"),
    "examples/pixfeed.xml": ("PKL|SAP-ISH", "7627199", "create", "demographics", "success", "127.0.0.1"),
    "examples/pixfeedmerge.xml": ("NIST|NIST_SENDER", "MW-10001", "delete", "demographics", "success", "127.0.0.1"),
    "examples/pixfeedmergesource.xml": ("BLA|IHE_SYS_IHERED", "IHERED-2340", "update", "demographics", "success",
                                        "localhost"),
    "examples/pixfeedsource.xml": ("BLA|IHE_SYS_IHERED", "IHERED-2342", "update", "demographics", "success", "localhost"),
    "examples/pixm.xml": ("/app-gateway/fhir/Patient/$ihe-pix", "IHEBLUE-2340", "search", "demographics", "success",
                          "10.205.114.56"),
    "examples/pixquery.xml": ("MESA_DEPARTMENT|MESA_PIX_CLIENT", "27", "search", "demographics", "success", "127.0.0.1"),
    "examples/pixupdatesource.xml": ("BLA|IHE_SYS_IHERED", "IHERED-2342", "view", "demographics", "success", "localhost"),
    "examples/pixv3feed.xml": ("unknown", "JW-824-v3", "create", "demographics", "success", "127.0.0.1"),
    "examples/pixv3query.xml": ("unknown", "JW-824-v3", "search", "demographics", "success", "127.0.0.1"),
    "examples/pixv3sourcefeed.xml": "no user (the requestor has no UserID)",
    "examples/start.xml": "application activity (DCM 110100) is not an access the contract records",
    "examples/stop.xml": "application activity (DCM 110100) is not an access the contract records",
    "examples/xcpd.xml": ("unknown", "IHERED-1040", "search", "demographics", "success", "127.0.0.1"),
    "examples/xpidsource.xml": ("BLA|IHE_SYS_IHERED", "IHEGREEN-2340", "update", "demographics", "success", "localhost"),
    "dcm4chee/data-export.xml": "not well-formed XML (at line 35, column 73): not loaded",
    "dcm4chee/patient-record.xml": "not well-formed XML (at line 33, column 72): not loaded",
    "dcm4chee/query.xml": ("127.0.0.1", None, "search", None, "success", "127.0.0.1"),
    "dcm4chee/security-alert.xml": "a security alert (DCM 110113) is not an access the contract records",
}


@needs_data
def test_every_shared_audit_message_loads_or_is_quarantined_with_its_reason():
    seen = {}
    for folder in ("examples", "dcm4chee"):
        for file in READER.files(ATNA / folder):
            [chunk] = READER.chunks(file, UTC)
            assert chunk.records == 1
            if chunk.rejected:
                [entry] = chunk.rejected
                assert entry.line == 1 and entry.raw_row == file.read_text(encoding="utf-8")
                seen[f"{folder}/{file.name}"] = entry.reason
            else:
                [e] = chunk.events.to_pylist()
                seen[f"{folder}/{file.name}"] = (e["user_id"], e["mrn"], e["action"], e["record_type"], e["outcome"],
                                                 e["workstation"])
                assert e["event_id"] == "sha256:" + e["row_hash"].hex()[:32]
    assert seen == EXPECTED


OLD_STYLE = b"""<AuditMessage>
  <EventIdentification EventActionCode="R" EventDateTime="2026-11-05T03:10:00-05:00" EventOutcomeIndicator="0">
    <EventID code="110110" codeSystemName="DCM" displayName="Patient Record"/>
    <PurposeOfUse code="BTG" codeSystemName="v3-ActReason" displayName="break the glass"/>
    <PurposeOfUse code="ETREAT" codeSystemName="v3-ActReason" displayName="emergency treatment"/>
  </EventIdentification>
  <ActiveParticipant UserID="dr.grey" UserIsRequestor="true" NetworkAccessPointID="ED-WS-7" NetworkAccessPointTypeCode="1">
    <RoleIDCode code="110153" codeSystemName="DCM" displayName="Source Role ID"/>
  </ActiveParticipant>
  <AuditSourceIdentification AuditSourceID="EHR"><AuditSourceTypeCode code="4"/></AuditSourceIdentification>
  <ParticipantObjectIdentification ParticipantObjectID="MRN-0042^^^&amp;1.2.3&amp;ISO" ParticipantObjectTypeCode="1"
      ParticipantObjectTypeCodeRole="1" ParticipantObjectSensitivity="HIV">
    <ParticipantObjectIDTypeCode code="2" codeSystemName="RFC-3881" displayName="Patient Number"/>
    <ParticipantObjectName>Vera Star</ParticipantObjectName>
  </ParticipantObjectIdentification>
</AuditMessage>"""
NEW_STYLE = (OLD_STYLE.replace(b' code="', b' csd-code="').replace(b"displayName=", b"originalText=")
             .replace(b'<AuditSourceTypeCode csd-code="4"/>', b'<AuditSourceTypeCode csd-code="4"/>'))


def test_both_attribute_styles_say_the_same():
    old, new = map_message(OLD_STYLE, UTC, Counter()), map_message(NEW_STYLE, UTC, Counter())
    fields = ("at_us", "user_id", "mrn", "action", "record_type", "outcome", "purpose", "break_glass", "workstation")
    assert [getattr(old, f) for f in fields] == [getattr(new, f) for f in fields] == [
        1_793_952_600_000_000 - 86_400_000_000, "dr.grey", "MRN-0042", "view", "hiv", "success", "ETREAT", True, "ED-WS-7"]
    assert "Vera" not in repr(old)  # a participant's name is never loaded


def test_the_requestors_name_and_a_sites_role_for_them_are_counted_as_not_kept():
    plain = Counter()
    map_message(OLD_STYLE, UTC, plain)  # DICOM's Source Role ID: the transfer's role, not the user's
    assert NAME_NOT_KEPT not in plain and ROLE_NOT_KEPT not in plain
    named = Counter()
    event = map_message(OLD_STYLE.replace(b'UserIsRequestor="true"', b'UserIsRequestor="true" UserName="Meredith Grey"')
                        .replace(b'code="110153" codeSystemName="DCM" displayName="Source Role ID"',
                                 b'code="ED-PHYS" codeSystemName="site-roles" displayName="ED physician"'), UTC, named)
    assert named[NAME_NOT_KEPT] == 1 and named[ROLE_NOT_KEPT] == 1
    assert event.user_id == "dr.grey" and "Meredith" not in repr(event)


@pytest.mark.parametrize("verb,action", [("C", "create"), ("R", "view"), ("U", "update"), ("D", "delete"),
                                         ("E", "view"), (None, "view")])
def test_dicom_instances_accessed_is_what_its_action_code_says(verb, action):
    """DICOM PS3.15 A.5.3.5: DICOM Instances Accessed (110103) names what was done by its action code."""
    message = OLD_STYLE.replace(b'code="110110" codeSystemName="DCM" displayName="Patient Record"',
                                b'code="110103" codeSystemName="DCM" displayName="DICOM Instances Accessed"')
    message = message.replace(b'EventActionCode="R" ', b'' if verb is None else f'EventActionCode="{verb}" '.encode())
    assert map_message(message, UTC, Counter()).action == action


@pytest.mark.parametrize("change,reason", [
    ((b'UserIsRequestor="true"', b'UserIsRequestor="false"'), "no user (no active participant is the requestor)"),
    ((b'EventDateTime="2026-11-05T03:10:00-05:00"', b'EventDateTime="soon"'), "no time that can be read"),
    ((b'<EventID code="110110" codeSystemName="DCM" displayName="Patient Record"/>', b'<EventID code="110110"/>'),
     "EventID without its code system (codeSystemName) and display name"),
    ((b"<AuditMessage>", b"<Audit>"), "not well-formed XML"),
    ((b"<AuditMessage>", b"<Other>"), "not well-formed XML"),
])
def test_a_message_that_cannot_be_read_whole_is_refused_with_a_reason_that_quotes_nothing(change, reason):
    with pytest.raises(Unmappable, match=re.escape(reason)) as refused:
        map_message(OLD_STYLE.replace(*change), UTC, Counter())
    assert "dr.grey" not in str(refused.value) and "MRN" not in str(refused.value)


def test_not_an_audit_message_is_refused():
    with pytest.raises(Unmappable, match=r"not an AuditMessage \(DICOM PS3.15 A.5\)"):
        map_message(b"<AuditEvent xmlns='http://hl7.org/fhir'/>", UTC, Counter())


@pytest.mark.parametrize("text", [
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;">]><AuditMessage>&l2;</AuditMessage>',
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><AuditMessage>&x;</AuditMessage>',
])
def test_entities_and_external_references_are_refused_unread(text):
    with pytest.raises(Unmappable, match="XML with a DTD, an entity or an external reference: refused unread"):
        map_message(text, UTC, Counter())


def test_a_message_too_big_is_not_read(tmp_path):
    (tmp_path / "big.xml").write_bytes(OLD_STYLE)
    [chunk] = AtnaMessages(max_message=100).chunks(tmp_path / "big.xml", UTC)
    assert [(r.line, r.reason) for r in chunk.rejected] == [(1, "larger than 100 bytes: not read")]


def test_the_files_it_reads(tmp_path):
    with pytest.raises(InputError, match="holds no audit message"):
        READER.files(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="ends in .xml"):
        READER.files(tmp_path / "a.txt")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.integers(0, len(OLD_STYLE)).map(lambda n: OLD_STYLE[:n])
       | st.tuples(st.integers(0, len(OLD_STYLE) - 1), st.binary(min_size=1, max_size=3)).map(
           lambda t: OLD_STYLE[: t[0]] + t[1] + OLD_STYLE[t[0] + 1:]))
def test_fuzzed_messages_are_mapped_or_refused_never_a_crash(data):
    try:
        event = map_message(data, UTC, Counter())
    except Unmappable as refused:
        assert "\n" not in str(refused)
        return
    assert event.user_id and event.action and isinstance(event.at_us, int)


# -- through the command line ---------------------------------------------------------------------------------
def _message(row: dict) -> bytes:
    verb = {"view": "R", "create": "C", "update": "U", "delete": "D"}.get(row["action"], "R")
    patient = (f'<ParticipantObjectIdentification ParticipantObjectID="{row["mrn"]}^^^&amp;1.2.3&amp;ISO" '
               'ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode '
               'csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/></ParticipantObjectIdentification>')
    return (f'<AuditMessage><EventIdentification EventActionCode="{verb}" EventDateTime="{row["timestamp"]}" '
            'EventOutcomeIndicator="0"><EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/>'
            f'</EventIdentification><ActiveParticipant UserID="{row["user_id"]}" UserIsRequestor="true" '
            f'NetworkAccessPointID="{row["workstation"]}" NetworkAccessPointTypeCode="1"/>'
            '<AuditSourceIdentification AuditSourceID="PACS"/>' + patient + "</AuditMessage>").encode()


def test_a_folder_of_messages_loads_once_and_the_log_verifies(auditor, tmp_path):
    export = tmp_path / "export"
    assert auditor("simulate", "--out", str(export), "--seed", "5", "--events", "1000").code == 0
    assert auditor("init").code == 0
    assert auditor("ingest", str(export), "--tz", "America/New_York").code == 0
    with open(export / "access_log.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["mrn"] and r["action"] in ("view", "update")][:30]
    folder = tmp_path / "pacs"
    folder.mkdir()
    for n, row in enumerate(rows):
        (folder / f"m{n:03d}.xml").write_bytes(_message(row))
    (folder / "broken.xml").write_bytes(b"<AuditMessage><EventIdentification")
    done = auditor("ingest", str(folder), "--format", "atna", "--source", "pacs")
    assert done.code == 0, done.err
    assert done.out.count(": 1 records: 1 loaded, 0 already present, 0 rejected") == 30
    assert "broken.xml: 1 records: 0 loaded, 0 already present, 1 rejected" in done.out
    assert "rejected broken.xml:1: not well-formed XML" in done.out
    again = auditor("ingest", str(folder), "--format", "atna", "--source", "pacs")
    assert again.out.count(": 1 records: 0 loaded, 1 already present, 0 rejected") == 30
    assert auditor("audit", "verify").code == 0
