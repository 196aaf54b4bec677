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
from auditor.audit.seal import block_header_valid
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


def decode(events: bytes, first_seq: int, last_seq: int, strict: bool = True) -> pa.Table:
    """A block's events as an Arrow table in SCHEMA; UnreadableBlock unless it decodes, and (strict)
    to as many events as its header names. The verifier decodes leniently and compares each event's
    own sequence number with its place, to name the events removed or moved."""
    try:
        table = ipc.open_stream(pa.py_buffer(events)).read_all()
        # every buffer against its metadata (reading checks little): a null count that disagrees with
        # the validity bitmap, offsets out of order or past their data, would give Arrow's kernels
        # other values than Python's (values shown as none, bytes read from outside the block)
        table.validate(full=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableBlock(f"the block of audit events {first_seq}..{last_seq} cannot be decoded; "
                              "run: auditor audit verify") from exc
    if not table.schema.equals(SCHEMA) or (strict and table.num_rows != last_seq - first_seq + 1):
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
class BlockHeader:
    """What a block's row says of its events, before they are decoded."""

    first_seq: int
    last_seq: int
    source: str
    first_at_us: int
    last_at_us: int
    header_seal: bytes | None

    def sealed(self, mac_key: bytes) -> bool:
        return block_header_valid(mac_key, self.header_seal, self.first_seq, self.last_seq, self.source,
                                  self.first_at_us, self.last_at_us)


@dataclass(frozen=True)
class StoredEvent:
    """One event as stored: `row` its values in CANONICAL_COLUMNS order (None: its block cannot be
    read), its stored leaf hash and seal (empty when unreadable). `seq` is its place in the log (for
    a row, its key; in a block, the header's first_seq plus its position); `block` the header of the
    block holding it (None for a row)."""

    seq: int
    row: tuple | None
    leaf: bytes
    seal: bytes
    block: BlockHeader | None = None


@dataclass(frozen=True)
class StoredBlock:
    """A block as stored, not yet decoded: its header, its events (an Arrow IPC stream), and its leaf
    hashes and seals (32 bytes each, one after the other)."""

    header: BlockHeader
    events: bytes
    leaves: bytes
    seals: bytes

    def stored_events(self, lo: int | None = None, hi: int | None = None) -> Iterator[StoredEvent]:
        """Its events with lo < seq <= hi, in the order stored (as many as decode, whatever its header
        says; all of them unreadable when it does not decode)."""
        header = self.header
        first, last = header.first_seq, header.last_seq
        try:
            values = rows(decode(self.events, first, last, strict=False))
            count = len(values)
            leaves, seals = split(self.leaves, count), split(self.seals, count)
            events = [StoredEvent(first + i, values[i], leaves[i], seals[i], header) for i in range(count)]
        except UnreadableBlock:
            events = [StoredEvent(first + i, None, b"", b"", header) for i in range(last - first + 1)]
        for e in events:
            if (lo is None or e.seq > lo) and (hi is None or e.seq <= hi):
                yield e


def stored_events(conn: Connection, lo: int | None = None, hi: int | None = None, batch: int = 20_000,
                  whole_blocks: bool = False) -> Iterator[StoredEvent | StoredBlock]:
    """Every event with lo < seq <= hi in sequence order, from audit_events rows and from blocks; with
    `whole_blocks`, each block that holds some of them as one StoredBlock, undecoded, in its place."""
    def within(seq_column, last_column=None):
        where = []
        if lo is not None:
            where.append((last_column if last_column is not None else seq_column) > lo)
        if hi is not None:
            where.append(seq_column <= hi)
        return where

    blocks = conn.execute(select(*_HEADER).where(*within(BLOCKS.c.first_seq, BLOCKS.c.last_seq))
                          .order_by(BLOCKS.c.first_seq)).all()
    columns = [EVENTS.c[name] for name in CANONICAL_COLUMNS] + [EVENTS.c.leaf_hash, EVENTS.c.seal]
    result = conn.execute(  # in batches (a server-side cursor on PostgreSQL), for this statement only
        select(*columns).where(*within(EVENTS.c.seq)).order_by(EVENTS.c.seq).execution_options(yield_per=batch))
    n, pending = len(CANONICAL_COLUMNS), iter(blocks)
    block = next(pending, None)
    try:
        for part in result.partitions():
            for r in part:
                while block is not None and block.first_seq < r[0]:
                    yield from _block_items(conn, BlockHeader(*block), lo, hi, whole_blocks)
                    block = next(pending, None)
                yield StoredEvent(r[0], tuple(r[:n]), bytes(r[n]), bytes(r[n + 1]))
    finally:
        result.close()
    while block is not None:
        yield from _block_items(conn, BlockHeader(*block), lo, hi, whole_blocks)
        block = next(pending, None)


def stored_events_at(conn: Connection, seqs: list[int]) -> dict[int, StoredEvent]:
    """The events at these places in the log (seq -> StoredEvent; a seq the log does not hold is
    absent), each block that holds some of them decoded once."""
    wanted = sorted(set(seqs))
    out: dict[int, StoredEvent] = {}
    columns = [EVENTS.c[name] for name in CANONICAL_COLUMNS] + [EVENTS.c.leaf_hash, EVENTS.c.seal]
    n = len(CANONICAL_COLUMNS)
    for i in range(0, len(wanted), 900):
        for r in conn.execute(select(*columns).where(EVENTS.c.seq.in_(wanted[i : i + 900]))):
            out[r[0]] = StoredEvent(r[0], tuple(r[:n]), bytes(r[n]), bytes(r[n + 1]))
    rest = [s for s in wanted if s not in out]
    while rest:
        seq = rest[0]
        header = conn.execute(select(*_HEADER).where(BLOCKS.c.first_seq <= seq, BLOCKS.c.last_seq >= seq)
                              .order_by(BLOCKS.c.first_seq.desc()).limit(1)).first()
        if header is None:
            rest = rest[1:]
            continue
        block = BlockHeader(*header)
        inside = [s for s in rest if s <= block.last_seq]
        out.update(_some_block_events(conn, block, inside))
        rest = rest[len(inside):]
    return out


_HEADER = (BLOCKS.c.first_seq, BLOCKS.c.last_seq, BLOCKS.c.source, BLOCKS.c.first_at_us, BLOCKS.c.last_at_us,
           BLOCKS.c.header_seal)


def _stored_block(conn: Connection, header: BlockHeader) -> StoredBlock:
    stored = conn.execute(select(BLOCKS.c.events, BLOCKS.c.leaves, BLOCKS.c.seals)
                          .where(BLOCKS.c.first_seq == header.first_seq)).one()
    return StoredBlock(header, bytes(stored.events), bytes(stored.leaves), bytes(stored.seals))


def _block_items(conn: Connection, header: BlockHeader, lo: int | None, hi: int | None,
                 whole: bool) -> Iterator[StoredEvent | StoredBlock]:
    block = _stored_block(conn, header)
    if whole:
        yield block
    else:
        yield from block.stored_events(lo, hi)


def _some_block_events(conn: Connection, header: BlockHeader, seqs: list[int]) -> dict[int, StoredEvent]:
    """As StoredBlock.stored_events, for a few of the block's events: only those are made Python values."""
    first, last = header.first_seq, header.last_seq
    stored = _stored_block(conn, header)
    try:
        table = decode(stored.events, first, last, strict=False)
        count = table.num_rows
        leaves, seals = stored.leaves, stored.seals
        if len(leaves) != HASH * count or len(seals) != HASH * count:
            raise UnreadableBlock(f"{len(leaves)} bytes of hashes for {count} audit events; run: auditor audit verify")
        places = [s - first for s in seqs if s - first < count]
        values = rows(table.take(places)) if places else []
        return {first + i: StoredEvent(first + i, row, leaves[HASH * i : HASH * (i + 1)],
                                       seals[HASH * i : HASH * (i + 1)], header) for i, row in zip(places, values)}
    except UnreadableBlock:
        return {s: StoredEvent(s, None, b"", b"", header) for s in seqs}


@dataclass
class BlockReading:
    """What `events_between` read: the blocks whose header seal did not verify (their span of times was
    not trusted: they were decoded and filtered by their events' own times)."""

    unsealed: list[BlockHeader]


def events_between(conn: Connection, first_us: int, last_us: int, mac_key: bytes | None,
                   reading: BlockReading | None = None) -> Iterator[pa.Table]:
    """The block-stored events with first_us <= at_us < last_us, a decoded block at a time in
    sequence order. A block is skipped by its header's span of times only when its header seal
    verifies under `mac_key` (the log's MAC key); any other block is decoded and filtered by the
    times its events hold, so an altered header hides nothing (and is listed in `reading`)."""
    return events_within(conn, [(first_us, last_us)], mac_key, reading)


def events_within(conn: Connection, windows: list[tuple[int, int]], mac_key: bytes | None,
                  reading: BlockReading | None = None) -> Iterator[pa.Table]:
    """As events_between, for several windows (first_us, last_us) at once: each block decoded once."""
    headers = [BlockHeader(*h) for h in conn.execute(select(*_HEADER).order_by(BLOCKS.c.first_seq))]
    unsealed = [h for h in headers if mac_key is None or not h.sealed(mac_key)]
    if reading is not None:
        reading.unsealed = unsealed
    suspect = {h.first_seq for h in unsealed}
    wanted = [h for h in headers if h.first_seq in suspect
              or any(h.first_at_us < last and h.last_at_us >= first for first, last in windows)]
    for header in wanted:
        packed = conn.scalar(select(BLOCKS.c.events).where(BLOCKS.c.first_seq == header.first_seq))
        table = decode(bytes(packed), header.first_seq, header.last_seq)
        at = table["at_us"]
        inside = None
        for first, last in windows:
            one = pc.and_(pc.greater_equal(at, first), pc.less(at, last))
            inside = one if inside is None else pc.or_(inside, one)
        yield table.filter(inside)


def event_count(conn: Connection) -> tuple[int, int]:
    """(events held, the highest sequence number held) over rows and blocks (archived ones excluded)."""
    rows_n, rows_top = conn.execute(select(func.count(), func.max(EVENTS.c.seq))).one()
    blocks_n, blocks_top = conn.execute(
        select(func.coalesce(func.sum(BLOCKS.c.last_seq - BLOCKS.c.first_seq + 1), 0), func.max(BLOCKS.c.last_seq))).one()
    return int(rows_n or 0) + int(blocks_n or 0), max(rows_top or 0, blocks_top or 0)


def appended_since(conn: Connection, size: int, first_us: int, last_us: int, mac_key: bytes) -> bool:
    """Whether the log may hold an event appended after its first `size` events whose time is in
    first_us <= at_us < last_us: a row's time read, a block's by its header's span when the header seal
    verifies under `mac_key` (a span that only overlaps counts), and any block whose header does not
    verify counted as such. Reads the events after `size` by sequence number only: never a pass over
    the whole log."""
    row = conn.scalar(select(EVENTS.c.seq).where(EVENTS.c.seq > size, EVENTS.c.at_us >= first_us,
                                                 EVENTS.c.at_us < last_us).limit(1))
    if row is not None:
        return True
    later = [BlockHeader(*h) for h in conn.execute(select(*_HEADER).where(BLOCKS.c.last_seq > size))]
    return any(not h.sealed(mac_key) or (h.first_at_us < last_us and h.last_at_us >= first_us) for h in later)
