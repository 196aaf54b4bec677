"""A purge carries out a recorded plan: exactly its patients, or nothing when the patients eligible on
its day changed since it was reviewed."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from auditor.audit.schema import AuditEventRow
from auditor.reporting.templates import Site
from auditor.retention.certificate import issue_certificate
from auditor.retention.holds import HoldRequest, place_hold, release_hold
from auditor.retention.plan import build_plan
from auditor.retention.purge import PurgeRefused, Signatories, run_purge
from auditor.retention.recorded_plan import plan_digest, record_plan, recorded_plan
from auditor.retention.schedules import load_schedules
from auditor.vault.gateway import AccessContext, EncounterRecord
from auditor.vault.gateway.retention import RecordsManagement
from auditor.vault.records import Patient, PurgeRun
from tests.retention.hospital import AS_OF, build

PEOPLE = Signatories("Dr. A. Approver", "R. Coordinator")


@pytest.fixture
def hospital(sqlite_vault):
    return sqlite_vault, build(sqlite_vault)


def _plan(vault, as_of=AS_OF):
    return build_plan(vault.records, RecordsManagement(vault.gateway), load_schedules()["default"], as_of, None)


def _record(vault, as_of=AS_OF):
    return record_plan(RecordsManagement(vault.gateway), _plan(vault, as_of))


def _carry_out(vault, plan_id):
    office = RecordsManagement(vault.gateway)
    plan = recorded_plan(vault.records, office, plan_id)
    return run_purge(vault.records, office, load_schedules()["default"], plan, None, PEOPLE)


def _nothing_destroyed(vault, patients=8):
    with vault.records.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Patient)) == patients
        assert conn.scalar(select(func.count()).select_from(PurgeRun)) == 0
        assert conn.scalar(select(func.count()).select_from(AuditEventRow).where(AuditEventRow.action == "destroy")) == 0


def test_a_plan_is_recorded_with_its_digest_in_its_audit_event(hospital):
    vault, ids = hospital
    plan = _plan(vault)
    recorded = record_plan(RecordsManagement(vault.gateway), plan)
    schedule = load_schedules()["default"]
    wanted = {(p.patient_id, p.data_key_id) for p in plan.having("eligible")}
    assert {pid for pid, _ in wanted} == {ids[m] for m in ("OLD-1", "OLD-2", "OLD-3", "TEEN-DONE", "IMG")}
    assert recorded.patients == wanted and recorded.as_of == AS_OF and recorded.schedule_digest == schedule.digest
    assert recorded.digest == plan_digest(AS_OF, "default", schedule.digest, wanted)
    assert plan_digest(AS_OF, "default", schedule.digest, sorted(wanted)[1:]) != recorded.digest
    with vault.records.connect() as conn:
        event = conn.execute(select(AuditEventRow.__table__).where(AuditEventRow.record_type == "retention_plan")).one()
    assert (event.user_id, event.action, event.record_id) == ("svc:retention", "create", str(recorded.id))
    assert f"patients sha256 {recorded.digest}" in event.detail
    assert recorded_plan(vault.records, RecordsManagement(vault.gateway), recorded.id) == recorded


def test_nothing_eligible_records_no_plan(hospital):
    vault, _ = hospital
    assert record_plan(RecordsManagement(vault.gateway), _plan(vault, date(2015, 1, 1))) is None


def test_a_purge_destroys_exactly_the_plan(hospital):
    vault, ids = hospital
    recorded = _record(vault)
    outcome = _carry_out(vault, recorded.id)
    assert (outcome.destroyed, outcome.withdrawn, outcome.resumed) == (5, 0, False)
    with vault.records.connect() as conn:
        left = set(conn.scalars(select(Patient.id)))
        assert conn.scalar(select(PurgeRun.plan_id)) == recorded.id
    assert left == set(ids.values()) - {pid for pid, _ in recorded.patients}


def _hold_on_old_2(vault, ids):
    place_hold(RecordsManagement(vault.gateway), HoldRequest("subpoena", "Court", "R. C.", mrn="OLD-2"))


def _new_encounter_for_old_3(vault, ids):
    at = datetime(2026, 10, 1, 12, tzinfo=timezone.utc)
    vault.gateway.add_encounters(AccessContext.service("import"),
                                 [EncounterRecord("test", "OLD-3-new", "OLD-3", "outpatient", at, at, "Medicine", None)])


@pytest.mark.parametrize("change, gone, new", [(_hold_on_old_2, 1, 0), (_new_encounter_for_old_3, 1, 0)])
def test_a_plan_whose_patients_changed_destroys_nothing(hospital, change, gone, new):
    vault, ids = hospital
    recorded = _record(vault)
    change(vault, ids)
    with pytest.raises(PurgeRefused, match=f"changed since plan {recorded.id} was recorded \\({gone} no longer "
                                           f"eligible: a legal hold, a new record or gone; {new} newly eligible\\)"):
        _carry_out(vault, recorded.id)
    _nothing_destroyed(vault)


def test_a_patient_newly_eligible_or_gone_stops_the_plan_too(hospital, tmp_path):
    vault, ids = hospital
    office = RecordsManagement(vault.gateway)
    hold = place_hold(office, HoldRequest("litigation", "Counsel", "R. C.", mrn="IMG"))
    first, second = _record(vault), _record(vault)
    release_hold(office, hold, "settled", "R. C.")
    with pytest.raises(PurgeRefused, match="0 no longer eligible: a legal hold, a new record or gone; 1 newly eligible"):
        _carry_out(vault, first.id)
    third = _record(vault)
    purge_id = _carry_out(vault, third.id).purge_id  # everyone of the second plan is gone now
    issue_certificate(vault.records, office, vault.audit_log, load_schedules()["default"], purge_id, Site("St. E"),
                      tmp_path, pdf=False)
    with pytest.raises(PurgeRefused, match="4 no longer eligible"):
        _carry_out(vault, second.id)
