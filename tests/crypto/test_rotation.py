"""rotate_keys / Vault.rotate_keys: rewrap everything, retire the old KEK, record it in the audit log; and
what other processes writing data keys meanwhile see."""

import multiprocessing
import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.audit.schema import AuditEventRow
from auditor.audit.verify import verify_log
from auditor.crypto.envelope import Envelope
from auditor.crypto.keyring import Keyring
from auditor.crypto.rotation import retire_unused, switch_primary
from auditor.home import Vault
from auditor.vault.gateway import AccessContext


def test_rotation_retires_the_old_kek_and_records_stay_readable(population):
    v = population
    before = v.envelope.counts()["live"]
    done = v.rotate_keys()
    assert done.primary == 2 and done.retired == (1,) and done.still_active == ()
    assert done.rewrapped == before
    assert v.envelope.keys_under() == {2: before}
    assert [k.status for k in v.keyring.keks] == ["retired", "primary"]

    reopened = Vault.open(v.home, clock=v.clock)  # a fresh process: only the new KEK is in the keyring
    try:
        chart = reopened.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
        assert chart.demographics.last_name == "Müller"
        with reopened.records.connect() as conn:
            last = conn.execute(select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(2)).all()
        rewrap = last[1]
        assert rewrap.action == "rewrap" and rewrap.user_id == "svc:keys"
        assert f"{before} data keys rewrapped" in rewrap.detail and "retired: kek-1" in rewrap.detail
        assert verify_log(reopened.records, reopened.keyring, [reopened.checkpoints.path]).ok
    finally:
        reopened.close()


def test_a_second_rotation_rewraps_again(population):
    v = population
    v.rotate_keys()
    done = v.rotate_keys()
    assert done.primary == 3 and done.retired == (2,)
    assert set(v.envelope.keys_under()) == {3}


# -- rotation while other processes write (issue 15, item 15) ------------------------------------------

def _make_keys_through_a_rotation(home: str, started, rotated, out) -> None:
    """Another process: opens the vault before the rotation and keeps making data keys (as an ingest
    makes its quarantine keys) during it and after it, with its keyring as loaded at the start."""
    vault = Vault.open(Path(home))
    made = []

    def batch() -> None:
        for key_id in vault.envelope.create_keys(3, "quarantine"):
            made.append((key_id, vault.envelope.seal(key_id, "quarantine", "line", key_id, f"row {key_id}")))

    try:
        batch()
        started.set()
        while not rotated.wait(0.01):
            batch()
        for _ in range(5):
            batch()
    finally:
        vault.close()
        out.put(made)


def test_keys_made_by_a_process_opened_before_the_rotation_survive_it(vault):
    spawn = multiprocessing.get_context("spawn")
    started, rotated, out = spawn.Event(), spawn.Event(), spawn.Queue()
    writer = spawn.Process(target=_make_keys_through_a_rotation, args=(str(vault.home), started, rotated, out))
    writer.start()
    try:
        assert started.wait(120), "the writer process did not start"
        done = vault.rotate_keys()
        rotated.set()
        made = out.get(timeout=120)
    finally:
        writer.join(120)
    assert writer.exitcode == 0
    assert done.retired == (1,) and done.still_active == ()
    assert len(made) >= 18  # one batch before, five after the rotation finished

    fresh = Vault.open(vault.home, clock=vault.clock)  # a new process's view: kek-1's secret is gone
    try:
        assert [k.status for k in fresh.keyring.keks] == ["retired", "primary"]
        for key_id, sealed in made:
            assert fresh.envelope.open(sealed, "quarantine", "line", key_id) == f"row {key_id}"
        assert set(fresh.envelope.keys_under()) == {2}
    finally:
        fresh.close()


def test_an_old_kek_that_still_wraps_a_key_keeps_its_secret(vault):
    old = vault.keyring.primary_kek.key_id
    key_id = vault.envelope.create_key("patient")
    sealed = vault.envelope.seal(key_id, "t", "c", 1, "kept")
    switch_primary(vault.keyring, vault.envelope)  # no rewrap: the key is still under kek-1
    assert retire_unused(vault.keyring, vault.envelope) == ((), (old,))
    assert Envelope(Keyring.load(vault.home / "keyring.json"), vault.keystore).open(sealed, "t", "c", 1) == "kept"
    assert vault.envelope.rewrap_all() == 2  # with the audit-log key
    assert retire_unused(vault.keyring, vault.envelope) == ((old,), ())


def test_a_stale_process_reads_keys_rewrapped_by_a_rotation_elsewhere(vault):
    key_id = vault.envelope.create_key("patient")
    sealed = vault.envelope.seal(key_id, "t", "c", 1, "kept")
    stale = Vault.open(vault.home, clock=vault.clock)
    try:
        vault.rotate_keys()  # kek-1 retired; the stale process never saw kek-2
        assert stale.envelope.open(sealed, "t", "c", 1) == "kept"
        assert stale.envelope.create_key("patient")  # wrapped under kek-2, read from the file again
        assert {k.id for k in stale.keyring.keks if k.status == "primary"} == {2}
    finally:
        stale.close()


def test_rotation_waits_for_a_writer_that_is_wrapping_a_key(vault):
    rotation = threading.Thread(target=switch_primary, args=(vault.keyring, vault.envelope))
    with Session(vault.keystore) as session, session.begin():
        kek = vault.envelope.wrapping_kek(session)  # the state row, locked shared until this commits
        rotation.start()
        rotation.join(0.5)
        assert rotation.is_alive(), "the rotation switched the primary KEK under a writer"
    rotation.join(60)
    assert not rotation.is_alive() and kek.key_id == 1
    with Session(vault.keystore) as session, session.begin():
        assert vault.envelope.wrapping_kek(session).key_id == 2
