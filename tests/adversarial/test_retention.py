"""Attacks on retention: a user who types a day to come, and someone with write access to records.db
(sqlite3, the append-only triggers dropped) who swaps the patients of a reviewed plan, with or
without its digest and its audit event, or slips a patient into an unfinished purge. Each is
refused in one line and destroys nobody."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from auditor.audit import merkle
from auditor.audit.events import CANONICAL_COLUMNS, canonical_bytes
from auditor.home import Vault, create_home
from auditor.retention.purge import Signatories, run_purge
from auditor.retention.recorded_plan import plan_digest, recorded_plan
from auditor.retention.schedules import load_schedules
from auditor.vault.gateway.retention import RecordsManagement
from tests.conftest import FAST_SCRYPT
from tests.retention.hospital import build

PURGE = ("retention", "purge", "--plan", "1", "--yes", "--no-pdf")


@pytest.fixture
def home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    try:
        return tmp_path / "home", build(vault)
    finally:
        vault.close()


def _counts(home) -> tuple[int, int, int]:
    """(patients, purge runs, data keys destroyed)"""
    con = sqlite3.connect(home / "records.db")
    try:
        return tuple(con.execute(q).fetchone()[0] for q in (
            "select count(*) from patients", "select count(*) from retention_purges",
            "select count(*) from audit_events where action = 'destroy'"))
    finally:
        con.close()


def test_a_day_to_come_destroys_nobody(auditor, home, clock):
    """The incident: `purge --as-of 2040-01-01 --approver X` (before plans and sign-in) destroyed 103 of 115 patients, unasked."""
    path, _ = home
    before = _counts(path)
    for args in (("retention", "purge", "--as-of", "2040-01-01", "--yes"),
                 ("retention", "plan", "--as-of", "2040-01-01"),
                 ("retention", "plan", "--as-of", "2026-11-03", "--format", "json")):
        result = auditor(*args, clock=clock, user="records")
        assert result.code == 2 and result.err.count("\n") == 1 and result.out == "", (args, result)
    assert _counts(path) == before


def _add_the_held_patient(con, ids) -> None:
    """Release the hold that kept IMG out of plan 1, and add IMG to the plan."""
    for table in ("retention_plans", "retention_plan_patients"):
        con.execute(f"drop trigger {table}_no_update")
    con.execute("update retention_holds set released_at = 1, released_by = 'nobody'")
    key = con.execute("select data_key_id from patients where id = ?", (ids["IMG"],)).fetchone()[0]
    con.execute("insert into retention_plan_patients values (1, ?, ?)", (ids["IMG"], key))


def _and_its_digest(con) -> str:
    as_of, schedule, schedule_digest = con.execute("select as_of, schedule, schedule_digest from retention_plans").fetchone()
    patients = con.execute("select patient_id, data_key_id from retention_plan_patients").fetchall()
    digest = plan_digest(date.fromisoformat(as_of), schedule, schedule_digest, patients)
    con.execute("update retention_plans set digest = ?, eligible = eligible + 1", (digest,))
    return digest


def _and_its_audit_event(con, digest: str) -> None:
    """Rewrite the plan's event with the new digest and its recomputed leaf hash (the seal needs the keyring)."""
    seq, detail = con.execute("select seq, detail from audit_events where record_type = 'retention_plan'").fetchone()
    con.execute("update audit_events set detail = ? where seq = ?",
                (detail[:detail.index("sha256 ") + 7] + digest + detail[detail.index(";"):], seq))
    row = con.execute(f"select {', '.join(CANONICAL_COLUMNS)} from audit_events where seq = ?", (seq,)).fetchone()
    con.execute("update audit_events set leaf_hash = ? where seq = ?", (merkle.leaf_hash(canonical_bytes(row)), seq))


def _and_deletes_its_audit_event(con, digest: str) -> None:
    con.execute("delete from audit_events where record_type = 'retention_plan'")


def _and_forges_another(con, digest: str) -> None:
    """A second event for plan 1 with the new digest, at the next sequence number, with a made-up seal."""
    columns = ", ".join(c for c in CANONICAL_COLUMNS if c != "seq")
    con.execute(f"insert into audit_events (seq, {columns}, leaf_hash, seal) select (select max(seq) + 1 from "
                f"audit_events), {columns}, leaf_hash, seal from audit_events where record_type = 'retention_plan'")
    con.execute("update audit_events set detail = ?, seal = ? where seq = (select max(seq) from audit_events)",
                (f"plan 1 recorded: patients sha256 {digest}; 5 eligible on 2026-11-02 under default", bytes(32)))


@pytest.mark.parametrize("tamper, message", [
    (None, "retention plan 1 was altered after it was recorded: its patients do not give its digest"),
    (lambda con, digest: None, "retention plan 1 does not match the digest its audit event recorded; nothing destroyed"),
    (_and_its_audit_event, "does not match the digest its audit event recorded (no sealed event records it)"),
    (_and_deletes_its_audit_event, "(no sealed event records it)"),
    (_and_forges_another, "retention plan 1 does not match the digest its audit event recorded; nothing destroyed"),
])
def test_a_plan_whose_patients_were_swapped_destroys_nobody(auditor, home, clock, tamper, message):
    path, ids = home
    assert auditor("retention", "holds", "place", "--mrn", "IMG", "--reason", "r", "--authority", "Counsel",
                   clock=clock, user="records").code == 0
    plan = auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records")
    assert plan.code == 0 and "plan 1 recorded: 4 patient(s) to destroy" in plan.out
    with sqlite3.connect(path / "records.db") as con:
        _add_the_held_patient(con, ids)
        if tamper is not None:
            tamper(con, _and_its_digest(con))
    con.close()
    before = _counts(path)
    result = auditor(*PURGE, clock=clock, user="records")
    assert result.code == 2 and result.err.count("\n") == 1 and message in result.err, result
    assert "nothing destroyed (run: auditor audit verify)" in result.err
    assert _counts(path) == before == (8, 0, 0)


class Killed(Exception):
    """A crash injected half-way through a purge."""


def test_a_patient_slipped_into_an_unfinished_purge_is_not_destroyed(auditor, home, clock):
    path, ids = home
    assert auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records").code == 0
    vault = Vault.open(path, None, clock=clock)
    try:
        office = RecordsManagement(vault.gateway)

        def crash(stage, patient_id):
            raise Killed()

        with pytest.raises(Killed):  # the first patient's key is destroyed, the rest are pending
            run_purge(vault.records, office, load_schedules()["default"], recorded_plan(vault.records, office, 1), None,
                      Signatories("A", "A"), crash)
    finally:
        vault.close()
    with sqlite3.connect(path / "records.db") as con:
        key = con.execute("select data_key_id from patients where id = ?", (ids["RECENT"],)).fetchone()[0]
        con.execute("insert into retention_purge_items (purge_id, patient_id, data_key_id, state, record_types, "
                    "retain_until, basis) values (1, ?, ?, 'pending', 'encounter', '2020-01-01', 'b')",
                    (ids["RECENT"], key))
    con.close()
    result = auditor(*PURGE, clock=clock, user="records")
    assert result.code == 2 and result.err == ("auditor: purge 1 lists patients its plan 1 does not: nothing more "
                                               "destroyed (run: auditor audit verify)\n")
    assert _counts(path)[2] == 1  # the one key destroyed before the crash


@pytest.mark.parametrize("lift", [
    "delete from retention_holds",
    "update retention_holds set released_at = placed_at, released_by = 'counsel'",
    "update retention_holds set patient_id = patient_id + 1",  # moved onto a patient nobody holds
])
def test_a_hold_lifted_behind_the_gateway_makes_no_plan_and_is_named(auditor, home, clock, lift):
    path, _ = home
    assert auditor("retention", "holds", "place", "--mrn", "IMG", "--reason", "r", "--authority", "Counsel",
                   clock=clock, user="records").code == 0
    with sqlite3.connect(path / "records.db") as con:
        for (name,) in con.execute("select name from sqlite_master where type = 'trigger'").fetchall():
            con.execute(f"drop trigger {name}")  # the append-only triggers are no obstacle to this attacker
        con.execute("delete from retention_hold_history")
        con.execute(lift)
    con.close()
    plan = auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records")
    assert plan.code == 2 and plan.err.count("\n") == 1, plan
    assert "the vault does not verify" in plan.err and "no plan made" in plan.err
    assert "retention_holds row 1 was" in plan.err
    assert _counts(path) == (8, 0, 0)
    checked = auditor("audit", "verify", clock=clock)
    assert checked.code == 1 and "retention_holds row 1" in checked.out and "retention_hold_history row" in checked.out


def test_an_order_deleted_behind_the_gateway_to_let_a_patient_go_early_makes_no_plan(tmp_path, clock, auditor):
    """Since orders, kept appointments and signed documents count toward a patient's last activity,
    deleting OLD-3's 2019 order (or back-dating it) would make OLD-3 eligible years early. The order is
    in the ledger of trusted rows, and a plan is made only from a vault that verifies."""
    from auditor.vault.gateway import OrderRecord
    from tests.retention.hospital import SVC, _at

    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    try:
        build(vault)
        vault.gateway.add_orders(SVC, [OrderRecord("ehr", "o1", "OLD-3", "lab", _at("2019-03-01"))])
    finally:
        vault.close()
    kept = auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records")
    assert kept.code == 0 and "OLD-3" not in kept.out, kept  # retained until 2029: not listed
    with sqlite3.connect(tmp_path / "home" / "records.db") as con:
        con.execute("delete from orders")
    con.close()
    plan = auditor("retention", "plan", "--as-of", "2026-11-02", clock=clock, user="records")
    assert plan.code == 2 and plan.err.count("\n") == 1, plan
    assert "the vault does not verify" in plan.err and "no plan made" in plan.err
    assert _counts(tmp_path / "home") == (8, 0, 0)
