"""Legal holds and the retention plan: what is eligible on a day (kept through the last day of the
period, eligible the day after; never a day to come), what a hold keeps and why; every change to a
hold audited, its history append-only, its reason sealed."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from auditor.audit.schema import AuditEventRow
from auditor.errors import NotFound
from auditor.retention.holds import HoldRefused, HoldRequest, hold_history, list_holds, place_hold, release_hold
from auditor.retention.plan import PlanRefused, build_plan
from auditor.retention.schedules import load_schedules
from auditor.vault.gateway.retention import RecordsManagement
from auditor.vault.gateway import AppointmentRecord, AuthoredRecord, OrderRecord
from tests.retention.hospital import AS_OF, SVC, _at, build


@pytest.fixture
def hospital(sqlite_vault):
    return sqlite_vault, build(sqlite_vault)


def _plan(vault, state="default", as_of=AS_OF, tz=None):
    return build_plan(vault.records, RecordsManagement(vault.gateway), load_schedules()[state], as_of, tz)


def _status(plan, ids):
    by_id = {v: k for k, v in ids.items()}
    return {by_id[p.patient_id]: p.status for p in plan.patients}


def test_the_plan_under_the_default_schedule(hospital):
    vault, ids = hospital
    plan = _plan(vault)
    assert _status(plan, ids) == {"OLD-1": "eligible", "OLD-2": "eligible", "OLD-3": "eligible", "KID": "retained",
                                  "TEEN-DONE": "eligible", "RECENT": "retained", "PERM": "permanent", "IMG": "eligible"}
    teen = next(p for p in plan.patients if p.patient_id == ids["TEEN-DONE"])
    assert teen.retain_until == date(2022, 3, 3) and "minor" in teen.basis  # 18 + 3 years
    old = next(p for p in plan.patients if p.patient_id == ids["OLD-1"])
    assert (old.first_record, old.last_record, old.retain_until) == (date(2009, 4, 1), date(2010, 5, 2), date(2020, 5, 2))
    assert old.record_types == ("encounter", "lab", "note")


def test_a_state_schedule_changes_the_plan(hospital):
    vault, ids = hospital
    nc = _status(_plan(vault, "NC"), ids)  # 11 years; minors to age 30
    assert nc["TEEN-DONE"] == "retained" and nc["OLD-3"] == "eligible"
    early = _status(_plan(vault, "CA", date(2019, 1, 1)), ids)  # 7 years
    assert early["OLD-1"] == "eligible" and early["OLD-2"] == "retained"


def test_birth_dates_are_read_audited_and_only_where_the_adult_period_ended(hospital):
    vault, ids = hospital
    _plan(vault)
    with vault.records.connect() as conn:
        rows = conn.execute(select(AuditEventRow.patient_id, AuditEventRow.user_id, AuditEventRow.purpose)
                            .where(AuditEventRow.fields == "birth_date")).all()
    assert {r.patient_id for r in rows} == {ids[m] for m in ("OLD-1", "OLD-2", "OLD-3", "TEEN-DONE", "KID", "IMG")}
    assert {(r.user_id, r.purpose) for r in rows} == {("svc:retention", "RECORDMGT")}


def _hold(vault, **kw):
    request = HoldRequest(kw.pop("reason", "Smith v. Hospital, counsel letter"), kw.pop("authority", "General Counsel"),
                          kw.pop("by", "R. Coordinator"), **kw)
    return place_hold(RecordsManagement(vault.gateway), request)


def test_holds_on_a_patient_a_record_type_and_a_date_range(hospital):
    vault, ids = hospital
    on_patient = _hold(vault, mrn="OLD-2")
    on_imaging = _hold(vault, record_type="imaging")
    on_2013 = _hold(vault, covers_from=date(2013, 1, 1), covers_to=date(2013, 12, 31))
    _hold(vault, record_type="lab", covers_from=date(2020, 1, 1))  # OLD-1's lab is older: not covered
    plan = _plan(vault)
    held = {p.patient_id: p.holds for p in plan.having("held")}
    assert held == {ids["OLD-2"]: (on_patient,), ids["IMG"]: (on_imaging,), ids["OLD-3"]: (on_2013,)}
    assert {p.patient_id for p in plan.having("eligible")} == {ids["OLD-1"], ids["TEEN-DONE"]}
    assert plan.holds[on_patient].scope() == f"patient {ids['OLD-2']}"


def test_a_released_hold_stops_nothing_and_its_history_stays(hospital):
    vault, ids = hospital
    office = RecordsManagement(vault.gateway)
    hold = _hold(vault, mrn="OLD-2")
    release_hold(office, hold, "case settled", "R. Coordinator")
    assert ids["OLD-2"] in {p.patient_id for p in _plan(vault).having("eligible")}
    entry = list_holds(vault.records)[0]
    assert not entry.in_force and entry.released_by == "R. Coordinator"
    assert [h[1] for h in hold_history(vault.records, hold)] == ["placed", "released"]
    assert office.hold_texts([hold]) == {hold: ("Smith v. Hospital, counsel letter", "case settled")}
    with pytest.raises(HoldRefused, match="already released"):
        release_hold(office, hold, "again", "someone")
    with vault.records.connect() as conn:
        details = [r.detail for r in conn.execute(select(AuditEventRow.detail, AuditEventRow.record_type)
                                                  .where(AuditEventRow.record_type == "legal_hold",
                                                         AuditEventRow.action.in_(["create", "update"])))]
    assert details[0].startswith(f"legal hold {hold} placed by R. Coordinator on the order of General Counsel")
    assert details[1] == f"legal hold {hold} released by R. Coordinator"


def test_the_history_is_append_only_and_the_reason_is_sealed(hospital, tmp_path):
    vault, _ = hospital
    _hold(vault, mrn="OLD-2", reason="Subpoena naming Pat NameOLD-2")
    con = sqlite3.connect(vault.home / "records.db")
    try:
        for statement in ("update retention_hold_history set by = 'x'", "delete from retention_hold_history"):
            with pytest.raises(sqlite3.IntegrityError, match="retention_hold_history"):
                con.execute(statement)
    finally:
        con.close()
    vault.records.dispose()
    for name in ("records.db", "records.db-wal"):
        path = vault.home / name
        if path.exists():
            assert b"Subpoena naming" not in path.read_bytes()


def test_refused_holds_change_nothing(hospital):
    vault, _ = hospital
    with pytest.raises(HoldRefused, match="covers a patient"):
        _hold(vault)
    with pytest.raises(HoldRefused, match="ends before it starts"):
        _hold(vault, covers_from=date(2020, 1, 1), covers_to=date(2019, 1, 1))
    with pytest.raises(HoldRefused, match="an authority"):
        _hold(vault, mrn="OLD-1", authority=" ")
    with pytest.raises(HoldRefused, match="no record of type 'imagin' in the vault \\(types: birth_record, encounter, imaging, lab,"):
        _hold(vault, record_type="imagin")
    with pytest.raises(NotFound, match="no patient with that MRN"):
        _hold(vault, mrn="NOBODY")
    assert list_holds(vault.records) == []


def test_a_patient_without_any_record_is_never_eligible(hospital):
    from auditor.vault.gateway import AccessContext, PatientDemographics

    vault, _ = hospital
    new = vault.gateway.register_patients(AccessContext.service("import"), [PatientDemographics("EMPTY")]).ids["EMPTY"]
    entry = next(p for p in _plan(vault).patients if p.patient_id == new)
    assert (entry.status, entry.retain_until) == ("no_records", None)


def test_a_patient_named_by_a_record_kept_after_the_chart_is_not_purged(hospital):
    from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, Table, insert

    vault, ids = hospital
    metadata = MetaData()
    Table("patients", metadata, Column("id", BigInteger, primary_key=True))
    letters = Table("letters", metadata, Column("id", Integer, primary_key=True),
                    Column("patient_id", BigInteger, ForeignKey("patients.id")))
    letters.create(vault.records)
    with vault.records.begin() as conn:
        conn.execute(insert(letters).values(patient_id=ids["OLD-2"]))
    plan = build_plan(vault.records, RecordsManagement(vault.gateway), load_schedules()["default"], AS_OF, None,
                      reference_tables=[letters])
    entry = next(p for p in plan.patients if p.patient_id == ids["OLD-2"])
    assert entry.status == "referenced" and entry.basis.endswith("named by letters, kept after the chart")
    assert ids["OLD-1"] in {p.patient_id for p in plan.having("eligible")}


def test_a_day_after_the_organisation_s_today_is_refused(hospital):
    vault, _ = hospital  # the clock: 2026-11-02 14:00 UTC, which is 2026-11-03 04:00 at UTC+14
    with pytest.raises(PlanRefused, match=r"2026-11-03 is after today \(2026-11-02\)"):
        _plan(vault, as_of=date(2026, 11, 3))
    with pytest.raises(PlanRefused, match=r"2040-01-01 is after today \(2026-11-03\)"):
        _plan(vault, as_of=date(2040, 1, 1), tz=ZoneInfo("Pacific/Kiritimati"))
    assert _plan(vault, as_of=date(2026, 11, 3), tz=ZoneInfo("Pacific/Kiritimati")).as_of == date(2026, 11, 3)
    assert _plan(vault, as_of=date(2026, 11, 2)).as_of == AS_OF
    with vault.records.connect() as conn:  # a refused plan read no birth date
        reads = conn.scalar(select(func.count()).select_from(AuditEventRow).where(AuditEventRow.fields == "birth_date"))
    assert reads == 2 * 6


@pytest.mark.parametrize("state", ["default", "CA", "NC"])
def test_a_patient_is_kept_on_the_last_retained_day_and_eligible_the_day_after(hospital, state):
    vault, ids = hospital
    until = {p.patient_id: p.retain_until for p in _plan(vault, state).patients if p.retain_until}
    days = sorted({d for u in until.values() for d in (u, u + timedelta(days=1)) if d <= AS_OF})
    assert days, "the hospital has patients whose retention ran out"
    for day in days:
        for p in _plan(vault, state, day).patients:
            if p.patient_id in until:
                assert p.status == ("retained" if day <= until[p.patient_id] else "eligible"), (state, day, p)
    old_1 = until[ids["OLD-1"]]
    assert [p.status for p in _plan(vault, state, old_1).patients if p.patient_id == ids["OLD-1"]] == ["retained"]
    day_after = _plan(vault, state, old_1 + timedelta(days=1))
    assert ids["OLD-1"] in {p.patient_id for p in day_after.having("eligible")}


@pytest.mark.parametrize("activity, kept", [
    ("order", True), ("order completed", True), ("appointment", True), ("cancelled appointment", False),
    ("signed note", True)])
def test_an_order_an_appointment_kept_or_a_signed_note_extends_the_period(hospital, activity, kept):
    """OLD-3's last encounter was 2013-01-10 (eligible from 2023 under the default 10 years); a later
    piece of its care from an EHR export's version-2 files counts as its last activity, except an
    appointment that was cancelled (the contract counts only the others as encounters)."""
    vault, ids = hospital
    g, at = vault.gateway, lambda day: _at(day)
    if activity == "order":  # not completed: counted from when it was placed
        g.add_orders(SVC, [OrderRecord("ehr", "o1", "OLD-3", "lab", at("2019-03-01"))])
    elif activity == "order completed":  # placed long ago, its results filed in 2020
        g.add_orders(SVC, [OrderRecord("ehr", "o1", "OLD-3", "lab", at("2015-03-01"), at("2020-06-01"))])
    elif activity.endswith("appointment"):
        g.add_appointments(SVC, [AppointmentRecord("ehr", "a1", "OLD-3", "cancelled" if "cancelled" in activity else "completed",
                                                   at("2019-01-01"), at("2019-02-01"), "Medicine")])
    else:
        g.add_authored_documents(SVC, [AuthoredRecord("ehr", "d1", "OLD-3", "dr.long", "note", at("2018-04-04"))])
    old3 = next(p for p in _plan(vault).patients if p.patient_id == ids["OLD-3"])
    assert (old3.status == "retained") is kept, old3
    if kept:
        assert old3.last_record > date(2013, 1, 10) and old3.retain_until > AS_OF
