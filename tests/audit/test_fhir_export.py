"""The audit log as FHIR R4 AuditEvents (auditor.audit.fhir_export, `auditor export auditevents`):
every event validates as an R4 AuditEvent (fhir.resources R4B), and a month exported and ingested
into a new vault with --format fhir gives the findings the CSV gave. Which BALP profiles they claim:
tests/audit/test_fhir_export_balp.py."""

from __future__ import annotations

import json
import shutil

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from hypothesis import given, settings, strategies as st

from auditor.audit.events import ACTIONS
from auditor.audit.fhir_export import BALP, MRN, audit_event, event_id, privacy_disclosure
from auditor.ingest.formats import Unmappable
from auditor.ingest.formats.fhir import map_event
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

ZONE = "America/New_York"
RECORD_TYPES = [None, "demographics", "note", "lab", "imaging", "medication", "order", "psychotherapy_note",
                "substance_use", "hiv", "genetic", "other"]

def TRIMMED(size: int):  # noqa: N802  (ids and names as ingest keeps them: trimmed, not empty)
    return st.text(min_size=1, max_size=size).filter(lambda s: s == s.strip() and s != "")


events = st.fixed_dictionaries({
    "seq": st.integers(1, 10**9), "at_us": st.integers(0, 4_000_000_000_000_000),
    "source": st.sampled_from(["ehr", "vault", "epic"]), "source_event_id": st.none() | TRIMMED(80),
    "user_id": TRIMMED(20), "role": st.none() | st.sampled_from(["nurse", "service"]),
    "action": st.sampled_from(ACTIONS), "patient_id": st.none() | st.integers(1, 10**6),
    "record_type": st.sampled_from(RECORD_TYPES), "outcome": st.sampled_from(["success", "denied"]),
    "purpose": st.none() | st.sampled_from(["TREAT", "ETREAT", "HPAYMT"]), "break_glass": st.booleans(),
    "reason": st.none() | st.just(b"sealed"), "workstation": st.none() | TRIMMED(20),
})


@pytest.mark.parametrize("mrn", ["^", "12^34", "A|B", "Patient/7"])
def test_an_exported_mrn_reads_back_whole_whatever_it_holds(mrn):
    event = {"seq": 1, "at_us": 0, "source": "ehr", "source_event_id": "e1", "user_id": "u", "role": None,
             "action": "view", "patient_id": 1, "record_type": "note", "outcome": "success", "purpose": None,
             "break_glass": False, "reason": None, "workstation": None}
    assert map_event(audit_event(event, mrn, None), ZoneInfo(ZONE), Counter()).mrn == mrn
    cx = {"resourceType": "AuditEvent", "recorded": "2026-11-05T08:10:00Z", "action": "R",
          "type": {"code": "rest"}, "subtype": [{"code": "read"}],
          "agent": [{"who": {"identifier": {"value": "u"}}, "requestor": True}],
          "entity": [{"what": {"identifier": {"value": "123^^^&1.2.3&ISO"}}, "type": {"code": "1"}, "role": {"code": "1"}}]}
    assert map_event(cx, ZoneInfo(ZONE), Counter()).mrn == "123"  # another system's: an HL7 v2 CX


@settings(max_examples=150, deadline=None)
@given(events, st.none() | TRIMMED(12), st.none() | st.text(max_size=40))
def test_every_exported_event_is_a_valid_r4_audit_event_that_reads_back_to_its_fields(event, mrn, reason):
    mrn = mrn if event["patient_id"] is not None else None
    resource = audit_event(event, mrn, reason)
    AuditEvent.model_validate(resource)  # raises on anything R4 does not allow
    service = event["source"] == "vault" and event["role"] == "service"
    if event["action"] in ("review", "rewrap") or service:
        return  # application activity and service work: quarantined on the way back in, by design
    back = map_event(json.loads(json.dumps(resource)), ZoneInfo("UTC"), Counter())
    expected_id = event["source_event_id"] or event_id(event["source"], None, event["seq"])[0]
    action = {"destroy": "delete"}.get(event["action"], event["action"])
    assert (back.event_id, back.at_us, back.user_id, back.action, back.mrn, back.break_glass) == (
        expected_id, event["at_us"], event["user_id"], action, mrn, event["break_glass"])
    assert back.outcome == ("denied" if event["outcome"] != "success" or event["action"] == "login_failed" else "success")
    if mrn:
        assert back.record_type == (event["record_type"] or None) or (event["record_type"] is None and back.record_type is None)
    assert back.purpose == (event["purpose"] or ("BTG" if event["break_glass"] else None))
    assert back.reason == ((reason.strip() or None) if event["break_glass"] and reason else None)


def test_the_vault_s_own_service_work_is_not_read_back_as_a_person_s_access():
    work = {"seq": 7, "at_us": 0, "source": "vault", "source_event_id": None, "user_id": "svc:import", "role": "service",
            "action": "create", "patient_id": 3, "record_type": "demographics", "outcome": "success", "purpose": "HOPERAT",
            "break_glass": False, "reason": None, "workstation": None}
    resource = audit_event(work, "MRN-3", None)
    assert resource["agent"][0]["type"]["coding"][0]["code"] == "110150"
    with pytest.raises(Unmappable, match=r"the work of an application \(DCM 110150\), not a person's access"):
        map_event(resource, ZoneInfo("UTC"), Counter())


def test_a_month_exported_and_ingested_again_gives_the_same_findings(auditor, tmp_path):
    export = tmp_path / "export"
    assert auditor("simulate", "--out", str(export), "--seed", "4", "--events", "3000").code == 0
    first, second = tmp_path / "first", tmp_path / "second"
    for home in (first, second):
        assert auditor("--home", str(home), "init").code == 0
    assert auditor("--home", str(first), "ingest", str(export), "--tz", ZONE).code == 0
    days = ("--from", "2026-11-01", "--to", "2026-11-30")
    before = auditor("--home", str(first), "findings", *days, "--out", str(tmp_path / "a.json"), user="investigator")
    assert before.code == 0, before.err

    out = tmp_path / "month.ndjson"
    done = auditor("--home", str(first), "export", "auditevents", *days, "--out", str(out), user="investigator")
    assert done.code == 0, done.err
    lines = out.read_text(encoding="utf-8").splitlines()
    assert f"{len(lines)} audit events" in done.out and len(lines) > 3000
    assert (out.stat().st_mode & 0o777) == 0o600
    kinds = Counter()
    for line in lines:  # every line (about 0.2 ms each): every kind of event the month holds
        resource = json.loads(line)
        AuditEvent.model_validate(resource)
        kinds[(resource["type"]["code"], tuple(s["code"] for s in resource.get("subtype", [])), resource["action"],
               resource["outcome"])] += 1
    # reads (allowed, denied), searches, creates, updates, deletes, exports, prints, failed logins
    assert len(kinds) >= 9, kinds

    context = tmp_path / "context"
    shutil.copytree(export, context)
    header = (export / "access_log.csv").read_text(encoding="utf-8").splitlines()[0]
    (context / "access_log.csv").write_text(header + "\n", encoding="utf-8")
    assert auditor("--home", str(second), "ingest", str(context), "--tz", ZONE).code == 0
    loaded = auditor("--home", str(second), "ingest", str(out), "--format", "fhir", "--source", "first")
    assert loaded.code == 0, loaded.err
    warned = [w for w in loaded.err.splitlines() if "warning" in w]
    # everything the export wrote maps back; the users' roles it writes (BALP's agent.role) are read as the
    # workforce file's, not the export's, and counted as not kept
    assert all(w.endswith("the requestor's role (not kept: a user's role is the workforce file's)") for w in warned)
    after = auditor("--home", str(second), "findings", *days, "--out", str(tmp_path / "b.json"), user="investigator")
    assert after.code == 0, after.err
    assert json.loads((tmp_path / "b.json").read_text()) == json.loads((tmp_path / "a.json").read_text())


def test_one_patient_s_events_and_an_unknown_patient_named_by_nobody(auditor, tmp_path):
    export = tmp_path / "export"
    assert auditor("simulate", "--out", str(export), "--seed", "4", "--events", "1000").code == 0
    assert auditor("init").code == 0
    assert auditor("ingest", str(export), "--tz", ZONE).code == 0
    mrn = next(line.split(",")[3] for line in (export / "access_log.csv").read_text().splitlines()[1:]
               if line.split(",")[3])
    out = tmp_path / "one.ndjson"
    days = ("--from", "2026-11-01", "--to", "2026-11-30")
    assert auditor("export", "auditevents", *days, "--out", str(out), "--patient", mrn, user="officer").code == 0
    resources = [json.loads(line) for line in out.read_text().splitlines()]
    assert resources and all(any(e.get("what", {}).get("identifier", {}).get("value") == mrn for e in r["entity"])
                             for r in resources)
    missing = auditor("export", "auditevents", *days, "--out", str(tmp_path / "none.ndjson"), "--patient", "NOPE-1",
                      user="officer")
    assert missing.code == 2 and "no patient with that MRN" in missing.err and "NOPE-1" not in missing.err
    assert not (tmp_path / "none.ndjson").exists()
    viewer = auditor("export", "auditevents", *days, "--out", str(tmp_path / "v.ndjson"), user="viewer")
    assert viewer.code == 2 and "does not hold the role" in viewer.err


ledger_entries = st.fixed_dictionaries({
    "id": st.integers(1, 10**9), "request_id": st.integers(1, 10**9), "patient_id": st.integers(1, 10**6),
    "at": st.datetimes(timezones=st.just(ZoneInfo("UTC"))),
    "requester_type": st.sampled_from(["patient", "attorney", "insurer", "law_enforcement", "court"]),
    "purpose": st.sampled_from(["PATRQT", "HLEGAL", "GOV", "PUBHLTH", "HPAYMT"]), "legal_basis": TRIMMED(60),
    "accountable": st.booleans(), "exemption": st.none() | TRIMMED(60), "description": TRIMMED(100),
    "documents": st.integers(0, 500), "released_by": st.none() | TRIMMED(20),
})


@settings(max_examples=60, deadline=None)
@given(ledger_entries, st.none() | TRIMMED(12))
def test_each_disclosures_ledger_entry_is_a_valid_balp_privacy_disclosure(entry, mrn):
    """BALP PrivacyDisclosure.Source: Export with the ISO 21089 `disclose` subtype, action R, a source
    agent (110153) that is the observer, a recipient agent (110152), each with a network (data-absent:
    none, and sealed), the custodian who released it, a patient entity and the data's; the profile only
    with the patient named (the entity needs `what`); read back by ingest as a disclosure by whoever
    released it (without one: no user, quarantined). tests/audit/test_fhir_export_balp.py checks the shape."""
    resource = privacy_disclosure(entry, mrn)
    AuditEvent.model_validate(resource)
    assert resource.get("meta") == ({"profile": [BALP + "PrivacyDisclosure.Source"]} if mrn else None)
    assert (resource["type"]["code"], resource["subtype"][0]["code"], resource["action"]) == ("110106", "disclose", "R")
    source, recipient = resource["agent"][:2]
    assert source["type"]["coding"][0]["code"] == "110153" and source["who"] == resource["source"]["observer"]
    assert recipient["type"]["coding"][0]["code"] == "110152"
    absent = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
    assert source["network"] == {"extension": [{"url": absent, "valueCode": "not-applicable"}]}
    assert recipient["network"] == {"extension": [{"url": absent, "valueCode": "masked"}]}
    custodian = [a for a in resource["agent"] if a.get("requestor")]
    assert custodian == ([{"type": {"coding": [{"system": "http://snomed.info/sct", "code": "159541003",
                                                "display": "Record keeping/library clerk"}]},
                           "who": {"identifier": {"value": entry["released_by"]}}, "requestor": True}]
                         if entry["released_by"] else [])
    assert recipient["who"]["identifier"]["value"] == str(entry["request_id"])
    assert recipient["role"][0]["text"] == entry["requester_type"]
    patient, data = resource["entity"]
    assert (patient["type"]["code"], patient["role"]["code"]) == ("1", "1")
    assert patient.get("what") == ({"identifier": {"system": MRN, "value": mrn}} if mrn else None)
    assert data["type"]["code"] == "2" and data["description"] == entry["description"]
    if entry["released_by"] is None:
        with pytest.raises(Unmappable, match="no user"):
            map_event(resource, ZoneInfo("UTC"), Counter())
        return
    back = map_event(json.loads(json.dumps(resource)), ZoneInfo("UTC"), Counter())
    assert (back.event_id, back.user_id, back.action, back.mrn, back.purpose) == (
        f"disclosure-{entry['id']}", entry["released_by"], "disclose", mrn, entry["purpose"])
    assert back.at_us == (entry["at"] - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
