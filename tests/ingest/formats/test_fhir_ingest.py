"""`auditor ingest PATH --format fhir` through the command line: a simulated month's accesses sent as
FHIR AuditEvents give the findings its CSV gives; a rerun adds nothing; refused records are listed
by `auditor ingest --rejected` with their place; the log verifies."""

from __future__ import annotations

import json
import shutil
from zoneinfo import ZoneInfo

from tests.ingest.formats.fhir_data import write_ndjson

ZONE = "America/New_York"


def _findings(auditor, home, out):
    done = auditor("--home", str(home), "findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json",
                   "--out", str(out), user="investigator")
    assert done.code == 0, done.err
    return json.loads(out.read_text())


def test_a_month_sent_as_fhir_audit_events_gives_the_findings_of_its_csv(auditor, tmp_path):
    export = tmp_path / "export"
    assert auditor("simulate", "--out", str(export), "--seed", "3", "--events", "3000").code == 0
    csv_home, fhir_home = tmp_path / "csv-home", tmp_path / "fhir-home"
    for home in (csv_home, fhir_home):
        assert auditor("--home", str(home), "init").code == 0
    assert auditor("--home", str(csv_home), "ingest", str(export), "--tz", ZONE).code == 0

    context = tmp_path / "context"  # the same export without its accesses; those come as FHIR
    shutil.copytree(export, context)
    header = (export / "access_log.csv").read_text(encoding="utf-8").splitlines()[0]
    (context / "access_log.csv").write_text(header + "\n", encoding="utf-8")
    events = tmp_path / "events.ndjson"
    sent = write_ndjson(export / "access_log.csv", events, ZoneInfo(ZONE))
    assert auditor("--home", str(fhir_home), "ingest", str(context), "--tz", ZONE).code == 0
    loaded = auditor("--home", str(fhir_home), "ingest", str(events), "--format", "fhir")
    assert loaded.code == 0, loaded.err
    assert f"events.ndjson: {sent} records: {sent} loaded, 0 already present, 0 rejected" in loaded.out

    by_csv, by_fhir = _findings(auditor, csv_home, tmp_path / "a.json"), _findings(auditor, fhir_home, tmp_path / "b.json")
    assert len(by_csv) > 20
    assert by_fhir == by_csv
    lines = auditor("--home", str(fhir_home), "findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format",
                    "jsonl", user="investigator")  # the same findings, one a line, for a SIEM
    assert lines.code == 0 and [json.loads(line) for line in lines.out.splitlines()] == by_fhir

    again = auditor("--home", str(fhir_home), "ingest", str(events), "--format", "fhir")
    assert f"events.ndjson: {sent} records: 0 loaded, {sent} already present, 0 rejected" in again.out
    assert auditor("--home", str(fhir_home), "audit", "verify").code == 0


def _hospital_and_its_feed(auditor, tmp_path) -> list[str]:
    """A vault holding a simulated month's context and accesses, and those accesses as NDJSON lines."""
    export = tmp_path / "export"
    assert auditor("simulate", "--out", str(export), "--seed", "3", "--events", "1000").code == 0
    assert auditor("init").code == 0
    assert auditor("ingest", str(export), "--tz", ZONE).code == 0
    events = tmp_path / "feed.ndjson"
    write_ndjson(export / "access_log.csv", events, ZoneInfo(ZONE))
    return events.read_text(encoding="utf-8").splitlines()


def test_refused_records_are_quarantined_with_their_place_and_listed(auditor, tmp_path):
    lines = _hospital_and_its_feed(auditor, tmp_path)
    stranger = json.loads(lines[0])
    stranger["id"], stranger["entity"] = "EV-STRANGER", [{"what": {"identifier": {"value": "MRN-NOBODY"}},
                                                          "type": {"code": "1"}, "role": {"code": "1"}}]
    changed = json.loads(lines[1])
    changed["agent"][0]["who"]["identifier"]["value"] = "someone.else"  # the same id, other content
    feed = [json.dumps(stranger), "{not json", json.dumps({"resourceType": "AuditEvent", "id": "x"}), json.dumps(changed)]
    (tmp_path / "more.ndjson").write_text("\n".join(feed) + "\n", encoding="utf-8")
    done = auditor("ingest", str(tmp_path / "more.ndjson"), "--format", "fhir", "--source", "ehr")
    assert done.code == 0, done.err
    assert "more.ndjson: 4 records: 0 loaded, 0 already present, 4 rejected" in done.out
    listed = auditor("ingest", "--rejected").out
    assert "more.ndjson:1: mrn not among the patients" in listed
    assert "more.ndjson:2: not JSON (at line 1, column 2)" in listed
    assert "more.ndjson:3: no time that can be read (recorded)" in listed
    assert "more.ndjson:4: event id already loaded from source ehr with different content" in listed
    assert "MRN-NOBODY" not in listed + done.out + done.err and "someone.else" not in listed


def test_an_event_repeated_in_one_file_is_present_or_quarantined_and_the_rest_loads(auditor, tmp_path):
    """A feed may send an event twice in one file, or a changed one under the same id: the log takes
    the first, the repeat is already present, the changed one is quarantined (it stopped the whole
    ingest before: the second key refused by the database)."""
    first, second, third = _hospital_and_its_feed(auditor, tmp_path)[:3]
    changed = json.loads(first)
    changed["agent"][0]["network"] = {"address": "WS-ELSEWHERE"}
    (tmp_path / "twice.ndjson").write_text("\n".join([first, second, first, json.dumps(changed), third]) + "\n",
                                           encoding="utf-8")
    done = auditor("ingest", str(tmp_path / "twice.ndjson"), "--format", "fhir", "--source", "feed")
    assert done.code == 0, done.err
    assert "twice.ndjson: 5 records: 3 loaded, 1 already present, 1 rejected" in done.out
    assert "twice.ndjson:4: event id already loaded from source feed with different content" in \
        auditor("ingest", "--rejected").out
    assert auditor("audit", "verify").code == 0
