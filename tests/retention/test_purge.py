"""Purge by crypto-shredding: the eligible patients' data unrecoverable, also from a copy of the
records database taken before (the key store is separate); held and retained patients untouched;
the log still verifies; the certificate lists exactly what was destroyed; a purge killed half-way
and run again finishes, counting nobody twice. Every purge carries out a recorded plan."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import create_engine, func, select

from auditor.audit.schema import AuditEventRow
from auditor.audit.verify import verify_log
from auditor.errors import DecryptionError
from auditor.policy.suppressions import SuppressionRequest, add_suppression
from auditor.reporting.templates import Site
from auditor.retention.certificate import issue_certificate, stored_certificate
from auditor.retention.holds import HoldRequest, place_hold
from auditor.retention.plan import build_plan
from auditor.retention.purge import PurgeRefused, Signatories, run_purge
from auditor.retention.recorded_plan import record_plan, recorded_plan
from auditor.retention.schedules import load_schedules
from auditor.vault.gateway import AccessContext, AppointmentRecord, AuthoredRecord, OrderRecord
from auditor.vault.gateway.casework import Casework
from auditor.vault.gateway.retention import RecordsManagement
from auditor.vault.records import (Appointment, AuthoredDocument, CareTeamMember, ClinicalDocument, Encounter, Order,
                                   Patient, PurgeItem, PurgeRun, Suppression, WorkforceMember)
from tests.retention.hospital import AS_OF, SVC, build

ELIGIBLE = ("OLD-1", "OLD-2", "OLD-3", "TEEN-DONE", "IMG")
PEOPLE = Signatories("Dr. A. Approver", "R. Coordinator", "W. Witness")


class Killed(Exception):
    """A crash injected half-way through a purge."""


@pytest.fixture
def hospital(vault):
    return vault, build(vault)


def _record(vault, as_of=AS_OF):
    office = RecordsManagement(vault.gateway)
    return record_plan(office, build_plan(vault.records, office, load_schedules()["default"], as_of, None))


def _purge(vault, progress=None, plan_id=None):
    """Carry out plan `plan_id` (default: a plan recorded now, on AS_OF)."""
    office = RecordsManagement(vault.gateway)
    plan = recorded_plan(vault.records, office, plan_id if plan_id is not None else _record(vault).id)
    return run_purge(vault.records, office, load_schedules()["default"], plan, None, PEOPLE, progress)


def _certify(vault, purge_id, tmp_path, pdf=False):
    return issue_certificate(vault.records, RecordsManagement(vault.gateway), vault.audit_log,
                             load_schedules()["default"], purge_id, Site("St. Elsewhere"), tmp_path / "certs", pdf=pdf)


def _sealed_mrns(engine, ids):
    with engine.connect() as conn:
        return {r.id: (r.data_key_id, bytes(r.mrn)) for r in conn.execute(
            select(Patient.id, Patient.data_key_id, Patient.mrn).where(Patient.id.in_(ids)))}


def _count(vault, model, ids):
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model).where(model.patient_id.in_(ids)))


def test_a_purge_destroys_exactly_the_eligible_patients(hospital, tmp_path):
    vault, ids = hospital
    place_hold(RecordsManagement(vault.gateway), HoldRequest("litigation", "General Counsel", "R. C.", mrn="IMG"))
    gone = [ids[m] for m in ELIGIBLE if m != "IMG"]
    kept = [pid for mrn, pid in ids.items() if pid not in gone]
    before = _sealed_mrns(vault.records, gone)
    outcome = _purge(vault)
    assert (outcome.destroyed, outcome.resumed, outcome.withdrawn) == (4, False, 0)
    for pid, (key_id, sealed) in before.items():
        assert vault.envelope.is_destroyed(key_id)
        with pytest.raises(DecryptionError):
            vault.envelope.open(sealed, "patients", "mrn", pid)
    for model in (ClinicalDocument, Encounter, CareTeamMember):
        assert _count(vault, model, gone) == 0
    with vault.records.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Patient).where(Patient.id.in_(gone))) == 0
        assert conn.scalar(select(WorkforceMember.patient_id).where(WorkforceMember.user_id == "n.self")) is None
    kept_rows = vault.gateway.read_patients(AccessContext.service("report"), kept)
    assert {p.mrn for p in kept_rows.values()} == {"KID", "RECENT", "PERM", "IMG"}
    assert verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok
    with vault.records.connect() as conn:
        destroyed = conn.execute(select(AuditEventRow.patient_id, AuditEventRow.record_type)
                                 .where(AuditEventRow.action.in_(["destroy", "delete"]),
                                        AuditEventRow.outcome == "success",
                                        ~AuditEventRow.record_type.startswith("table:"))).all()  # not the ledger
    assert sorted(destroyed) == sorted([(p, "data_key") for p in gone] + [(p, "chart") for p in gone])


def test_a_copy_of_the_records_database_from_before_cannot_be_read(tmp_path, sqlite_vault):
    vault, ids = sqlite_vault, build(sqlite_vault)
    source, copy = sqlite3.connect(vault.home / "records.db"), sqlite3.connect(tmp_path / "backup.db")
    source.backup(copy)  # a backup of the records database (only: the key store is kept apart)
    source.close(), copy.close()
    _purge(vault)
    backup = create_engine(f"sqlite:///{tmp_path / 'backup.db'}")
    sealed = _sealed_mrns(backup, [ids[m] for m in ELIGIBLE])
    assert len(sealed) == len(ELIGIBLE)  # the old rows are all there, and useless
    for pid, (_, value) in sealed.items():
        with pytest.raises(DecryptionError):
            vault.envelope.open(value, "patients", "mrn", pid)
    backup.dispose()


def test_the_certificate_lists_exactly_what_was_destroyed(hospital, tmp_path):
    vault, ids = hospital
    outcome = _purge(vault)
    cert = _certify(vault, outcome.purge_id, tmp_path, pdf=True)
    html = cert.paths["html"].read_text()
    assert cert.paths["pdf"].read_bytes().startswith(b"%PDF")
    assert cert.destroyed == 5 and hashlib.sha256(html.encode()).hexdigest() == cert.sha256
    assert stored_certificate(vault.records, outcome.purge_id) == (html, cert.sha256)
    for mrn, pid in ids.items():
        assert (f"<td>{pid}</td>" in html) == (mrn in ELIGIBLE)
        assert f"Name{mrn}" not in html
    for words in ("cryptographic erasure (NIST SP 800-88 purge)", "Dr. A. Approver", "R. Coordinator", "W. Witness",
                  "AHIMA recommended retention", "2009-04-01 to 2013-01-10", "4 documents, 6 encounters and 1 care-team row,"):
        assert words in html
    with vault.records.connect() as conn:
        run = conn.execute(select(PurgeRun.status, PurgeRun.log_size)).one()
    assert run.status == "finished" and f"up to sequence {run.log_size}" in html
    with pytest.raises(Exception, match="kept permanently"):
        with vault.records.begin() as conn:
            conn.execute(PurgeRun.__table__.delete())


def test_a_purge_killed_half_way_and_run_again_finishes(hospital, tmp_path):
    vault, ids = hospital
    done = []

    def crash_after_two(stage, patient_id):
        if stage == "records_deleted":
            done.append(patient_id)
        if stage == "key_destroyed" and len(done) == 2:
            raise Killed()  # the third patient's key is gone, their rows are not

    with pytest.raises(Killed):
        _purge(vault, crash_after_two)
    with vault.records.connect() as conn:
        states = sorted(s for (s,) in conn.execute(select(PurgeItem.state)))
    assert states == ["destroyed", "destroyed", "pending", "pending", "pending"]
    with pytest.raises(PurgeRefused, match="purge 1 is unfinished: finish it first with: auditor retention purge --plan 1"):
        _purge(vault, plan_id=_record(vault, date(2026, 1, 1)).id)
    with pytest.raises(PurgeRefused, match="unfinished"):
        _certify(vault, 1, tmp_path)
    outcome = _purge(vault, plan_id=1)
    assert (outcome.purge_id, outcome.resumed, outcome.destroyed) == (1, True, 5)
    cert = _certify(vault, outcome.purge_id, tmp_path)
    html = cert.paths["html"].read_text()
    assert cert.destroyed == 5 and all(html.count(f"<td>{ids[m]}</td>") == 1 for m in ELIGIBLE)
    assert verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok
    with vault.records.connect() as conn:
        keys = conn.execute(select(AuditEventRow.patient_id).where(AuditEventRow.record_type == "data_key",
                                                                    AuditEventRow.action == "destroy")).all()
        assert conn.scalar(select(func.count()).select_from(Patient)) == 3
    assert sorted(k for (k,) in keys) == sorted(ids[m] for m in ELIGIBLE)  # each key destroyed once
    assert _record(vault) is None  # nothing left to purge
    with pytest.raises(PurgeRefused, match="plan 1 was carried out by purge 1: record and review a new plan"):
        _purge(vault, plan_id=1)


def test_a_hold_placed_while_a_purge_was_down_withdraws_the_patient(hospital, tmp_path):
    vault, ids = hospital
    shredded = []

    def crash_at_once(stage, patient_id):
        shredded.append(patient_id)
        raise Killed()

    with pytest.raises(Killed):
        _purge(vault, crash_at_once)
    by_id = {pid: mrn for mrn, pid in ids.items()}
    spared = next(m for m in ELIGIBLE if ids[m] not in shredded)
    office = RecordsManagement(vault.gateway)
    for mrn in (spared, by_id[shredded[0]]):  # the second one's key is already gone: too late to withdraw
        place_hold(office, HoldRequest("subpoena", "Court", "R. C.", mrn=mrn))
    outcome = _purge(vault, plan_id=1)
    assert (outcome.destroyed, outcome.withdrawn) == (4, 1)
    html = _certify(vault, outcome.purge_id, tmp_path).paths["html"].read_text()
    assert f"<td>{ids[spared]}</td>" not in html and f"<td>{shredded[0]}</td>" in html and "withdrawn" in html
    assert vault.gateway.read_patients(AccessContext.service("report"), [ids[spared]])[ids[spared]].mrn == spared


def test_a_suppression_naming_a_purged_patient_is_kept(hospital):
    vault, ids = hospital
    add_suppression(Casework(vault.gateway), SuppressionRequest("family-access", "her guardian", date(2027, 1, 1),
                                                                "CPO", mrn="OLD-2"), {"family-access"}, date(2026, 11, 2))
    _purge(vault)
    with vault.records.connect() as conn:
        assert conn.scalar(select(Suppression.patient_id)) == ids["OLD-2"]


def test_a_purge_deletes_the_patient_s_orders_appointments_and_signatures_and_the_log_verifies(hospital):
    """Contract version 2's rows name the patient by internal id: they go with the chart, recorded in
    the ledger as they were, so `auditor audit verify` stays OK; a kept patient's stay."""
    vault, ids = hospital
    g, at = vault.gateway, datetime(2010, 5, 1, 12, tzinfo=timezone.utc)
    for mrn in ("OLD-1", "RECENT"):
        g.add_orders(SVC, [OrderRecord("test", f"O-{mrn}", mrn, "lab", at, at, "dr.long", "Laboratory")])
        g.add_appointments(SVC, [AppointmentRecord("test", f"A-{mrn}", mrn, "completed", at, at, "Medicine", "dr.long")])
        g.add_authored_documents(SVC, [AuthoredRecord("test", f"D-{mrn}", mrn, "dr.long", "note", at)])
    _purge(vault)
    for model in (Order, Appointment, AuthoredDocument):
        assert _count(vault, model, [ids["OLD-1"]]) == 0 and _count(vault, model, [ids["RECENT"]]) == 1
    assert verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok
    with vault.records.connect() as conn:
        chart = conn.scalar(select(AuditEventRow.detail).where(AuditEventRow.record_type == "chart",
                                                               AuditEventRow.patient_id == ids["OLD-1"]))
    assert "1 order(s), 1 appointment(s), 1 signature(s)" in chart
