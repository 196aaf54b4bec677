"""The disclosures ledger in `auditor export auditevents`: each entry disclosed in the span (of the
patient, with --patient) is a BALP PrivacyDisclosure AuditEvent that validates as R4 (fhir.resources
R4B), names the recipient by its kind and request (never its name or address) and who released it;
the ledger read is an audited read of each patient's ledger."""

from __future__ import annotations

import json
from datetime import timedelta

from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy import select

from auditor.audit.schema import AuditEventRow
from tests.roi.test_roi_cli import new_request, walk

DAY = ("--from", "2026-12-01", "--to", "2026-12-01")  # the fixtures' today (UTC: no zone stored)
PROFILE = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PrivacyDisclosure.Source"


def _disclosures(path) -> list[dict]:
    resources = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for resource in resources:
        AuditEvent.model_validate(resource)
    return [r for r in resources if PROFILE in r.get("meta", {}).get("profile", []) and r["id"].startswith("disclosure-")]


def _codes(agent) -> set[str]:
    return {c["code"] for c in agent.get("type", {}).get("coding", [])}


def test_each_ledger_entry_is_a_privacy_disclosure_without_the_recipient_s_name(run, form, home, tmp_path):
    walk(run, form, tmp_path, "attorney")  # accountable (164.512(e))
    walk(run, form, tmp_path, "patient")  # the patient's own access: exempt from the accounting, still disclosed
    other = new_request(run, "law_enforcement", mrn="P-2")
    assert run("roi", "review", other)[0] == 0
    assert run("roi", "fulfill", other, "--out", tmp_path / "p2")[0] == 0

    out = tmp_path / "day.ndjson"
    code, said, err = run("export", "auditevents", *DAY, "--out", out, user="officer")
    assert code == 0, err
    assert "and 3 disclosures from 2026-12-01" in said
    text = out.read_text(encoding="utf-8")
    assert "Recipient" not in text and "Policy Way" not in text and "Müller" not in text  # sealed, not exported
    found = {r["agent"][1]["role"][0]["text"]: r for r in _disclosures(out)}
    assert set(found) == {"attorney", "patient", "law_enforcement"}
    for kind, r in found.items():
        assert (r["type"]["code"], r["subtype"][0]["code"], r["action"], r["outcome"]) == ("110106", "disclose", "R", "0")
        source, recipient, user = r["agent"]
        assert _codes(source) == {"110153"} and source["who"] == r["source"]["observer"]  # BALP val-audit-source
        assert _codes(recipient) == {"110152"} and recipient["who"]["identifier"]["system"] == "urn:auditor:roi-request"
        assert user["who"] == {"identifier": {"value": "coordinator"}} and user["requestor"] is True
        assert _codes(user) == {"159541003"}  # BALP's custodian: who released the data
        assert "network" in source and "network" in recipient  # BALP requires them (data-absent: none, sealed)
        patient, data = r["entity"]
        assert patient["what"]["identifier"]["value"] == ("P-2" if kind == "law_enforcement" else "P-1")
        assert (patient["type"]["code"], patient["role"]["code"], data["type"]["code"]) == ("1", "1", "2")
        assert r["recorded"].startswith("2026-12-01T15:00:00")
    details = {kind: {d["type"]: d["valueString"] for d in r["entity"][1]["detail"]} for kind, r in found.items()}
    assert details["attorney"]["accountable"] == "yes" and "exemption" not in details["attorney"]
    assert details["patient"]["accountable"] == "no" and details["patient"]["exemption"]
    assert found["law_enforcement"]["purposeOfEvent"][0]["coding"][0]["code"] == "GOV"
    assert "164.512(f)" in found["law_enforcement"]["purposeOfEvent"][0]["text"]

    with home.records.connect() as conn:  # the ledger read for the export: one audited view per patient
        reads = conn.execute(select(AuditEventRow.patient_id, AuditEventRow.detail).where(
            AuditEventRow.record_type == "disclosures", AuditEventRow.user_id == "svc:roi")).all()
    assert sorted(detail for _, detail in reads if "AuditEvent export" in detail) == [
        "1 ledger entries read for an AuditEvent export", "2 ledger entries read for an AuditEvent export"]

    one = tmp_path / "one.ndjson"
    assert run("export", "auditevents", *DAY, "--out", one, "--patient", "P-2", user="officer")[0] == 0
    assert [r["agent"][1]["role"][0]["text"] for r in _disclosures(one)] == ["law_enforcement"]
    before = tmp_path / "november.ndjson"
    code, said, _ = run("export", "auditevents", "--from", "2026-11-01", "--to", "2026-11-30", "--out", before,
                        user="officer")
    assert code == 0 and "and 0 disclosures" in said and _disclosures(before) == []


def test_the_ledger_read_for_the_export_on_both_backends(vault, tmp_path):
    """The ledger entry joined with its request's fulfilment (who released it) on SQLite and PostgreSQL;
    a span that ends before the disclosure holds none of it."""
    from auditor.policy.frames import Period
    from auditor.reporting.templates import load_site
    from auditor.review.audit_export import export_auditevents
    from auditor.roi import workflow
    from auditor.roi.fulfilment import fulfil
    from auditor.roi.policy import load_roi_policy
    from auditor.vault.gateway import AccessContext
    from auditor.vault.gateway.release import ReleaseDesk
    from tests.roi.conftest import populate

    populate(vault)
    desk, policy, today = ReleaseDesk(vault.gateway), load_roi_policy(), vault.today()
    new = workflow.NewRequest("P-1", "public_health", "State Health Dept", "250 Washington St", today, ("lab",))
    rid = workflow.open_request(desk, policy, new, "R. Coordinator")
    workflow.review(desk, rid, "R. Coordinator")
    (tmp_path / "packet").mkdir()
    fulfil(desk, policy, load_site(None), rid, "R. Coordinator", today, tmp_path / "packet")
    reader = AccessContext.of_staff("officer", "privacy_officer", "HCOMPL")
    done = export_auditevents(vault, Period(today, today, vault.timezone), tmp_path / "a.ndjson", reader)
    [entry] = _disclosures(tmp_path / "a.ndjson")
    assert done.disclosures == 1 and entry["agent"][2]["who"]["identifier"]["value"] == "R. Coordinator"
    assert entry["purposeOfEvent"][0]["coding"][0]["code"] == "PUBHLTH" and "State Health" not in json.dumps(entry)
    day_before = today - timedelta(days=1)
    none = export_auditevents(vault, Period(day_before, day_before, vault.timezone), tmp_path / "b.ndjson", reader)
    assert none.disclosures == 0 and _disclosures(tmp_path / "b.ndjson") == []
