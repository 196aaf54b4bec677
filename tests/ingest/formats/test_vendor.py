"""Vendors' access-log extracts read by mapping files: the shipped ones map their vendor's columns
and codes; a site's own mapping (a system we ship none for) gives, through the command line, the
findings the CSV contract gives for the same accesses; what cannot be read is quarantined with its
line and a reason that quotes no value, and the records around it load."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.errors import InputError
from auditor.ingest.formats import reader
from auditor.ingest.formats.mapping_file import mapping_names
from tests.ingest.formats.vendor_data import write_extract, write_site_policies

ZONE = ZoneInfo("America/New_York")


def _events(fmt: str, path, site_dir=None, zone=ZONE):
    """(events as dicts, records refused, what was left out) of the extract(s) at `path`."""
    read = reader(fmt, site_dir)
    chunks = [c for f in read.files(path) for c in read.chunks(f, zone)]
    return ([row for c in chunks for row in c.events.to_pylist()], [e for c in chunks for e in c.rejected],
            sum((c.unmapped for c in chunks), start=Counter()))


def _utc_us(*parts) -> int:
    return int(datetime(*parts, tzinfo=timezone.utc).timestamp() * 1_000_000)


def test_every_shipped_mapping_loads():
    assert {"epic-access-log", "cerner-p2sentinel", "allscripts-touchworks"} <= set(mapping_names())
    for name in mapping_names():
        assert reader(name).name == name


def test_touchworks_charts_opened_with_break_the_glass(tmp_path):
    extract = tmp_path / "PatientAccessLog.csv"
    extract.write_text(
        "\ufeffUserID,HostName,PatientID,OpenDTTM,CloseDTTM,ExposureTime,BreakGlassStartDTTM,BreakGlassExposure,"
        "BreakGlassReason,DeviceUsed,BreakType\n"
        "1001,web1,MRN001,2026-11-03 09:15:02.120,2026-11-03 09:20:00,298,,,,W,N\n"
        "1002,web1,MRN002,11/03/2026 11:15:02 PM,2026-11-03 23:20:00,298,,300,Security Over-ride: unconscious,W,BG\n"
        "1003,web1,MRN004,2026-11-03 10:00:00,2026-11-03 10:01:00,60,,,typed without glass,W,N\n", encoding="utf-8")
    events, refused, _ = _events("allscripts-touchworks", extract)
    assert not refused
    first, glass, plain = events
    assert (first["user_id"], first["mrn"], first["action"], first["break_glass"]) == ("1001", "MRN001", "view", False)
    assert first["at_us"] == _utc_us(2026, 11, 3, 14, 15, 2, 120_000)  # 09:15:02.12 in New York (EST)
    assert glass["break_glass"] and glass["reason"] == "Security Over-ride: unconscious"
    assert glass["at_us"] - first["at_us"] == 14 * 3600 * 1_000_000 - 120_000
    assert plain["reason"] is None  # a reason is kept only with break-the-glass
    assert len({e["event_id"] for e in events}) == 3


def test_epic_metric_names_give_the_action_record_type_and_break_the_glass(tmp_path):
    extract = tmp_path / "access.csv"
    extract.write_text(
        "ACCESS_INSTANT,USER_ID,PAT_MRN_ID,METRIC_ID,METRIC_NAME,WORKSTATION_ID\n"
        "11/03/2026 09:15:02,NURSE1,MRN001,17001,Chart Review Notes Tab Viewed,WS-4\n"
        "11/03/2026 09:16:02,NURSE1,MRN001,17002,Results Review Printed,WS-4\n"
        "11/03/2026 09:17:02,NURSE1,,17003,Patient Lookup Search,WS-4\n"
        "11/03/2026 09:18:02,DOC2,MRN009,17004,Break-the-Glass Access,WS-9\n"
        "11/03/2026 09:18:02,DOC2,MRN009,17004,Break-the-Glass Access,WS-9\n", encoding="utf-8")
    events, refused, _ = _events("epic-access-log", extract)
    assert not refused
    assert [(e["action"], e["record_type"], e["break_glass"]) for e in events] == [
        ("view", "note", False), ("print", "lab", False), ("search", "other", False), ("view", "other", True),
        ("view", "other", True)]
    assert events[2]["mrn"] is None and events[0]["workstation"] == "WS-4"
    assert events[3]["event_id"] != events[4]["event_id"]  # twice in the same second: two accesses
    again, _, _ = _events("epic-access-log", extract)
    assert [e["event_id"] for e in again] == [e["event_id"] for e in events]  # a rerun names them alike


def test_cerner_outcomes_and_utc_times(tmp_path):
    extract = tmp_path / "p2s.csv"
    extract.write_text(
        "EVENT_ID,PRSNL_USERNAME,PARTICIPANT_ID,EVENT_DT_TM,EVENT_NAME,EVENT_TYPE,OUTCOME,SOURCE_ADDRESS,EVENT_REASON\n"
        "E1,JSMITH,MRN001,2026-11-03 14:15:02,Clinical Note View,R,0,10.0.0.4,\n"
        "E2,JSMITH,MRN002,2026-11-03 14:16:02,Emergency Access Override,E,0,10.0.0.4,patient coding\n"
        "E3,JSMITH,MRN003,2026-11-03 14:17:02,Person Demographics Modify,U,4,10.0.0.4,\n"
        "E4,JSMITH,MRN003,2026-11-03 14:18:02,Scheduling Frobnicate,E,0,10.0.0.4,\n"
        "E3,JSMITH,MRN004,2026-11-03 14:17:02,Person Demographics Modify,U,4,10.0.0.4,\n", encoding="utf-8")
    events, refused, _ = _events("cerner-p2sentinel", extract, zone=ZoneInfo("Asia/Tokyo"))
    assert [(e["event_id"], e["action"], e["record_type"], e["outcome"]) for e in events] == [
        ("E1|MRN001", "view", "note", "success"), ("E2|MRN002", "view", "other", "success"),
        ("E3|MRN003", "update", "demographics", "denied"),
        ("E3|MRN004", "update", "demographics", "denied")]  # the same event's other patient: another access
    assert events[0]["at_us"] == _utc_us(2026, 11, 3, 14, 15, 2)  # UTC whatever the organisation's zone
    assert events[1]["break_glass"] and events[1]["reason"] == "patient coding"
    assert [(r.line, r.reason) for r in refused] == [(5, "an action code the mapping does not name")]


P2S_HEADER = "EVENT_ID,PRSNL_USERNAME,PARTICIPANT_ID,EVENT_DT_TM,EVENT_NAME,EVENT_TYPE,OUTCOME,SOURCE_ADDRESS\n"


@pytest.mark.parametrize("name, kind, action", [
    ("Orders Profile", "C", "create"), ("Orders Profile", "R", "view"), ("Orders Profile", "U", "update"),
    ("Orders Profile", "d", "delete"),  # codes ignore case
    ("Clinical Note Viewed", "U", "update"),  # the type says what was done, whatever other words the name has
    ("Document Print", "R", "print"), ("Patient Query", "E", "search"), ("Chart Export", "R", "export"),
    ("ROI Disclosure", "R", "disclose"), ("User Login Failure", "E", "login_failed"),
    ("Emergency Access", "E", "view"),  # the name's words come first
])
def test_cerner_action_from_the_event_name_then_the_event_type(tmp_path, name, kind, action):
    extract = tmp_path / "p2s.csv"
    extract.write_text(P2S_HEADER + f"E1,JSMITH,MRN001,2026-11-03 14:15:02,{name},{kind},0,10.0.0.4\n", encoding="utf-8")
    events, refused, _ = _events("cerner-p2sentinel", extract)
    assert not refused and [e["action"] for e in events] == [action]


@pytest.mark.parametrize("kind", ["E", "", "X"])
def test_cerner_an_event_whose_name_and_type_name_no_action_is_quarantined(tmp_path, kind):
    extract = tmp_path / "p2s.csv"
    extract.write_text(P2S_HEADER + f"E1,JSMITH,MRN001,2026-11-03 14:15:02,Clinical Note View,{kind},0,10.0.0.4\n",
                       encoding="utf-8")
    events, refused, _ = _events("cerner-p2sentinel", extract)
    assert not events and [(r.line, r.reason) for r in refused] == [(2, "an action code the mapping does not name")]


def test_cerner_an_extract_without_the_event_type_is_refused_whole(tmp_path):
    extract = tmp_path / "p2s.csv"
    extract.write_text("EVENT_ID,PRSNL_USERNAME,PARTICIPANT_ID,EVENT_DT_TM,EVENT_NAME,OUTCOME,SOURCE_ADDRESS\n"
                       "E1,JSMITH,MRN001,2026-11-03 14:15:02,Clinical Note View,0,10.0.0.4\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column EVENT_TYPE in its header"):
        reader("cerner-p2sentinel").files(extract)


def test_a_coded_field_of_several_columns_takes_the_first_the_mapping_names(tmp_path):
    site = write_site_policies(tmp_path / "site", """\
mapping: 1
name: meditech-audit
file: {suffixes: [.txt], delimiter: "|"}
fields:
  user_id: {column: U}
  time: {column: T}
  action: {columns: [Func, Verb], codes: {V: view, E: update}, contains: [{text: print, value: print}]}
  record_type: {columns: [Screen, Kind], codes: {DOC: note, LAB: lab}}
  outcome: {columns: [Result, Status], codes: {OK: success}, otherwise: denied}
""")
    extract = tmp_path / "audit.txt"
    extract.write_text("U|T|Func|Verb|Screen|Kind|Result|Status\n"
                       "U1|2026-11-03T09:00:00|E|V|DOC|LAB|OK|\n"  # the first column's codes
                       "U1|2026-11-03T09:00:00|??|Label PRINT|?|lab||ok\n"  # the second's: a substring, a code
                       "U1|2026-11-03T09:00:00||V||WHO|BAD|WORSE\n"  # none names them: left out, otherwise
                       "U1|2026-11-03T09:00:00|??|??|DOC||OK|\n", encoding="utf-8")  # no action named
    events, refused, unmapped = _events("meditech-audit", extract, site)
    assert [(e["action"], e["record_type"], e["outcome"]) for e in events] == [
        ("update", "note", "success"), ("print", "lab", "success"), ("view", None, "denied")]
    assert [(r.line, r.reason) for r in refused] == [(5, "an action code the mapping does not name")]
    assert unmapped == Counter({"a record-type code the mapping does not name (left out)": 1})


def test_what_cannot_be_read_is_quarantined_and_the_records_around_it_load(tmp_path):
    site = write_site_policies(tmp_path / "site")
    extract = tmp_path / "audit.txt"
    good = "AuditSeq|UserMnemonic|PatientAcct|AccessDate|Func|Screen|Result|Purpose|Override|OverrideText|Terminal\n"
    rows = ["1|U1|MRN-SECRET-1|11/03/2026 09:15:02|V|DOC|OK|TREAT|N||T1",  # 2: loads
            "2||MRN-SECRET-2|11/03/2026 09:15:02|V|DOC|OK|TREAT|N||T1",  # 3: no user
            "3|U1|MRN-SECRET-3|31/31/2026 09:15:02|V|DOC|OK|TREAT|N||T1",  # 4: bad time
            "4|U1|MRN-SECRET-4|11/03/2026 09:15:02|ZZ|DOC|OK|TREAT|N||T1",  # 5: unknown action
            "5|U1|MRN-SECRET-5",  # 6: too few values
            "6|U1|MRN-SECRET-6|11/03/2026 09:15:02|V|WHAT|MAYBE|TREAT|N||T1"]  # 7: loads, codes left out
    data = (good + "\n".join(rows) + "\n").encode("utf-8") + b"7|U\x81|MRN-SECRET-7|11/03/2026 09:15:02|V|DOC|OK||N||T1\n"
    data += b"8|U1|MRN-SECRET-8|11/03/2026 09:15:02|V|DOC|OK|TREAT|N||T1\n"
    extract.write_bytes(data)
    events, refused, unmapped = _events("meditech-audit", extract, site)
    assert [e["event_id"] for e in events] == ["1", "6", "8"]
    assert [(r.line, r.reason) for r in refused] == [
        (3, "no user (the mapping's user_id is empty)"), (4, "a time none of the mapping's 1 format(s) reads"),
        (5, "an action code the mapping does not name"), (6, "3 values: too few for the columns the mapping reads"),
        (8, "bytes not readable as utf-8")]
    assert "\\x81" in refused[-1].raw_row and refused[2].raw_row == rows[3]  # kept as read
    assert all("SECRET" not in r.reason for r in refused)
    assert events[1]["record_type"] is None and events[1]["outcome"] == "success"
    assert sum(unmapped.values()) == 2


def test_a_file_of_another_shape_is_refused_before_anything_loads(tmp_path):
    extract = tmp_path / "access.csv"
    extract.write_text("who,when,what\nU1,2026-11-03,view\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column UserID, PatientID, OpenDTTM, BreakType, BreakGlassReason in its header"):
        reader("allscripts-touchworks").files(extract)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=40), max_size=12))
def test_any_record_is_loaded_or_quarantined(tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("fuzz")
    site = write_site_policies(folder / "site")
    extract = folder / "audit.txt"
    header = "AuditSeq|UserMnemonic|PatientAcct|AccessDate|Func|Screen|Result|Purpose|Override|OverrideText|Terminal"
    extract.write_bytes((header + "\n" + "\n".join(lines)).encode("utf-8"))
    read = reader("meditech-audit", site)
    chunks = list(read.chunks(extract, ZONE))
    assert sum(c.records for c in chunks) == sum(c.events.num_rows + len(c.rejected) for c in chunks)


def _findings(auditor, home, out):
    done = auditor("--home", str(home), "findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json",
                   "--out", str(out), user="investigator")
    assert done.code == 0, done.err
    return json.loads(out.read_text())


def test_a_sites_own_mapping_gives_the_findings_of_the_csv(auditor, tmp_path):
    export = tmp_path / "export"
    assert auditor("simulate", "--out", str(export), "--seed", "3", "--events", "3000").code == 0
    csv_home, vendor_home = tmp_path / "csv-home", tmp_path / "vendor-home"
    for home in (csv_home, vendor_home):
        assert auditor("--home", str(home), "init").code == 0
    assert auditor("--home", str(csv_home), "ingest", str(export), "--tz", str(ZONE)).code == 0
    context = tmp_path / "context"  # the export without its accesses: those come as the site's extract
    shutil.copytree(export, context)
    header = (export / "access_log.csv").read_text(encoding="utf-8").splitlines()[0]
    (context / "access_log.csv").write_text(header + "\n", encoding="utf-8")
    extracts = tmp_path / "extracts"
    extracts.mkdir()
    sent = write_extract(export / "access_log.csv", extracts / "november.txt")
    site = write_site_policies(tmp_path / "site")
    assert auditor("--home", str(vendor_home), "ingest", str(context), "--tz", str(ZONE)).code == 0

    loaded = auditor("--home", str(vendor_home), "ingest", str(extracts), "--format", "meditech-audit",
                     "--site-policies", str(site))
    assert loaded.code == 0, loaded.err
    assert f"november.txt: {sent} records: {sent} loaded, 0 already present, 0 rejected" in loaded.out
    by_csv = _findings(auditor, csv_home, tmp_path / "a.json")
    assert len(by_csv) > 20
    assert _findings(auditor, vendor_home, tmp_path / "b.json") == by_csv
    again = auditor("--home", str(vendor_home), "ingest", str(extracts), "--format", "meditech-audit",
                    "--site-policies", str(site))
    assert f"november.txt: {sent} records: 0 loaded, {sent} already present, 0 rejected" in again.out
    assert auditor("--home", str(vendor_home), "audit", "verify").code == 0

    unknown = auditor("--home", str(vendor_home), "ingest", str(extracts), "--format", "meditech-audit")
    assert unknown.code == 2 and "--format 'meditech-audit' is not a format" in unknown.err
    assert len(unknown.err.strip().splitlines()) == 1
