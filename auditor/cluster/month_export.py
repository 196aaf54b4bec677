"""Writing a month's export: every event of the rules' window (the month and the rules' lookback) with
all its stored values, checked against its stored leaf hash and seal as it is read, in Hive-style
day partitions (`events/day=YYYY-MM-DD/part-0.parquet`, local days of the organisation), the context
the rules read (`context/<frame>.parquet`) and `manifest.json`, signed.

The manifest (FORMAT) states, for each day, its events' count, first and last sequence numbers and
the RFC 6962 Merkle tree hash of their leaf hashes in sequence order; `root`, the tree hash over
the days' roots in day order; each context file's SHA-256; the log's checkpoint at the export (its
size covers every event exported) signed with the vault's key; and an Ed25519 signature over the
manifest's canonical JSON. A reader recomputes every leaf from the Parquet values
(auditor.cluster.month_input), so an event edited, added, removed or moved between days after the
export is refused, whatever the file's encoding.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, select

from auditor.audit import blocks, merkle
from auditor.audit.canonical_columns import leaf_inputs
from auditor.audit.checkpoints import Checkpoint, key_fingerprint
from auditor.audit.events import CANONICAL_COLUMNS
from auditor.audit.seal import EventSeal
from auditor.errors import TamperDetected
from auditor.policy.frames import Period, frame_statements, microseconds, read_frame

FORMAT = "auditor-month-export/1"
ROW_GROUP = 100_000  # events a day buffers before they are written as one row group
_LEAF = pa.binary(32)
EVENT_SCHEMA = blocks.SCHEMA  # the stored values, CANONICAL_COLUMNS in order
_CHECKED = blocks.SCHEMA.append(pa.field("leaf", _LEAF)).append(pa.field("seal", _LEAF))


def canonical_json(document: dict) -> bytes:
    """The bytes the manifest's signature covers (sorted keys, no whitespace)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def signed_message(document: dict) -> bytes:
    return FORMAT.encode() + b"\n" + canonical_json(document)


@dataclass
class _Day:
    """One local day's events as they are written: its writer, buffered tables and Merkle frontier."""

    path: Path
    writer: pq.ParquetWriter | None = None
    pending: list = field(default_factory=list)
    held: int = 0
    count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    frontier: merkle.Frontier = field(default_factory=merkle.Frontier)

    def add(self, table: pa.Table, leaves: list[bytes]) -> None:
        seqs = table["seq"]
        if self.first_seq is None:
            self.first_seq = seqs[0].as_py()
        self.last_seq = seqs[-1].as_py()
        self.count += table.num_rows
        self.frontier.extend(leaves)
        self.pending.append(table)
        self.held += table.num_rows
        if self.held >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if self.writer is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, EVENT_SCHEMA, compression="zstd")
        self.writer.write_table(pa.concat_tables(self.pending).combine_chunks())
        self.pending, self.held = [], 0

    def close(self) -> dict:
        self.flush()
        if self.writer is not None:
            self.writer.close()
        return {"events": self.count, "first_seq": self.first_seq, "last_seq": self.last_seq,
                "root": self.frontier.root().hex()}


def _row_tables(conn: Connection, window: tuple[int, int], batch: int) -> Iterator[pa.Table]:
    """The log's row-stored events (the vault's own, written fewer than a block's at a time) within the
    window, in sequence order, a batch at a time, with their stored leaf hashes and seals."""
    E = blocks.EVENTS
    columns = [E.c[name] for name in CANONICAL_COLUMNS] + [E.c.leaf_hash, E.c.seal]
    result = conn.execute(select(*columns).where(E.c.at_us >= window[0], E.c.at_us < window[1])
                          .order_by(E.c.seq).execution_options(yield_per=batch))
    try:
        for part in result.partitions():
            values = list(zip(*part))
            yield pa.table([pa.array([bytes(v) if isinstance(v, memoryview) else v for v in col], type=f.type)
                            for col, f in zip(values, _CHECKED)], schema=_CHECKED)
    finally:
        result.close()


def _block_tables(conn: Connection, window: tuple[int, int], mac_key: bytes) -> Iterator[tuple[int, pa.Table]]:
    """(first_seq, the block's events within the window with their leaves and seals) for each block
    that may hold any, in sequence order. A block is passed over by its header's span of times only
    when the header's seal verifies; any other is decoded and filtered by its events' own times."""
    B = blocks.BLOCKS
    headers = [blocks.BlockHeader(*h) for h in conn.execute(
        select(B.c.first_seq, B.c.last_seq, B.c.source, B.c.first_at_us, B.c.last_at_us, B.c.header_seal)
        .order_by(B.c.first_seq))]
    for h in headers:
        if h.sealed(mac_key) and (h.first_at_us >= window[1] or h.last_at_us < window[0]):
            continue
        stored = conn.execute(select(B.c.events, B.c.leaves, B.c.seals).where(B.c.first_seq == h.first_seq)).one()
        table = blocks.decode(bytes(stored.events), h.first_seq, h.last_seq)
        leaves, seals = bytes(stored.leaves), bytes(stored.seals)
        if len(leaves) != blocks.HASH * table.num_rows or len(seals) != blocks.HASH * table.num_rows:
            raise blocks.UnreadableBlock(f"the block of audit events {h.first_seq}..{h.last_seq} does not hold a leaf "
                                         "hash and a seal for each event; run: auditor audit verify")
        table = (table.append_column("leaf", pa.FixedSizeBinaryArray.from_buffers(_LEAF, table.num_rows,
                                                                               [None, pa.py_buffer(leaves)]))
                 .append_column("seal", pa.FixedSizeBinaryArray.from_buffers(_LEAF, table.num_rows,
                                                                             [None, pa.py_buffer(seals)])))
        at = table["at_us"]
        yield h.first_seq, table.filter(pc.and_(pc.greater_equal(at, window[0]), pc.less(at, window[1])))


def stored_in_sequence(conn: Connection, window: tuple[int, int], mac_key: bytes,
                       batch: int = 20_000) -> Iterator[pa.Table]:
    """Every event of the window (rows and blocks merged) in sequence order, with its leaf and seal."""
    rows = _row_tables(conn, window, batch)
    held: pa.Table | None = next(rows, None)
    for first_seq, table in _block_tables(conn, window, mac_key):
        while held is not None and held.num_rows and held["seq"][0].as_py() < first_seq:
            before = pc.less(held["seq"], first_seq)
            yield held.filter(before)
            held = held.filter(pc.invert(before))
            if not held.num_rows:
                held = next(rows, None)
        yield table
    while held is not None:
        yield held
        held = next(rows, None)


def checked_leaves(table: pa.Table, seal: EventSeal) -> list[bytes]:
    """Each event's leaf hash, recomputed from its stored values; TamperDetected naming the first
    event whose stored leaf hash or seal does not match (nothing is exported then)."""
    leaves = [hashlib.sha256(data).digest() for data in leaf_inputs(table.select(CANONICAL_COLUMNS))]
    stored, seals, seqs = table["leaf"].to_pylist(), table["seal"].to_pylist(), table["seq"]
    for i, (leaf, kept, sealed) in enumerate(zip(leaves, stored, seals)):
        if leaf != kept or not seal.matches(kept, sealed):
            what = "leaf hash" if leaf != kept else "seal"
            raise TamperDetected(f"audit event {seqs[i].as_py()} does not match its {what}: nothing was exported; "
                                 "run: auditor audit verify")
    return leaves


def local_days(at_us: pa.Array, period: Period) -> np.ndarray:
    """Each time's local day in the organisation's time zone, as numpy datetime64[D]."""
    times = pd.DatetimeIndex(pd.to_datetime(np.asarray(at_us.to_numpy(zero_copy_only=False)), unit="us", utc=True))
    return times.tz_convert(period.tz).tz_localize(None).values.astype("datetime64[D]")


@dataclass(frozen=True)
class MonthWindow:
    """What the export holds: the month, the rules' lookback before it and the widest explanation's
    reach either side of it (for the context)."""

    period: Period
    lookback: timedelta
    explanation_reach: timedelta

    @property
    def events(self) -> tuple[int, int]:
        return microseconds(self.period.start - self.lookback), microseconds(self.period.end)


def write_events(conn: Connection, window: MonthWindow, mac_key: bytes, folder: Path) -> list[dict]:
    """The window's events under folder/events, each checked; the manifest's `days` entries."""
    seal, days = EventSeal(mac_key), {}
    for table in stored_in_sequence(conn, window.events, mac_key):
        if not table.num_rows:
            continue
        leaves = checked_leaves(table, seal)
        table = table.select(CANONICAL_COLUMNS)
        day_of = local_days(table["at_us"], window.period)
        for day in np.unique(day_of):
            at = np.flatnonzero(day_of == day)
            name = str(day)
            if name not in days:
                days[name] = _Day(folder / "events" / f"day={name}" / "part-0.parquet")
            days[name].add(table.take(at), [leaves[i] for i in at.tolist()])
    return [{"day": name, "file": f"events/day={name}/part-0.parquet", **days[name].close()} for name in sorted(days)]


def days_root(days: list[dict]) -> bytes:
    """The RFC 6962 tree hash over the days' roots, in day order."""
    return merkle.Frontier().root() if not days else _tree([bytes.fromhex(d["root"]) for d in days])


def _tree(roots: list[bytes]) -> bytes:
    frontier = merkle.Frontier()
    frontier.extend(merkle.leaf_hash(r) for r in roots)
    return frontier.root()


def write_context(conn: Connection, window: MonthWindow, folder: Path) -> dict:
    """The rules' context frames (every statement of frame_statements but the events) as Parquet."""
    out = {}
    statements = frame_statements(window.period, window.lookback, window.explanation_reach, None)
    for name, stmt in statements.items():
        if name == "events":
            continue
        frame = read_frame(conn, stmt)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        data = sink.getvalue()
        path = folder / "context" / f"{name}.parquet"
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_bytes(data)
        out[name] = {"file": f"context/{name}.parquet", "rows": table.num_rows,
                     "sha256": hashlib.sha256(data).hexdigest()}
    return out


def manifest(window: MonthWindow, days: list[dict], context: dict, checkpoint: Checkpoint, exported_at: datetime,
             exported_by: str, signing_key: Ed25519PrivateKey, public_key: bytes) -> dict:
    """The signed manifest of an export."""
    period = window.period
    document = {
        "format": FORMAT, "first_day": period.first_day.isoformat(), "last_day": period.last_day.isoformat(),
        "time_zone": period.tz.key, "lookback_seconds": int(window.lookback.total_seconds()),
        "explanation_reach_seconds": int(window.explanation_reach.total_seconds()),
        "events": {"first_us": window.events[0], "last_us": window.events[1],
                   "count": sum(d["events"] for d in days), "days": days, "root": days_root(days).hex()},
        "context": context, "checkpoint": json.loads(checkpoint.to_line()),
        "exported_at": exported_at.isoformat(), "exported_by": exported_by, "key": key_fingerprint(public_key),
    }
    return {**document, "signature": signing_key.sign(signed_message(document)).hex()}
