"""A block of ImportedEvents (the ingest's bulk form) holds exactly what the same AuditEvents one by
one would: same values, same canonical bytes and leaf, a valid seal, checkpoints where the log
crosses a multiple, and a log that verifies; only the storage differs (one audit_event_blocks row,
not one audit_events row per event)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from auditor.audit.blocks import BLOCKS, EVENTS, stored_events
from auditor.audit.events import CANONICAL_COLUMNS, AuditEvent, ImportedEvents, to_microseconds
from tests.audit.conftest import CHECKPOINT_EVERY
from tests.audit.helpers import verify

T0 = datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)
ROWS = [  # (event id, user, role, action, patient, record type, purpose, break-glass, reason, outcome, workstation)
    ("a1", "n.one", "nurse", "view", 7, "note", "TREAT", False, None, "success", "WS-1"),
    ("a2", "ghost", None, "export", None, None, None, True, "coded, \"urgent\"", "success", None),
    ("a3", "n.one", "nurse", "login_failed", None, None, None, False, "", "denied", "WS-2"),
] * 5  # 15 events: crosses the checkpoint every 10


def _events() -> list[AuditEvent]:
    return [AuditEvent(at=T0 + timedelta(seconds=i), action=a, user_id=u, outcome=o, role=r, patient_id=p,
                       record_type=rt, purpose=pu, break_glass=bg, reason=why, workstation=ws, source="ehr",
                       source_event_id=f"{e}-{i}", source_row_hash=bytes([i]) * 32)
            for i, (e, u, r, a, p, rt, pu, bg, why, o, ws) in enumerate(ROWS)]


def _block() -> ImportedEvents:
    cols = list(zip(*ROWS))
    return ImportedEvents.of_columns(
        at_us=[to_microseconds(T0 + timedelta(seconds=i)) for i in range(len(ROWS))], source="ehr",
        source_event_id=[f"{e}-{i}" for i, e in enumerate(cols[0])],
        source_row_hash=[bytes([i]) * 32 for i in range(len(ROWS))], user_id=list(cols[1]), role=list(cols[2]),
        action=list(cols[3]), patient_id=list(cols[4]), record_type=list(cols[5]), purpose=list(cols[6]),
        break_glass=list(cols[7]), reason=list(cols[8]), outcome=list(cols[9]), workstation=list(cols[10]))


def _append(vault, events) -> list:
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))
    with vault.records.connect() as conn:
        return [dict(zip((*CANONICAL_COLUMNS, "leaf_hash", "seal"), (*e.row, e.leaf, e.seal)))
                for e in stored_events(conn)]


def _readable(vault, rows: list) -> list:
    """Rows with the sealed reason opened (its nonce is random), the leaf left out when the reason is
    sealed (it covers the ciphertext) and the seal left out (each home has its own MAC key; verify
    checks it)."""
    out = []
    for r in rows:
        sealed = r["reason"] is not None
        r = dict(r, reason=vault.envelope.open(r["reason"], "audit_events", "reason", r["seq"]) if sealed else None)
        r.pop("seal")
        if sealed:
            r.pop("leaf_hash")
        out.append(r)
    return out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_block_is_stored_as_its_events_one_by_one(vault, tmp_path, clock):
    from auditor.home import create_home
    from tests.conftest import FAST_SCRYPT

    one_by_one = create_home(tmp_path / "other", clock=clock, scrypt_n=FAST_SCRYPT, checkpoint_every=CHECKPOINT_EVERY)
    try:
        expected = _readable(one_by_one, _append(one_by_one, _events()))
    finally:
        one_by_one.close()
    got = _readable(vault, _append(vault, [_block()]))
    assert got[2:] == expected[2:]  # after each home's own first events (init's ledger entries)
    with vault.records.connect() as conn:  # stored as one block, not as rows
        assert conn.scalar(select(func.count()).select_from(EVENTS)) == 2
        assert conn.execute(select(BLOCKS.c.first_seq, BLOCKS.c.last_seq)).all() == [(3, len(ROWS) + 2)]
    assert got[4]["reason"] is None and got[3]["reason"] == "coded, \"urgent\""
    assert vault.checkpoints.latest().size == len(ROWS) + 2  # the block crossed a multiple of CHECKPOINT_EVERY
    assert verify(vault).ok


def test_a_block_refuses_an_unknown_action():
    with pytest.raises(ValueError):
        ImportedEvents.of_columns(at_us=[0], source="ehr", source_event_id=["x"], source_row_hash=[b""],
                                  user_id=["u"], role=[None], action=["peek"], patient_id=[None],
                                  record_type=[None], purpose=[None], break_glass=[False], reason=[None],
                                  outcome=["success"], workstation=[None])
