"""A month for the reports: the policy tests' small hospital (family, neighbour, coworker, one
explained access) plus a VIP, a terminated account, break-the-glass with and without a reason, a
sensitive record, and October events for the previous-month column."""

from __future__ import annotations

from datetime import date, datetime, timezone

from auditor.audit.events import AuditEvent
from auditor.vault.gateway import AccessContext, PatientDemographics, WorkforceRecord
from tests.policy.vault_data import populate


def _at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def hospital_month(vault) -> dict[str, int]:
    ids = populate(vault)
    svc, g = AccessContext.service("import"), vault.gateway
    ids.update(g.register_patients(svc, [
        PatientDemographics("P-VIP", "Vera", "Star", "1960-05-05", "F", "1 Hill Road", "Boston", "MA", "02115",
                            vip=True),
        PatientDemographics("P-SEN", "Sam", "Quinn", "1990-09-09", "M", "9 Pine Lane", "Boston", "MA", "02116"),
    ], source="ehr").ids)
    g.register_workforce(svc, [
        WorkforceRecord("t.gone", "nurse", "Tom", "Gone", department="Oncology", hire_date=date(2019, 1, 1),
                        termination_date=date(2026, 10, 31)),
        WorkforceRecord("b.glass", "physician", "Bea", "Glass", department="Emergency", hire_date=date(2019, 1, 1)),
        WorkforceRecord("c.coder", "coding", "Cy", "Coder", department="HIM", hire_date=date(2019, 1, 1)),
    ], source="ehr")
    events = [
        AuditEvent(at=_at(3, 15), action="view", user_id="n.muller", role="nurse", patient_id=ids["P-VIP"],
                   source="ehr", source_event_id="ehr-5"),
        AuditEvent(at=_at(4, 16), action="view", user_id="t.gone", role="nurse", patient_id=ids["P-OK"],
                   source="ehr", source_event_id="ehr-6"),
        AuditEvent(at=_at(5, 17), action="view", user_id="b.glass", role="physician", patient_id=ids["P-SEN"],
                   break_glass=True, reason="unconscious in the ED", purpose="ETREAT", source="ehr",
                   source_event_id="ehr-7"),
        AuditEvent(at=_at(5, 18), action="view", user_id="b.glass", role="physician", patient_id=ids["P-OK"],
                   break_glass=True, purpose="ETREAT", source="ehr", source_event_id="ehr-8"),
        AuditEvent(at=_at(6, 15), action="view", user_id="c.coder", role="coding", patient_id=ids["P-OK"],
                   record_type="psychotherapy_note", purpose="HPAYMT", source="ehr", source_event_id="ehr-9"),
        AuditEvent(at=_at(20, 15, month=10), action="view", user_id="n.muller", role="nurse", patient_id=ids["P-OK"],
                   source="ehr", source_event_id="ehr-oct-1"),
    ]
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))
    return ids


def late_event(vault, at: datetime = datetime(2026, 10, 21, 15, tzinfo=timezone.utc)) -> None:
    """An event of `at` that arrives now (a late export), then a checkpoint, as an ingest ends."""
    from auditor.review.audit_log import sign_checkpoint

    event = AuditEvent(at=at, action="view", user_id="dr.lee", role="physician", patient_id=None, source="ehr",
                       source_event_id=f"ehr-late-{at.isoformat()}")
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, [event])
    vault.audit_log.after_commit(appended, 1)
    sign_checkpoint(vault)
