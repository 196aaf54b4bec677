"""The access gateway on SQLite and PostgreSQL: decisions, audit events, and the failed-audit rule."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text

from auditor.audit.schema import AuditEventRow
from auditor.errors import AccessDenied, AuditWriteFailed, NotFound
from auditor.vault.gateway import AccessContext


def events(vault, **where):
    with vault.records.connect() as conn:
        q = select(AuditEventRow).order_by(AuditEventRow.seq)
        for k, v in where.items():
            q = q.where(getattr(AuditEventRow, k) == v)
        return conn.execute(q).all()


def test_attending_reads_chart_and_one_event_is_logged(population):
    chart = population.gateway.read_chart(AccessContext("dr.house", "TREAT", workstation="ws-7"), "MRN-1")
    assert chart.demographics.first_name == "Zoë" and chart.demographics.last_name == "Müller"
    assert chart.basis == "attending+department"
    assert {d.sensitivity for d in chart.documents} == {"general", "psychotherapy_note", "hiv"}
    (e,) = events(population, user_id="dr.house")
    assert (e.action, e.outcome, e.patient_id, e.purpose, e.workstation) == ("view", "success", chart.patient_id, "TREAT", "ws-7")
    assert "demographics" in e.fields


def test_role_ceiling_withholds_sensitive_documents(population, clock):
    from auditor.vault.gateway import EncounterRecord

    population.gateway.add_encounters(AccessContext.service("import"), [
        EncounterRecord("test", "E9", "MRN-1", "outpatient", clock.at, clock.at, "Oncology", None)])
    chart = population.gateway.read_chart(AccessContext("n.joy", "TREAT"), "MRN-1")  # nurse, same department
    assert {d.sensitivity for d in chart.documents} == {"general", "hiv"}
    assert chart.withheld == 1  # the psychotherapy note
    assert "1 document(s) withheld" in events(population, user_id="n.joy")[-1].detail


def test_no_relationship_is_denied_and_audited(population):
    with pytest.raises(AccessDenied, match="no treatment relationship"):
        population.gateway.read_chart(AccessContext("dr.other", "TREAT"), "MRN-1")
    (e,) = events(population, user_id="dr.other")
    assert e.outcome == "denied" and e.patient_id is not None and e.detail == "no treatment relationship"


def test_restricted_patient_opens_to_care_team_only(population):
    with pytest.raises(AccessDenied, match="restricted patient"):
        population.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-2")  # same department only
    assert population.gateway.read_chart(AccessContext("n.joy", "TREAT"), "MRN-2").basis == "care_team"


def test_break_glass_needs_reason_and_is_flagged(population):
    ctx = AccessContext("dr.other", "TREAT", break_glass=True)
    with pytest.raises(AccessDenied, match="needs a reason"):
        population.gateway.read_chart(ctx, "MRN-3")
    chart = population.gateway.read_chart(AccessContext("dr.other", "TREAT", reason="code blue", break_glass=True), "MRN-3")
    assert chart.basis == "break-glass"
    denied, allowed = events(population, user_id="dr.other")
    assert denied.outcome == "denied" and allowed.outcome == "success" and allowed.break_glass
    assert allowed.reason is not None and b"code blue" not in bytes(allowed.reason)


def test_break_glass_never_opens_psychotherapy_notes(population):
    chart = population.gateway.read_chart(AccessContext("dr.other", "TREAT", reason="ED", break_glass=True), "MRN-1")
    assert "psychotherapy_note" not in {d.sensitivity for d in chart.documents} and chart.withheld == 1


def test_terminated_and_unknown_accounts_and_purposes(population):
    with pytest.raises(AccessDenied, match="terminated on 2026-10-31"):
        population.gateway.read_chart(AccessContext("t.erm", "TREAT"), "MRN-1")
    with pytest.raises(AccessDenied, match="no such account"):
        population.gateway.read_chart(AccessContext("ghost", "TREAT"), "MRN-1")
    with pytest.raises(AccessDenied, match="unknown purpose"):
        population.gateway.read_chart(AccessContext("dr.house", "NOSY"), "MRN-1")
    with pytest.raises(AccessDenied, match="claims role nurse"):
        population.gateway.read_chart(AccessContext("dr.house", "TREAT", role="nurse"), "MRN-1")
    with pytest.raises(AccessDenied):
        population.gateway.read_chart(AccessContext("it.guy", "HOPERAT"), "MRN-1")
    assert [e.outcome for e in events(population, user_id="t.erm")] == ["denied"]
    assert [e.outcome for e in events(population, user_id="ghost")] == ["denied"]


def test_unknown_mrn_is_audited_as_denied(population):
    with pytest.raises(NotFound):
        population.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-404")
    (e,) = events(population, user_id="dr.house")
    assert e.outcome == "denied" and e.patient_id is None


def test_billing_reads_demographics_within_operational_window(population):
    got = population.gateway.search_patients(AccessContext("b.ill", "HPAYMT"), last_name="MULLER")
    assert [p.mrn for p in got] == ["MRN-1"]
    (e,) = events(population, user_id="b.ill")
    assert e.action == "search" and e.outcome == "success"


def test_search_logs_one_event_per_patient_returned(population):
    from auditor.vault.gateway import PatientDemographics

    population.gateway.register_patients(AccessContext.service("import"), [
        PatientDemographics("MRN-4", "Max", "Mueller", "1990-01-01"), PatientDemographics("MRN-5", "Mia", "Müller", "1991-01-01")])
    found = population.gateway.search_patients(AccessContext.service("report"), last_name="muller")
    assert sorted(p.mrn for p in found) == ["MRN-1", "MRN-5"]  # Mueller is another name
    logged = events(population, user_id="svc:report")
    assert len(logged) == 2 and {e.patient_id for e in logged} == {p.patient_id for p in found}
    by_phone = population.gateway.search_patients(AccessContext.service("report"), phone="+1 617 555 0101")
    assert [p.mrn for p in by_phone] == ["MRN-1"]


def test_people_cannot_write_records(population):
    from auditor.vault.gateway import PatientDemographics

    with pytest.raises(AccessDenied):
        population.gateway.register_patients(AccessContext("dr.house", "TREAT"), [PatientDemographics("MRN-9")])


def test_failed_audit_write_means_the_access_did_not_happen(population):
    """Inject a failure into the audit insert: the read raises and returns nothing, nothing is logged."""
    before = len(events(population))

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            raise RuntimeError("disk full")

    event.listen(population.records, "before_cursor_execute", refuse)
    try:
        with pytest.raises(AuditWriteFailed, match="did not happen"):
            population.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
        with pytest.raises(AuditWriteFailed):
            population.gateway.register_patients(AccessContext.service("import"), [
                __import__("auditor.vault.gateway", fromlist=["x"]).PatientDemographics("MRN-77", "New", "Person")])
    finally:
        event.remove(population.records, "before_cursor_execute", refuse)
    assert len(events(population)) == before
    with population.records.connect() as conn:  # the failed create left no patient behind
        from auditor.vault.records import Patient
        assert conn.scalar(select(func.count()).select_from(Patient)) == 3


def test_failed_audit_append_from_the_log_object(population, monkeypatch):
    """The same with the failure raised by the log itself (an injected AuditLog)."""
    class BrokenLog(type(population.audit_log)):
        def append(self, conn, evts):
            raise OSError("log volume gone")

    broken = BrokenLog.__new__(BrokenLog)
    broken.__dict__.update(population.audit_log.__dict__)
    population.gateway.audit_log = broken
    with pytest.raises(AuditWriteFailed):
        population.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")


def test_shredding_a_patient_makes_the_chart_unreadable_and_keeps_the_log(population):
    from auditor.audit.verify import verify_log
    from auditor.errors import DecryptionError

    pid = population.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1").patient_id
    with pytest.raises(AccessDenied):
        population.gateway.shred_patient(AccessContext("dr.house", "TREAT"), pid)
    population.gateway.shred_patient(AccessContext.service("retention"), pid)
    with pytest.raises(DecryptionError):
        population.gateway.read_patients(AccessContext.service("report"), [pid])
    assert verify_log(population.records, population.keyring, [population.checkpoints.path]).ok
    assert events(population, action="destroy")[-1].patient_id == pid
