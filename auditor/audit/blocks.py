"""Blocks of imported events: how `audit_event_blocks` packs them, and the log read in sequence order
whatever holds each event.

A block holds consecutive events: their stored values (CANONICAL_COLUMNS, `seq` included) as one
Arrow IPC stream compressed with zstd, their leaf hashes (32 bytes each) and their seals (32 bytes
each), in sequence order. The packing is storage only: what the leaf covers is each event's canonical
bytes (auditor.audit.events), recomputed from the decoded values by whoever verifies, so a block
edited in any way names the events whose content changed ("edited"), a recomputed leaf without the MAC
key fails its seal ("forged"), and a block that cannot be decoded at all names each of its events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from sqlalchemy import Connection, func, select

from auditor.audit.events import CANONICAL_COLUMNS, STORED_TYPES
from auditor.audit.schema import AuditEventBlock, AuditEventRow
from auditor.errors import TamperDetected

BLOCKS, EVENTS = AuditEventBlock.__table__, AuditEventRow.__table__
HASH = 32
SCHEMA = pa.schema(list(STORED_TYPES.items()))
_WRITE = ipc.IpcWriteOptions(compression="zstd")


class UnreadableBlock(TamperDetected):
    """A stored block that does not decode to the events its header names."""


def encode(columns: Sequence[Sequence]) -> bytes:
    """The events' stored values, one sequence per CANONICAL_COLUMNS entry, as a block's `events`."""
    return encode_table(pa.table([pa.array(values, type=f.type) for values, f in zip(columns, SCHEMA)], schema=SCHEMA))


def encode_table(table: pa.Table) -> bytes:
    """A table in SCHEMA as a block's `events`."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, SCHEMA, options=_WRITE) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def decode(events: bytes, first_seq: int, last_seq: int) -> pa.Table:
    """A block's events as an Arrow table in SCHEMA; UnreadableBlock unless it decodes to exactly the
    events first_seq..last_seq in order."""
    try:
        table = ipc.open_stream(pa.py_buffer(events)).read_all()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableBlock(f"the block of audit events {first_seq}..{last_seq} cannot be decoded; "
                              "run: auditor audit verify") from exc
    if not table.schema.equals(SCHEMA) or table.num_rows != last_seq - first_seq + 1:
        raise UnreadableBlock(f"the block of audit events {first_seq}..{last_seq} does not hold those events; "
                              "run: auditor audit verify")
    return table


def rows(table: pa.Table) -> list[tuple]:
    """A decoded block's events as stored-value tuples in CANONICAL_COLUMNS order (what canonical_bytes takes)."""
    return list(zip(*(column.to_pylist() for column in table.columns)))


def split(packed: bytes, count: int) -> list[bytes]:
    if len(packed) != HASH * count:
        raise UnreadableBlock(f"{len(packed)} bytes of hashes for {count} audit events; run: auditor audit verify")
    return [packed[i : i + HASH] for i in range(0, len(packed), HASH)]


@dataclass(frozen=True)
class StoredEvent:
    """One event as stored: `row` its values in CANONICAL_COLUMNS order (None: its block cannot be
    read), its stored leaf hash and seal (empty when unreadable)."""

    seq: int
    row: tuple | None
    leaf: bytes
    seal: bytes


def stored_events(conn: Connection, lo: int | None = None, hi: int | None = None,
                  batch: int = 20_000) -> Iterator[StoredEvent]:
    """Every event with lo < seq <= hi in sequence order, from audit_events rows and from blocks."""
    def within(seq_column, last_column=None):
        where = []
        if lo is not None:
            where.append((last_column if last_column is not None else seq_column) > lo)
        if hi is not None:
            where.append(seq_column <= hi)
        return where

    blocks = conn.execute(select(BLOCKS.c.first_seq, BLOCKS.c.last_seq)
                          .where(*within(BLOCKS.c.first_seq, BLOCKS.c.last_seq)).order_by(BLOCKS.c.first_seq)).all()
    columns = [EVENTS.c[name] for name in CANONICAL_COLUMNS] + [EVENTS.c.leaf_hash, EVENTS.c.seal]
    result = conn.execute(  # in batches (a server-side cursor on PostgreSQL), for this statement only
        select(*columns).where(*within(EVENTS.c.seq)).order_by(EVENTS.c.seq).execution_options(yield_per=batch))
    n, pending = len(CANONICAL_COLUMNS), iter(blocks)
    block = next(pending, None)
    try:
        for part in result.partitions():
            for r in part:
                while block is not None and block.first_seq < r[0]:
                    yield from _block_events(conn, block.first_seq, block.last_seq, lo, hi)
                    block = next(pending, None)
                yield StoredEvent(r[0], tuple(r[:n]), bytes(r[n]), bytes(r[n + 1]))
    finally:
        result.close()
    while block is not None:
        yield from _block_events(conn, block.first_seq, block.last_seq, lo, hi)
        block = next(pending, None)


def _block_events(conn: Connection, first: int, last: int, lo: int | None, hi: int | None) -> Iterator[StoredEvent]:
    stored = conn.execute(select(BLOCKS.c.events, BLOCKS.c.leaves, BLOCKS.c.seals)
                          .where(BLOCKS.c.first_seq == first)).one()
    count = last - first + 1
    try:
        values = rows(decode(bytes(stored.events), first, last))
        leaves, seals = split(bytes(stored.leaves), count), split(bytes(stored.seals), count)
        events = [StoredEvent(first + i, values[i], leaves[i], seals[i]) for i in range(count)]
    except UnreadableBlock:
        events = [StoredEvent(first + i, None, b"", b"") for i in range(count)]
    for e in events:
        if (lo is None or e.seq > lo) and (hi is None or e.seq <= hi):
            yield e


def events_between(conn: Connection, first_us: int, last_us: int) -> Iterator[pa.Table]:
    """The block-stored events with first_us <= at_us < last_us, a decoded block at a time in
    sequence order (blocks wholly outside the window are not read)."""
    stored = conn.execute(select(BLOCKS.c.first_seq, BLOCKS.c.last_seq, BLOCKS.c.events).where(
        BLOCKS.c.first_at_us < last_us, BLOCKS.c.last_at_us >= first_us).order_by(BLOCKS.c.first_seq))
    for first_seq, last_seq, packed in stored:
        table = decode(bytes(packed), first_seq, last_seq)
        at = table["at_us"]
        yield table.filter(pc.and_(pc.greater_equal(at, first_us), pc.less(at, last_us)))


def event_count(conn: Connection) -> tuple[int, int]:
    """(events held, the highest sequence number held) over rows and blocks (archived ones excluded)."""
    rows_n, rows_top = conn.execute(select(func.count(), func.max(EVENTS.c.seq))).one()
    blocks_n, blocks_top = conn.execute(
        select(func.coalesce(func.sum(BLOCKS.c.last_seq - BLOCKS.c.first_seq + 1), 0), func.max(BLOCKS.c.last_seq))).one()
    return int(rows_n or 0) + int(blocks_n or 0), max(rows_top or 0, blocks_top or 0)
