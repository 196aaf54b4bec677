"""Frames read from a real vault: identities matched through blind indexes (accents, "Street" and
"St", phone formats), names and MRNs resolved through the audited gateway for the output only."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select

from auditor.audit.schema import AuditEventRow
from auditor.policy import engine
from auditor.policy.findings import build_findings
from auditor.policy.frames import Period, load_frames
from auditor.vault.settings import organisation_timezone
from auditor.vault.gateway.directory import ReportDirectory
from tests.policy.vault_data import populate


def test_findings_from_the_vault(vault, policy):
    ids = populate(vault)
    tz = organisation_timezone(vault.records)
    assert tz == ZoneInfo("America/New_York")
    frames = load_frames(vault.records, Period(date(2026, 11, 2), date(2026, 11, 2), tz), policy.lookback())
    assert str(frames.events["action"].dtype) == "category" and str(frames.events["at"].dt.tz) == "UTC"
    assert str(frames.workforce["role"].dtype) == "category"
    detection = engine.run(frames, policy)
    found = build_findings(detection, policy, ReportDirectory(vault.gateway))
    by_rule = {f.rule: f for f in found}
    assert set(by_rule) == {"family-access", "neighbor-access", "coworker-access"}
    family = by_rule["family-access"]
    assert family.mrn == "P-FAM" and family.event_ids == ["ehr-1"] and family.severity == "high"
    assert family.explanation == (
        "Nurse Z. MULLER (Cardiology) opened the chart of a patient with the same surname and home address "
        "on 2026-11-02; no encounter, care-team or department link explains it.")
    assert by_rule["neighbor-access"].mrn == "P-NEI"  # 02111-1234 is postal code 02111
    assert by_rule["coworker-access"].mrn == "P-COW"  # " cardiology" is Cardiology
    assert detection.context.explained_share == 0.25  # P-OK: the department's encounter 3 days before
    with vault.records.connect() as conn:
        reads = conn.execute(select(AuditEventRow.patient_id, AuditEventRow.fields)
                             .where(AuditEventRow.user_id == "svc:report", AuditEventRow.patient_id.is_not(None))).all()
    assert sorted(r.patient_id for r in reads) == sorted(ids[m] for m in ("P-FAM", "P-NEI", "P-COW"))
    assert {r.fields for r in reads} == {"mrn"}  # minimum necessary: the MRN only


def test_report_reads_are_not_audited_as_accesses(vault, policy):
    populate(vault)
    period = Period(date(2026, 11, 2), date(2026, 11, 2), ZoneInfo("America/New_York"))
    build_findings(engine.run(load_frames(vault.records, period), policy), policy, ReportDirectory(vault.gateway))
    again = build_findings(engine.run(load_frames(vault.records, period), policy), policy)
    assert {f.user_id for f in again} == {"n.muller"}
