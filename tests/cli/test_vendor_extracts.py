"""Each shipped vendor mapping (policies/formats/) through the command line: a small synthetic extract
in the vendor's columns, with good records and bad ones, is ingested with `auditor ingest DIR --format
NAME` into a vault that holds the interchange export's patients and workforce; the counts are printed
and recorded, the bad records are quarantined with their line and reason, the good ones are the
vault's events, and a rerun adds nothing. Every name, MRN and reason here is invented."""

from __future__ import annotations

import json
import sqlite3
from typing import NamedTuple

import pytest

from auditor.ingest.formats.mapping_file import mapping_names
from tests.ingest import interchange_data as data


class Extract(NamedTuple):
    file: str
    text: str
    loaded: list[tuple]  # (user, MRN, AuditEvent subtype, outcome, break-the-glass reason) of each event loaded
    rejected: list[tuple[int, str]]  # (line, reason) of each record quarantined
    first: str  # the first event's time, in UTC (the extract's: in the organisation's zone, or UTC)


REASON = "unconscious on arrival"  # a break-the-glass reason: exported to the officer, never printed by ingest
EXTRACTS = {
    # Epic's ACCESS_LOG columns with METRIC_NAME and PAT_MRN_ID joined in (the organisation's local time)
    "epic-access-log": Extract("access.csv", (
        "ACCESS_INSTANT,USER_ID,PAT_MRN_ID,METRIC_ID,METRIC_NAME,WORKSTATION_ID,BTG_REASON\n"
        "11/03/2026 09:15:02,dr.zoe,MRN-1,17001,Chart Review Notes Tab Viewed,WS-4,\n"
        "11/03/2026 09:16:02,dr.zoe,MRN-1,17002,Results Review Printed,WS-4,\n"
        ",dr.zoe,MRN-1,17001,Chart Review Notes Tab Viewed,WS-4,\n"
        "11/03/2026 09:18:02,n.anouk,MRN-3,17004,Break-the-Glass Access,WS-9," + REASON + "\n"
        "11/03/2026 09:19:02,,MRN-2,17001,Chart Review Notes Tab Viewed,WS-4,\n"
        "31/31/2026 09:20:02,dr.zoe,MRN-2,17001,Chart Review Notes Tab Viewed,WS-4,\n"),
        [("dr.zoe", "MRN-1", "read", "0", None), ("dr.zoe", "MRN-1", "print", "0", None),
         ("n.anouk", "MRN-3", "read", "0", REASON)],
        [(4, "no time (the mapping's time column is empty)"), (6, "no user (the mapping's user_id is empty)"),
         (7, "a time none of the mapping's 5 format(s) reads")], "2026-11-03T14:15:02.000000Z"),
    # P2Sentinel: the mapping's own column names (UTC times)
    "cerner-p2sentinel": Extract("p2s.txt", (
        "EVENT_ID,PRSNL_USERNAME,PARTICIPANT_ID,EVENT_DT_TM,EVENT_NAME,EVENT_TYPE,OUTCOME,SOURCE_ADDRESS,"
        "EVENT_REASON\n"
        "P1,dr.zoe,MRN-1,2026-11-03 14:15:02,Clinical Note View,R,0,10.0.0.4,\n"
        "P2,n.anouk,MRN-3,2026-11-03 14:16:02,Emergency Access Override,E,0,10.0.0.9," + REASON + "\n"
        "P3,dr.zoe,MRN-2,2026-11-03 14:17:02,Person Demographics Modify,U,4,10.0.0.4,\n"
        "P4,dr.zoe,MRN-2,2026-11-03 14:18:02,Scheduling Frobnicate,E,0,10.0.0.4,\n"
        "P5,dr.zoe,MRN-1,yesterday,Clinical Note View,R,0,10.0.0.4,\n"
        "P6,dr.zoe,MRN-1,2026-11-03 14:19:02,Order Entry,C,0,10.0.0.4,\n"
        "P6,dr.zoe,MRN-2,2026-11-03 14:19:02,Order Entry,C,0,10.0.0.4,\n"),  # the same event's second patient
        [("dr.zoe", "MRN-1", "read", "0", None), ("n.anouk", "MRN-3", "read", "0", REASON),
         ("dr.zoe", "MRN-2", "update", "4", None),  # OUTCOME 4: denied
         ("dr.zoe", "MRN-1", "create", "0", None), ("dr.zoe", "MRN-2", "create", "0", None)],
        [(5, "an action code the mapping does not name"), (6, "a time none of the mapping's 4 format(s) reads")],
        "2026-11-03T14:15:02.000000Z"),
    # TouchWorks' PatientAccessLog table (the organisation's local time; PatientID carries the MRN here)
    "allscripts-touchworks": Extract("PatientAccessLog.csv", (
        "\ufeffUserID,HostName,PatientID,OpenDTTM,CloseDTTM,ExposureTime,BreakGlassStartDTTM,BreakGlassExposure,"
        "BreakGlassReason,DeviceUsed,BreakType\n"
        "dr.zoe,web1,MRN-1,2026-11-03 09:15:02.120,2026-11-03 09:20:00,298,,,,W,N\n"
        "n.anouk,web1,MRN-3,11/03/2026 11:15:02 PM,2026-11-03 23:20:00,298,,300," + REASON + ",W,BG\n"
        "dr.zoe,web1,MRN-2\n"
        "dr.zoe,web1,MRN-2,2026-11-03 10:00:00,2026-11-03 10:01:00,60,,,,W,PO\n"
        ",web1,MRN-1,2026-11-03 10:05:00,2026-11-03 10:06:00,60,,,,W,N\n"),
        [("dr.zoe", "MRN-1", "read", "0", None), ("n.anouk", "MRN-3", "read", "0", REASON),
         ("dr.zoe", "MRN-2", "read", "0", None)],
        [(4, "3 values: too few for the columns the mapping reads"), (6, "no user (the mapping's user_id is empty)")],
        "2026-11-03T14:15:02.120000Z"),
}


def test_every_shipped_mapping_has_an_extract_here():
    assert set(mapping_names()) == set(EXTRACTS)  # mapping_names() without a site: the shipped ones


def _context(folder):
    """The interchange export's patients, workforce, encounters and care team, with no accesses."""
    data.write_export(folder, access_log=None)
    data.write_csv(folder / "access_log.csv", [], list(data.ACCESS_LOG[0]))
    return folder


def _recorded(tmp_path, source: str) -> list[dict]:
    with sqlite3.connect(tmp_path / "home" / "records.db") as con:
        rows = con.execute("select summary from ingest_runs where source = ? order by id", (source,)).fetchall()
    return [json.loads(summary) for summary, in rows]


def _events(auditor, tmp_path) -> list[dict]:
    """The vault's events of November (the imported ones: the vault's own are of today), as exported."""
    out = tmp_path / "november.ndjson"
    done = auditor("export", "auditevents", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(out),
                   user="officer")
    assert done.code == 0, done.err
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _summary(resource: dict) -> tuple:
    user = next(a for a in resource["agent"] if a.get("requestor"))["who"]["identifier"]["value"]
    patient = next(e for e in resource["entity"] if e.get("role", {}).get("code") == "1")
    glass = [p.get("text") for p in resource.get("purposeOfEvent", [])
             if any(c.get("code") == "BTG" for c in p.get("coding", []))]
    return (user, patient["what"]["identifier"]["value"], resource["subtype"][0]["code"], resource["outcome"],
            glass[0] if glass else None)


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_a_shipped_mappings_extract_loads_quarantines_and_reruns_to_nothing(auditor, tmp_path, name):
    extract = EXTRACTS[name]
    assert auditor("init").code == 0
    context = auditor("ingest", str(_context(tmp_path / "context")), "--tz", "America/New_York")
    assert context.code == 0, context.err
    folder = tmp_path / "extracts"
    folder.mkdir()
    (folder / extract.file).write_text(extract.text, encoding="utf-8")
    records, loaded, rejected = len(extract.text.splitlines()) - 1, len(extract.loaded), len(extract.rejected)

    first = auditor("ingest", str(folder), "--format", name, "--source", name)
    assert first.code == 0, first.err
    assert "organisation time zone: America/New_York (stored)" in first.out
    assert f"{extract.file}: {records} records: {loaded} loaded, 0 already present, {rejected} rejected" in first.out
    for line, reason in extract.rejected:
        assert f"rejected {extract.file}:{line}: {reason}\n" in first.out
    assert f"{rejected} records rejected ({rejected} newly quarantined)" in first.out
    assert "accounts not in the workforce" not in first.out  # its users are the workforce's

    listed = auditor("ingest", "--rejected", "--source", name)
    assert listed.code == 0, listed.err
    said = listed.out.splitlines()
    assert said[-1] == f"{rejected} rows in quarantine" and len(said) == rejected + 1
    for shown, (line, reason) in zip(said, extract.rejected):
        assert shown.startswith(f"{extract.file}:{line}: {reason}  [source {name}, ingest run 2 of ")
    events = _events(auditor, tmp_path)
    assert sorted(map(_summary, events)) == sorted(extract.loaded)
    assert min(e["recorded"] for e in events) == extract.first

    again = auditor("ingest", str(folder), "--format", name, "--source", name)
    assert again.code == 0, again.err
    assert f"{extract.file}: {records} records: 0 loaded, {loaded} already present, {rejected} rejected" in again.out
    assert f"{rejected} records rejected (0 newly quarantined)" in again.out
    assert auditor("ingest", "--rejected", "--source", name).out.endswith(f"{rejected} rows in quarantine\n")
    assert sorted(map(_summary, _events(auditor, tmp_path))) == sorted(extract.loaded)
    counts = [run[extract.file] for run in _recorded(tmp_path, name)]
    assert [(c["rows"], c["loaded"], c["already_present"], c["rejected"]) for c in counts] == [
        (records, loaded, 0, rejected), (records, 0, loaded, rejected)]
    assert auditor("audit", "verify").code == 0
    assert REASON not in first.out + first.err + listed.out + again.out
