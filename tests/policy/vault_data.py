"""A small hospital written through the gateway, with EHR access events in the audit log."""

from __future__ import annotations

from datetime import date, datetime, timezone

from zoneinfo import ZoneInfo

from auditor.audit.events import AuditEvent
from auditor.vault.gateway import AccessContext, EncounterRecord, PatientDemographics, WorkforceRecord
from auditor.vault.settings import set_organisation_timezone


def populate(vault, tz: str | None = "America/New_York") -> dict[str, int]:
    svc, g = AccessContext.service("import"), vault.gateway
    ids = g.register_patients(svc, [
        PatientDemographics("P-FAM", "Zoë", "Müller", "1970-03-04", "F", "12 Main Street", "Boston", "MA", "02111",
                            "(617) 555-0101"),
        PatientDemographics("P-NEI", "Ann", "Lee", "1985-07-08", "F", "40 Main St.", "Boston", "MA", "02111-1234"),
        PatientDemographics("P-COW", "Carl", "Lee", "1979-01-01", "M", "1 Elm Road", "Boston", "MA", "02113"),
        PatientDemographics("P-OK", "Otto", "Kay", "1950-01-01", "M", "5 Oak Ave", "Boston", "MA", "02114"),
    ], source="ehr").ids
    g.register_workforce(svc, [
        WorkforceRecord("n.muller", "nurse", "Zoe", "MULLER", "1972-02-02", department="Cardiology",
                        hire_date=date(2020, 1, 1), address_line="12 main st", postal_code="02111",
                        phone="617.555.0199", shift_start="07:00", shift_end="19:00"),
        WorkforceRecord("dr.lee", "physician", "Carl", "Lee", department=" cardiology", hire_date=date(2020, 1, 1),
                        patient_mrn="P-COW"),
    ], source="ehr")
    g.add_encounters(svc, [EncounterRecord("ehr", "E1", "P-OK", "outpatient", datetime(2026, 10, 30, 14, tzinfo=timezone.utc),
                                           datetime(2026, 10, 30, 15, tzinfo=timezone.utc), "Cardiology", "dr.lee")])
    at = lambda h, m=0: datetime(2026, 11, 2, h, m, tzinfo=timezone.utc)  # noqa: E731
    events = [AuditEvent(at=at(15), action="view", user_id="n.muller", role="nurse", patient_id=ids["P-FAM"],
                         source="ehr", source_event_id="ehr-1"),
              AuditEvent(at=at(15, 5), action="view", user_id="n.muller", role="nurse", patient_id=ids["P-NEI"],
                         source="ehr", source_event_id="ehr-2"),
              AuditEvent(at=at(15, 10), action="view", user_id="n.muller", role="nurse", patient_id=ids["P-COW"],
                         source="ehr", source_event_id="ehr-3"),
              AuditEvent(at=at(15, 15), action="view", user_id="n.muller", role="nurse", patient_id=ids["P-OK"],
                         source="ehr", source_event_id="ehr-4")]
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))
    if tz:  # through the gateway, as ingest sets it: recorded in the ledger
        set_organisation_timezone(g, ZoneInfo(tz))
    return ids
