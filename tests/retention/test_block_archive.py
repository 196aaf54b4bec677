"""Archiving a log whose imported events are stored in blocks: a block leaves whole (one holding an
event from the cutoff on stays, with all its events), the archive file verifies on its own, and the
log, its checkpoints and the proofs of later events still verify."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from auditor.audit.archive import archive_log, check_archive
from auditor.audit.blocks import BLOCKS, stored_events
from auditor.audit.events import AuditEvent, ImportedEvents, to_microseconds
from auditor.audit.proofs import build_proof, check_proof
from auditor.audit.verify import verify_log
from auditor.clock import FixedClock
from tests.audit.helpers import append_batches

TODAY = date(2026, 11, 2)


def _block(start: datetime, n: int, tag: str) -> ImportedEvents:
    return ImportedEvents.of_columns(
        at_us=[to_microseconds(start + timedelta(hours=i)) for i in range(n)], source="ehr",
        source_event_id=[f"{tag}{i}" for i in range(n)], source_row_hash=[bytes([i]) * 32 for i in range(n)],
        user_id=["u1"] * n, role=["nurse"] * n, action=["view"] * n, patient_id=[7] * n, record_type=["note"] * n,
        purpose=["TREAT"] * n, break_glass=[False] * n, reason=[None] * n, outcome=["success"] * n,
        workstation=["WS"] * n)


def _row(at: datetime) -> AuditEvent:
    return AuditEvent(at=at, action="view", user_id="dr.house", patient_id=7, record_type="chart")


@pytest.fixture
def clock():
    """The vault is made in 2018 (its own first event is then), before the events it will hold."""
    return FixedClock(datetime(2018, 1, 2, 9, tzinfo=timezone.utc))


@pytest.fixture
def aged_blocks(vault):
    """After the vault's first events (1..2): a block of 2018 (3..6), a row of 2018 (7), a block from 31
    Dec 2018 into 2019 (8..12), a row of 2019 (13), a block of 2026 (14..16)."""
    batches = [[_block(datetime(2018, 3, 1, tzinfo=timezone.utc), 4, "a")], [_row(datetime(2018, 4, 1, tzinfo=timezone.utc))],
               [_block(datetime(2018, 12, 31, 22, tzinfo=timezone.utc), 5, "b")],
               [_row(datetime(2019, 5, 1, tzinfo=timezone.utc))], [_block(datetime(2026, 3, 1, tzinfo=timezone.utc), 3, "c")]]
    append_batches(vault, batches)
    return vault


def _archive(vault, out, before):
    vault.clock.at = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)  # years later: the archive is made today
    return archive_log(vault.records, vault.keyring, vault.audit_log, [vault.checkpoints.path], before, TODAY, out)


def test_blocks_leave_whole_and_the_log_still_verifies(aged_blocks, tmp_path):
    vault = aged_blocks
    first = _archive(vault, tmp_path / "2018.jsonl", date(2019, 1, 1))
    assert (first.first_seq, first.last_seq) == (1, 7)  # the block reaching into 2019 stays, all of it
    assert check_archive(tmp_path / "2018.jsonl", vault.keyring).ok
    with vault.records.connect() as conn:
        assert [e.seq for e in stored_events(conn)] == list(range(8, 17))
        assert conn.execute(select(BLOCKS.c.first_seq).order_by(BLOCKS.c.first_seq)).scalars().all() == [8, 14]
    second = _archive(vault, tmp_path / "2019.jsonl", date(2020, 1, 1))
    assert (second.first_seq, second.last_seq) == (8, 13)
    result = verify_log(vault.records, vault.keyring, [vault.checkpoints.path])
    assert result.ok, result.problems
    assert result.size == 16
    proof = build_proof(vault.records, 15, vault.checkpoints.latest())
    assert check_proof(proof, vault.keyring.signing_public_key).ok
