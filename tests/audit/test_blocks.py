"""Imported events stored in blocks (auditor.audit.blocks): the packing loses nothing, the log reads
rows and blocks in sequence order, and a block edited behind the auditor's back is detected and
named to the event, as a row would be. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from array import array
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, select, update

from auditor.audit import blocks, merkle
from auditor.audit.blocks import BLOCKS, SCHEMA, StoredBlock, stored_events
from auditor.audit import event_checks
from auditor.audit.event_checks import Found
from auditor.audit.events import AuditEvent, ImportedEvents, canonical_bytes, to_microseconds
from auditor.audit.proofs import build_proof, check_proof
from auditor.audit.seal import EventSeal, block_header_seal
from auditor.errors import TamperDetected
from auditor.policy.frames import Period, load_frames
from tests.audit.helpers import append_batches, kinds, verify

T0 = datetime(2026, 11, 3, 15, 0, tzinfo=timezone.utc)


def _vault_events(n: int, tag: str) -> list[AuditEvent]:
    return [AuditEvent(at=T0 + timedelta(minutes=i), action="view", user_id="dr.house", role="physician",
                       patient_id=1, record_type="chart", workstation=f"{tag}-{i}") for i in range(n)]


def _imported(n: int, tag: str) -> ImportedEvents:
    return ImportedEvents.of_columns(
        at_us=[to_microseconds(T0 + timedelta(seconds=7 * i)) for i in range(n)], source="ehr",
        source_event_id=[f"{tag}{i:04d}" for i in range(n)], source_row_hash=[bytes([i % 256]) * 32 for i in range(n)],
        user_id=[f"u{i % 3}" for i in range(n)], role=["nurse"] * n, action=["view"] * n,
        patient_id=[(2**62 + i) if i % 4 else None for i in range(n)], record_type=["note"] * n,
        purpose=["TREAT"] * n, break_glass=[i % 5 == 0 for i in range(n)],
        reason=["coded, \"urgent\"" if i % 5 == 0 else None for i in range(n)], outcome=["success"] * n,
        workstation=[f"WS-{i}" for i in range(n)])


@pytest.fixture
def mixed(vault):
    """After init's own two events (1..2, signed at init): rows 3..7, a block 8..37, rows 38..42, a block
    43..62; checkpoints where a commit crosses a multiple of 10 (37, 42, 62) and one more at the end."""
    append_batches(vault, (_vault_events(5, "a"), [_imported(30, "A")], _vault_events(5, "b"), [_imported(20, "B")]))
    return vault


def _block(vault, first_seq: int):
    with vault.records.connect() as conn:
        return conn.execute(select(BLOCKS).where(BLOCKS.c.first_seq == first_seq)).one()


def _rewrite(vault, first_seq: int, **values) -> None:
    with vault.records.begin() as conn:
        conn.execute(update(BLOCKS).where(BLOCKS.c.first_seq == first_seq).values(**values))


def _edited_events(vault, first_seq: int, index: int, column: str, value) -> tuple[bytes, list[tuple]]:
    stored = _block(vault, first_seq)
    table = blocks.decode(stored.events, stored.first_seq, stored.last_seq)
    columns = [c.to_pylist() for c in table.columns]
    columns[SCHEMA.names.index(column)][index] = value
    return blocks.encode(columns), list(zip(*columns))


def test_rows_and_blocks_read_in_sequence_order_and_verify(mixed):
    with mixed.records.connect() as conn:
        events = list(stored_events(conn))
        assert [e.seq for e in events] == list(range(1, 63))
        assert conn.execute(select(BLOCKS.c.first_seq, BLOCKS.c.last_seq).order_by(BLOCKS.c.first_seq)).all() == \
            [(8, 37), (43, 62)]
        assert [e.seq for e in stored_events(conn, 30, 43)] == list(range(31, 44))
    assert all(merkle.leaf_hash(canonical_bytes(e.row)) == e.leaf for e in events)
    result = verify(mixed)
    assert result.ok, result.problems
    assert result.size == 62 and result.checkpoints_checked == 4  # signed at 2 (init), 37, 42 and 62


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 70), max_size=15))
def test_events_read_by_their_places_are_the_log_s(mixed, seqs):
    """stored_events_at (the break-the-glass reasons a case page reads) gives what a read of the log in
    sequence order gives at those places, rows and blocks alike; places past the log are absent."""
    with mixed.records.connect() as conn:
        whole = {e.seq: e for e in stored_events(conn)}
        assert blocks.stored_events_at(conn, seqs) == {s: whole[s] for s in seqs if s in whole}


def test_an_event_edited_inside_a_block_is_named(mixed):
    edited, _ = _edited_events(mixed, 8, 3, "user_id", "someone-else")
    _rewrite(mixed, 8, events=edited)
    result = verify(mixed)
    assert kinds(result) >= {"edited"} and result.first_bad_seq == 11


def test_a_recomputed_leaf_inside_a_block_fails_its_seal(mixed):
    edited, rows = _edited_events(mixed, 43, 7, "patient_id", 12345)
    leaves = bytearray(_block(mixed, 43).leaves)
    leaves[7 * 32 : 8 * 32] = merkle.leaf_hash(canonical_bytes(rows[7]))
    _rewrite(mixed, 43, events=edited, leaves=bytes(leaves))
    result = verify(mixed)
    assert "forged" in kinds(result) and result.first_bad_seq == 50


def test_an_unreadable_block_is_detected_and_refused_by_the_engine(mixed):
    _rewrite(mixed, 8, events=b"not a block")
    result = verify(mixed)
    assert "edited" in kinds(result) and result.first_bad_seq == 8
    period = Period(T0.date().replace(day=1), T0.date().replace(day=30), timezone.utc)
    with pytest.raises(TamperDetected):
        load_frames(mixed.records, period)


def test_a_deleted_block_is_a_gap(mixed):
    with mixed.records.begin() as conn:
        conn.execute(delete(BLOCKS).where(BLOCKS.c.first_seq == 8))
    result = verify(mixed)
    assert "deleted" in kinds(result) and result.first_bad_seq == 8


def test_renumbering_a_block_is_detected(mixed):
    stored = _block(mixed, 43)
    with mixed.records.begin() as conn:
        conn.execute(update(BLOCKS).where(BLOCKS.c.first_seq == 43).values(first_seq=63, last_seq=82))
    result = verify(mixed)
    assert "block-header" in kinds(result) and result.first_bad_seq == 43
    assert stored.last_seq == 62


def test_an_event_in_a_block_is_proved(mixed):
    checkpoint = mixed.checkpoints.latest()
    proof = build_proof(mixed.records, 20, checkpoint)
    assert check_proof(proof, mixed.keyring.signing_public_key).ok


_text = st.one_of(st.none(), st.text(max_size=12))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**62), st.integers(-(2**62), 2**62), _text, _text,
                          st.one_of(st.none(), st.binary(max_size=40)), _text, _text, st.sampled_from(["view", "print"]),
                          st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), _text, _text, _text, _text,
                          st.booleans(), st.one_of(st.none(), st.binary(max_size=80)), st.sampled_from(["success"]),
                          _text, _text), min_size=1, max_size=30))
def test_the_packing_gives_back_every_value(rows):
    packed = blocks.encode(list(zip(*rows)))
    decoded = blocks.decode(packed, 1, len(rows))
    assert decoded.schema.equals(SCHEMA)
    back = blocks.rows(decoded)
    assert back == rows
    assert [canonical_bytes(r) for r in back] == [canonical_bytes(r) for r in rows]


def test_a_block_of_other_events_is_refused():
    packed = blocks.encode([[v] for v in (1, 0, "ehr", "x", None, "u", None, "view", None, None, None, None, None,
                                          False, None, "success", None, None)])
    with pytest.raises(blocks.UnreadableBlock):
        blocks.decode(packed, 1, 2)
    other = pa.BufferOutputStream()
    with pa.ipc.new_stream(other, pa.schema([("seq", pa.int64())])) as w:
        w.write_table(pa.table({"seq": [1]}))
    with pytest.raises(blocks.UnreadableBlock):
        blocks.decode(other.getvalue().to_pybytes(), 1, 1)


def test_verify_ranges_never_end_inside_a_block():
    from auditor.audit.event_checks import ranges as _ranges

    spans = [(6, 35), (41, 60), (61, 100)]
    ranges = _ranges(100, 7, spans)
    assert ranges[0][0] is None and ranges[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # consecutive, no gap, no overlap
    ends = {hi for _, hi in ranges}
    assert not any(first <= end < last for first, last in spans for end in ends)
    assert _ranges(30, 7, [(6, 35)]) == [(None, 30)]  # the top may fall inside a block


def test_blocks_verify_in_worker_processes(mixed, monkeypatch):
    from tests.audit import helpers

    monkeypatch.setitem(helpers.VERIFY_OPTIONS, "workers", 2)
    monkeypatch.setitem(helpers.VERIFY_OPTIONS, "chunk", 7)
    assert verify(mixed).ok
    _rewrite(mixed, 43, events=_edited_events(mixed, 43, 2, "action", "print")[0])
    result = verify(mixed)
    assert "edited" in kinds(result) and result.first_bad_seq == 45


def test_an_unreadable_block_is_one_problem_naming_its_events(mixed):
    _rewrite(mixed, 8, events=b"not a block")
    unreadable = [p for p in verify(mixed).problems if p.seq is not None and 8 <= p.seq <= 37]
    assert [(p.seq, p.kind, p.message) for p in unreadable] == [(8, "edited", "events 8..37: their block cannot be decoded")]


def test_what_was_appended_after_a_size_is_found_by_its_time_without_reading_the_log_before(mixed):
    """appended_since: a row after the size by its time, a block by its sealed header's span, and a
    block whose header does not verify counted whatever it claims."""
    us = lambda **delta: to_microseconds(T0 + timedelta(**delta))  # noqa: E731
    key = mixed.keyring.log_mac_key
    with mixed.records.connect() as conn:
        assert blocks.appended_since(conn, 2, us(), us(seconds=1), key)  # rows 3.. and block 8.. begin at T0
        assert not blocks.appended_since(conn, 62, us(days=-30), us(days=30), key)  # nothing after the last event
        assert blocks.appended_since(conn, 37, us(minutes=3), us(minutes=3, seconds=1), key)  # row 41's minute
        assert blocks.appended_since(conn, 42, us(seconds=100), us(seconds=101), key)  # within block 43..62's span
        assert not blocks.appended_since(conn, 42, us(minutes=10), us(hours=1), key)
        assert not blocks.appended_since(conn, 37, us(minutes=10), us(hours=1), key)
    _rewrite(mixed, 43, header_seal=b"\x00" * 32)  # a header edited: its span is not believed
    with mixed.records.connect() as conn:
        assert blocks.appended_since(conn, 42, us(minutes=10), us(hours=1), key)
        assert not blocks.appended_since(conn, 62, us(minutes=10), us(hours=1), key)


def _ledger_events(n: int) -> ImportedEvents:
    """The vault's own service work in a block: ledger events of rows written (auditor.vault.ledger)."""
    return ImportedEvents.of_columns(
        at_us=[to_microseconds(T0 + timedelta(seconds=i)) for i in range(n)], source="vault", source_event_id=[None] * n,
        user_id=["svc"] * n, role=["service"] * n, purpose=[None] * n, break_glass=[False] * n, reason=[None] * n,
        workstation=[None] * n, action=["create"] * n, patient_id=[None] * n, record_type=["table:patients"] * n,
        record_id=[str(i) for i in range(n)], source_row_hash=[bytes([i]) * 32 for i in range(n)],
        outcome=["success"] * n, detail=['a "quoted"\tdetail\\' if i == 1 else None for i in range(n)])


def _both_ways(vault, first_seq: int):
    """A stored block checked whole (event_checks._clean_block) and event by event (event_checks._block)."""
    seal, key = EventSeal(vault.keyring.log_mac_key), vault.keyring.log_mac_key
    with vault.records.connect() as conn:
        (block,) = [b for b in stored_events(conn, whole_blocks=True)
                    if isinstance(b, StoredBlock) and b.header.first_seq == first_seq]
    whole, one_by_one = Found(), Found()
    clean = event_checks._clean_block(block, seal, key, whole, None, None)
    return clean, whole, list(event_checks._block(list(block.stored_events()), seal, key, one_by_one)), one_by_one


def test_a_block_as_stored_is_checked_whole_as_event_by_event(mixed):
    """Verification checks a block found as stored in one pass of Arrow's kernels: the same sequence
    numbers, leaves and ledger entries as checking it event by event, text JSON escapes included."""
    append_batches(mixed, ([_ledger_events(4)],))  # events 63..66
    for first in (8, 43, 63):
        clean, whole, events, one_by_one = _both_ways(mixed, first)
        assert clean is not None and [kind for *_, kind in events] == [None] * len(events)
        assert array("q", clean.seqs).tolist() == [seq for seq, *_ in events]
        assert clean.leaves == b"".join(leaf for _, leaf, _ in events)
        assert whole.ledger == one_by_one.ledger and whole.findings == one_by_one.findings == []
    assert [entry[:4] for entry in whole.ledger] == [(63 + i, "patients", str(i), "create") for i in range(4)]
    assert verify(mixed).ok


def _resealed(vault, first_seq: int, **header) -> None:
    """The block's header changed and sealed again with the log's key: what an append that got it wrong
    would store (no one without the key can)."""
    stored = _block(vault, first_seq)
    values = {name: getattr(stored, name) for name in ("first_seq", "last_seq", "source", "first_at_us",
                                                        "last_at_us")} | header
    _rewrite(vault, first_seq, **header, header_seal=block_header_seal(vault.keyring.log_mac_key, **values))


def _moved(vault, first_seq: int) -> None:
    """Two events of a block swapped, each with its own leaf and seal: each still matches them."""
    stored = _block(vault, first_seq)
    table = blocks.decode(stored.events, stored.first_seq, stored.last_seq)
    order = [1, 0, *range(2, table.num_rows)]
    swap = lambda packed: b"".join(packed[32 * i : 32 * i + 32] for i in order)  # noqa: E731
    _rewrite(vault, first_seq, events=blocks.encode_table(table.take(order)), leaves=swap(stored.leaves),
             seals=swap(stored.seals))


@pytest.mark.parametrize("tamper, kind", [
    (lambda v: _rewrite(v, 8, events=_edited_events(v, 8, 3, "user_id", "someone-else")[0]), "edited"),
    (lambda v: _rewrite(v, 8, first_at_us=_block(v, 8).first_at_us - 1), "block-header"),
    (lambda v: _rewrite(v, 8, header_seal=bytes(32)), "block-header"),
    (lambda v: _resealed(v, 8, first_at_us=_block(v, 8).first_at_us - 1), "block-header"),  # as a wrong append
    (lambda v: _resealed(v, 8, source="elsewhere"), "block-header"),
    (lambda v: _rewrite(v, 8, leaves=bytes(len(_block(v, 8).leaves))), "edited"),  # the stored leaves alone
    (lambda v: _rewrite(v, 8, seals=bytes(len(_block(v, 8).seals))), "forged"),
    (lambda v: _moved(v, 8), "moved")])
def test_a_block_not_as_stored_is_left_to_the_event_by_event_check_which_names_what(mixed, tamper, kind):
    tamper(mixed)
    clean, _, events, one_by_one = _both_ways(mixed, 8)
    assert clean is None
    assert kind in {k for *_, k in events} | {f.kind for f in one_by_one.findings}
    assert kind in kinds(verify(mixed))


def _column_whose_metadata_lies(table: pa.Table, name: str, offsets_too: bool) -> bytes:
    """`table` with its column `name` given a value in every row, all marked valid in the bitmap, while
    its null count says all are null (and, `offsets_too`, its offsets out of order, one past the data)."""
    n, kind = table.num_rows, SCHEMA.field(name).type
    real = pa.array([f"planted {i}" for i in range(n)], type=kind)
    bitmap, offsets, data = real.buffers()
    if offsets_too:
        raw = bytearray(offsets.to_pybytes())
        raw[4:8] = (len(data) + 40).to_bytes(4, "little")
        offsets = pa.py_buffer(bytes(raw))
    lying = pa.Array.from_buffers(kind, n, [pa.py_buffer(b"\xff" * ((n + 7) // 8)), offsets, data], null_count=n)
    return blocks.encode_table(table.set_column(SCHEMA.names.index(name), name, lying))


@pytest.mark.parametrize("offsets_too", [False, True])
def test_a_block_whose_arrow_metadata_lies_is_unreadable_not_clean(mixed, offsets_too):
    """Arrow reads a stream's null counts and offsets as written: a column all null when appended,
    given values behind a null count that still says none, gave Arrow's kernels the canonical bytes of
    nulls (the block's leaves) and Python the values planted. Every buffer is now checked against its
    metadata when a block is decoded, so such a block cannot be decoded, and verify names its events."""
    stored = _block(mixed, 8)
    table = blocks.decode(stored.events, stored.first_seq, stored.last_seq)
    assert table["detail"].null_count == table.num_rows  # none was given
    _rewrite(mixed, 8, events=_column_whose_metadata_lies(table, "detail", offsets_too))
    clean, _, events, _ = _both_ways(mixed, 8)
    assert clean is None and {kind for *_, kind in events} == {"unreadable"}
    result = verify(mixed)
    assert "edited" in kinds(result) and result.first_bad_seq == 8
