"""Tampering with the audit log by raw SQL (and with the checkpoint file) is detected, and verify names the
first sequence number it puts in doubt. Runs on SQLite and on PostgreSQL.

The log under test: init's own two events (the ledger's first rows, signed at 2), the population's
27 (each record it writes, and a ledger event for each row) and 23 chart reads (52 events), a
checkpoint at each commit that crosses a multiple of 10 (sizes 20, 30, 40, 50) and one signed on
demand at the end (52).

Every test runs twice: with verify checking rows in this process, and with worker processes checking
ranges of 7 sequence numbers (what big logs get), which must find exactly the same problems.
"""

from __future__ import annotations

import base64
import json
import shutil

import pytest
from sqlalchemy import delete, insert, select, update

from auditor.audit import merkle
from auditor.audit.checkpoints import CheckpointFile, sign
from auditor.audit.log import EVENTS
from auditor.audit.verify import verify_log
from auditor.crypto.keyring import Keyring
from auditor.errors import AuditorError, TamperDetected
from auditor.home import Vault
from auditor.vault.gateway import AccessContext

from tests.audit import helpers
from tests.audit.helpers import (checkpoint_sizes, count, head_size, kinds, leaf_of, reads, restore, row, rows,
                                 seqs, set_head, shift_up, snapshot, verify)

N = 52


@pytest.fixture(autouse=True, params=["in-process", "workers"])
def verify_mode(request, monkeypatch):
    if request.param == "workers":
        monkeypatch.setitem(helpers.VERIFY_OPTIONS, "workers", 2)
        monkeypatch.setitem(helpers.VERIFY_OPTIONS, "chunk", 7)
    return request.param


@pytest.fixture
def logged(population):
    vault = population
    reads(vault, N - len(seqs(vault)))
    with vault.records.connect() as conn:
        vault.audit_log.checkpoint_now(conn)
    assert seqs(vault) == list(range(1, N + 1)) and head_size(vault) == N
    assert checkpoint_sizes(vault) == [2, 20, 30, 40, 50, 52]
    return vault


def assert_clean(vault, size: int = N) -> None:
    result = verify(vault)
    assert result.ok, result.problems
    assert result.first_bad_seq is None
    assert result.size == size
    assert result.checkpoints_checked == len([s for s in checkpoint_sizes(vault) if s <= size])


def assert_detected(vault, first_bad: int, *expected_kinds: str, extra=(), case=None):
    result = verify(vault, *extra)
    assert not result.ok, case
    assert result.first_bad_seq == first_bad, (case, result.problems)
    assert set(expected_kinds) <= kinds(result), (case, result.problems)
    return result


def each_case(vault, cases, tamper, check) -> None:
    """For each case: tamper, check, then put the log back as it was (and check that it verifies again)."""
    snap = snapshot(vault)
    for case in cases:
        tamper(case)
        check(case)
        restore(vault, snap)
        assert_clean(vault)


def test_clean_log_verifies(logged):
    result = verify(logged)
    assert result.ok and result.first_bad_seq is None and not result.problems
    assert (result.size, result.checkpoints_checked) == (N, 6)
    assert result.latest_checkpoint.size == N and result.latest_checkpoint.root == result.root
    assert not result.warnings
    small_batches = verify_log(logged.records, logged.keyring, [logged.checkpoints.path], batch=7,
                               **helpers.VERIFY_OPTIONS)
    assert small_batches.ok and small_batches.root == result.root


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_new_vault_holds_its_first_events_signed(vault):
    """`auditor init` records the log's own data key and the keyring's fingerprint (the ledger's first
    rows) and signs a checkpoint of them: a new vault is never an unsigned log."""
    result = verify(vault)
    assert result.ok and result.size == 2
    assert result.checkpoints_checked == 1 and not result.warnings


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_checkpoint_of_the_empty_log(vault, clock):
    """A checkpoint of size 0 signs sha256(b""), the root of no events: valid, not a truncation; a second
    one with another root for size 0 is a conflict, named at event 1."""
    keyring = vault.keyring
    vault.checkpoints.append(sign(0, merkle.EMPTY_ROOT, clock.now(), keyring.signing_key, keyring.signing_public_key))
    result = verify(vault)
    assert result.ok, result.problems
    assert result.checkpoints_checked == 2
    vault.checkpoints.append(sign(0, b"\x42" * 32, clock.now(), keyring.signing_key, keyring.signing_public_key))
    assert_detected(vault, 1, "conflicting-checkpoints")


# -- (a) an edited event ------------------------------------------------------------------------------
POSITIONS = [1, 20, 21, 30, 33, N]  # first, on and after checkpoints, between them, last


def test_edited_event_with_stale_leaf_hash(logged):
    def tamper(k):
        with logged.records.begin() as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.seq == k).values(user_id="mallory"))

    def check(k):
        result = assert_detected(logged, k, "edited", case=k)
        assert [p.seq for p in result.problems] == [k]  # nothing else is blamed

    each_case(logged, POSITIONS, tamper, check)


def test_every_canonical_column_is_covered(logged):
    changes = {"at_us": 1, "source": "ehr", "source_event_id": "x", "source_row_hash": b"\x01", "role": "nurse",
               "action": "export", "patient_id": 7, "record_type": "note", "record_id": "r1", "fields": "ssn",
               "purpose": "HPAYMT", "break_glass": True, "reason": b"\x00", "outcome": "denied", "detail": "d",
               "workstation": "w"}

    def tamper(column):
        with logged.records.begin() as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.seq == 25).values({column: changes[column]}))

    each_case(logged, changes, tamper, lambda column: assert_detected(logged, 25, "edited", case=column))


def test_edited_event_with_recomputed_leaf_hash_is_named_by_its_seal(logged):
    def tamper(k):
        with logged.records.begin() as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.seq == k).values(user_id="mallory"))
            conn.execute(update(EVENTS).where(EVENTS.c.seq == k).values(leaf_hash=leaf_of(row(conn, k))))
            set_head(conn, N)

    def check(k):
        result = assert_detected(logged, k, "forged", case=k)
        assert "edited" not in kinds(result)

    each_case(logged, POSITIONS, tamper, check)


# -- (b) a deleted event ------------------------------------------------------------------------------
def test_deleted_event(logged):
    def tamper(k):
        with logged.records.begin() as conn:
            conn.execute(delete(EVENTS).where(EVENTS.c.seq == k))

    each_case(logged, [1, 20, 21, 30, 31, 37], tamper, lambda k: assert_detected(logged, k, "deleted", case=k))

    with logged.records.begin() as conn:  # a run of events
        conn.execute(delete(EVENTS).where(EVENTS.c.seq.between(15, 24)))
    result = assert_detected(logged, 15, "deleted")
    assert any("15..24" in p.message for p in result.problems)


# -- (c) an inserted event ----------------------------------------------------------------------------
def test_inserted_event(logged):
    def tamper(case):
        k, recompute_all = case
        with logged.records.begin() as conn:
            original = row(conn, k)
            shift_up(conn, k)
            forged = dict(original, user_id="dr.alibi", workstation="nowhere")
            forged["leaf_hash"] = leaf_of(forged)  # a correct leaf; the seal can only be copied
            conn.execute(insert(EVENTS).values(forged))
            if recompute_all:  # the renumbered events get correct leaf hashes too
                for r in rows(conn):
                    conn.execute(update(EVENTS).where(EVENTS.c.seq == r["seq"]).values(leaf_hash=leaf_of(r)))
            set_head(conn, N + 1)

    def check(case):
        k, _ = case
        result = assert_detected(logged, k, "forged", case=case)
        assert all(p.seq is None or p.seq >= k for p in result.problems)

    each_case(logged, [(k, r) for k in (1, 20, 24, 40, N) for r in (False, True)], tamper, check)


# -- (d) reordered events -----------------------------------------------------------------------------
def test_reordered_events(logged):
    def tamper(case):
        k, recompute = case
        with logged.records.begin() as conn:
            a, b = row(conn, k), row(conn, k + 1)
            content = lambda r: {c: v for c, v in r.items() if c not in ("seq", "leaf_hash", "seal")}  # noqa: E731
            assert content(a) != content(b)
            for seq, moved in ((k, b), (k + 1, a)):
                values = {c: v for c, v in moved.items() if c != "seq"}  # leaf hash and seal move along
                if recompute:
                    values["leaf_hash"] = leaf_of(dict(moved, seq=seq))
                conn.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(values))
            set_head(conn, N)

    def check(case):
        k, recompute = case
        result = assert_detected(logged, k, "forged" if recompute else "edited", case=case)
        assert {p.seq for p in result.problems} == {k, k + 1}

    each_case(logged, [(k, r) for k in (1, 20, 23, 35, N - 1) for r in (False, True)], tamper, check)


# -- (e) a truncated tail -----------------------------------------------------------------------------
def test_truncated_tail(logged):
    def tamper(m):
        with logged.records.begin() as conn:
            conn.execute(delete(EVENTS).where(EVENTS.c.seq > N - m))
            set_head(conn, N - m)

    def check(m):
        result = assert_detected(logged, N - m + 1, "truncated", case=m)
        assert result.size == N - m

    each_case(logged, [1, 2, 3, 22, N], tamper, check)

    with logged.records.begin() as conn:  # the head left as it was
        conn.execute(delete(EVENTS).where(EVENTS.c.seq > 45))
    assert_detected(logged, 46, "truncated", "head-mismatch")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_events_after_the_latest_checkpoint_are_covered_by_the_next_one(population):
    """A documented limit, not a defect: events appended since the latest signed checkpoint can be cut off
    without a trace until the next checkpoint (so keep checkpoint_every small, or sign one on demand)."""
    vault = population
    reads(vault, 26)  # 55 events; checkpoints at 20..50
    with vault.records.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq > 52))
        set_head(conn, 52)
    assert verify(vault).ok


def test_appending_to_a_truncated_log_is_refused(logged, clock):
    with logged.records.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq > 40))
        set_head(conn, 40)
    reopened = Vault.open(logged.home, clock=clock)
    try:
        with pytest.raises(TamperDetected, match="truncated or rolled back after sequence number 40"):
            reopened.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
    finally:
        reopened.close()
    assert head_size(logged) == 40 and count(logged) == 40  # nothing was appended


# -- (f) a rolled-back database (SQLite file restored from a copy) ------------------------------------
def _restore_records_file(vault, backup) -> None:
    db = vault.home / "records.db"
    vault.close()  # no connection open: the WAL is checkpointed into the file and removed
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, db)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_rolled_back_database(logged, clock, tmp_path):
    vault = logged
    db = vault.home / "records.db"
    vault.close()
    assert not db.with_name("records.db-wal").exists()
    backup = tmp_path / "records-backup.db"
    shutil.copyfile(db, backup)

    reads(vault, 20, tag="later")  # the engines reconnect; 72 events, checkpoints at 60, 70
    assert checkpoint_sizes(vault)[-2:] == [60, 70]
    assert verify(vault).ok

    _restore_records_file(vault, backup)
    result = assert_detected(vault, N + 1, "truncated")
    assert result.size == N

    reopened = Vault.open(vault.home, clock=clock)
    try:
        with pytest.raises(AuditorError) as raised:
            reopened.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
        assert isinstance(raised.value, TamperDetected)
        assert "checkpoint" in str(raised.value) and "after sequence number 52" in str(raised.value)
    finally:
        reopened.close()
    assert count(vault) == N


@pytest.mark.parametrize("backend", ["sqlite"])
def test_rolled_back_database_under_a_running_vault(logged, tmp_path):
    """The vault that has already appended (and passed its start-up check) must not append to a database
    that was rolled back beneath it either: that would fork the history its own checkpoints signed."""
    vault = logged
    _rolled_back_after_20_reads(vault, tmp_path)

    with pytest.raises(TamperDetected):
        vault.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
    assert count(vault) == N
    assert_detected(vault, N + 1, "truncated")


def _rolled_back_after_20_reads(vault, tmp_path) -> None:
    """The records database copied, 20 more reads appended (and signed), then the copy put back."""
    db = vault.home / "records.db"
    vault.close()
    backup = tmp_path / "records-backup.db"
    shutil.copyfile(db, backup)
    reads(vault, 20, tag="later")
    _restore_records_file(vault, backup)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_forged_checkpoint_line_does_not_disarm_the_rollback_check(logged, clock, tmp_path):
    """Whoever rolls the database back and can write the vault's folder appends a checkpoint line of a
    larger size that no keyring signed: the check before appending must still meet the latest genuine
    checkpoint, not stop at the forged one."""
    vault = logged
    _rolled_back_after_20_reads(vault, tmp_path)
    genuine = CheckpointFile(vault.checkpoints.path).latest()
    line = json.loads(genuine.to_line()) | {"size": genuine.size + 1_000}  # its signature no longer holds
    with vault.checkpoints.path.open("a") as f:
        f.write(json.dumps(line, separators=(",", ":")) + "\n")

    reopened = Vault.open(vault.home, clock=clock)
    try:
        with pytest.raises(TamperDetected, match=f"signed {genuine.size}"):
            reopened.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
    finally:
        reopened.close()
    assert count(vault) == N

# -- (g) conflicting checkpoints, and a fork --------------------------------------------------------
def test_two_signed_checkpoints_for_one_size(logged, clock):
    keyring = logged.keyring

    def tamper(size):
        wrong = sign(size, b"\x42" * 32, clock.now(), keyring.signing_key, keyring.signing_public_key)
        assert wrong.verify(keyring.signing_public_key)
        logged.checkpoints.append(wrong)

    def check(size):
        previous = max([s for s in checkpoint_sizes(logged) if s < size], default=0)
        result = assert_detected(logged, previous + 1, "conflicting-checkpoints", case=size)
        (problem,) = result.problems
        assert f"size {size}" in problem.message and "(matches the log)" in problem.message

    each_case(logged, [20, 30, N], tamper, check)


def test_signed_checkpoint_over_another_history_is_a_fork(logged, clock):
    keyring = logged.keyring
    logged.checkpoints.append(sign(25, b"\x42" * 32, clock.now(), keyring.signing_key, keyring.signing_public_key))
    result = assert_detected(logged, 21, "fork")
    assert len(result.problems) == 1


# -- (h) a checkpoint whose signature does not verify -------------------------------------------------
def _rewrite_line(path, index, change) -> None:
    lines = path.read_text().splitlines()
    obj = json.loads(lines[index])
    change(obj)
    lines[index] = json.dumps(obj, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")


def _flip_sig(obj) -> None:
    sig = bytearray(base64.b64decode(obj["sig"]))
    sig[5] ^= 0x01
    obj["sig"] = base64.b64encode(bytes(sig)).decode()


ALTERATIONS = {
    "signature": _flip_sig,
    "root": lambda obj: obj.update(root="00" * 32),
    "size": lambda obj: obj.update(size=obj["size"] + 1),
    "time": lambda obj: obj.update(at="2020-01-01T00:00:00+00:00"),
}


def test_altered_checkpoint_line(logged):
    def check(name):
        result = verify(logged)
        assert not result.ok, name
        assert kinds(result) == {"bad-checkpoint-signature"}, name
        assert result.first_bad_seq is None
        assert f"{logged.checkpoints.path}:3" in result.problems[0].message
        assert result.checkpoints_checked == 5  # the altered line is ignored, the others still checked

    each_case(logged, ALTERATIONS, lambda name: _rewrite_line(logged.checkpoints.path, 2, ALTERATIONS[name]), check)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_checkpoint_signed_by_another_keyring(logged, clock, tmp_path):
    other = Keyring.create(tmp_path / "other-keyring.json", None, clock)
    logged.checkpoints.append(sign(N, b"\x42" * 32, clock.now(), other.signing_key, other.signing_public_key))
    result = verify(logged)
    assert kinds(result) == {"bad-checkpoint-signature"} and result.first_bad_seq is None


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("directory", ["copies", "torn"])  # a path that says "torn" is still just a path
def test_unreadable_and_torn_checkpoint_lines(logged, tmp_path, directory):
    path = tmp_path / directory / "checkpoints.log"
    path.parent.mkdir()
    good = logged.checkpoints.path.read_bytes()
    path.write_bytes(good + b'{"format":"auditor-checkpoint/1","si')  # an interrupted last write
    result = verify(logged, path)
    assert result.ok and len(result.warnings) == 1 and "torn last line" in result.warnings[0]
    path.write_bytes(good + b"garbage\n")
    result = verify(logged, path)
    assert kinds(result) == {"unreadable-checkpoint"} and result.first_bad_seq is None
    assert f"{path}:7: not a checkpoint line" in result.problems[0].message
    path.write_bytes(good + b"garbage\n" + good)
    assert kinds(verify(logged, path)) == {"unreadable-checkpoint"}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_checkpoint_appended_after_a_torn_last_line(logged):
    path = logged.checkpoints.path
    path.write_bytes(path.read_bytes() + b'{"format":"auditor-checkpoint/1","si')  # power lost mid-write
    with logged.records.connect() as conn:
        logged.audit_log.checkpoint_now(conn)
    assert CheckpointFile(path).read()[1] == []  # the fragment was cut, not glued to the new line
    result = verify(logged)
    assert result.ok, result.problems


# -- (i) an external copy of the checkpoint file -------------------------------------------------------
def test_external_checkpoint_copy_detects_truncation_hidden_at_home(logged, tmp_path):
    offsite = tmp_path / "offsite-checkpoints.log"
    shutil.copyfile(logged.checkpoints.path, offsite)
    # the attacker cuts the log to 30 events and removes the checkpoints that vouch for more
    with logged.records.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq > 30))
        set_head(conn, 30)
    home = CheckpointFile(logged.checkpoints.path)
    kept = [cp for cp in home.read()[0] if cp.size <= 30]
    logged.checkpoints.path.write_text("".join(cp.to_line() + "\n" for cp in kept))

    assert verify(logged).ok  # the home file alone no longer tells
    result = assert_detected(logged, 31, "truncated", extra=[offsite])
    assert result.size == 30
    assert any(str(offsite) in p.message for p in result.problems)


def test_external_checkpoint_copy_detects_a_rewritten_history(logged, tmp_path, clock):
    """The attacker truncates, hides the checkpoints, and lets the vault append a new history over the
    old sequence numbers (re-signing checkpoints for sizes 40 and 50)."""
    offsite = tmp_path / "offsite-checkpoints.log"
    shutil.copyfile(logged.checkpoints.path, offsite)
    with logged.records.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq > 30))
        set_head(conn, 30)
    kept = [cp for cp in logged.checkpoints.read()[0] if cp.size <= 30]
    logged.checkpoints.path.write_text("".join(cp.to_line() + "\n" for cp in kept))
    reopened = Vault.open(logged.home, clock=clock)
    try:
        reads(reopened, 25, tag="rewritten")
    finally:
        reopened.close()
    assert verify(logged).ok
    result = assert_detected(logged, 31, "conflicting-checkpoints", extra=[offsite])
    assert any("size 40" in p.message for p in result.problems)


# -- shredding --------------------------------------------------------------------------------------
def test_shredding_a_patient_leaves_a_log_that_verifies(logged):
    patient_id = logged.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1").patient_id
    before = count(logged)
    logged.gateway.shred_patient(AccessContext.service("retention"), patient_id)
    with logged.records.connect() as conn:
        destroy = conn.execute(select(EVENTS).where(EVENTS.c.action == "destroy")).mappings().one()
        naming = conn.scalar(select(EVENTS.c.seq).where(EVENTS.c.patient_id == patient_id).limit(1))
    assert destroy["seq"] == before + 1 and destroy["patient_id"] == patient_id and naming is not None
    with logged.records.connect() as conn:
        logged.audit_log.checkpoint_now(conn)
    result = verify(logged)
    assert result.ok, result.problems
    assert result.size == before + 1
    with pytest.raises(AuditorError):  # the chart is gone for good; the log that names it is intact
        logged.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
    assert verify(logged).ok

