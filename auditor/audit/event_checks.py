"""Stage 1 of verification: each stored event against its own leaf hash and seal, each block's header
against its events, and each event's own sequence number against its place in its block.

Independent per event and per block, so big logs are checked by worker processes over ranges of
sequence numbers (no range ends inside a block); the fold of the Merkle tree (auditor.audit.verify)
stays sequential. Workers are forked from a fork server, a clean process started once with this
module loaded: a child forked from the caller would inherit its open SQLite connections, which SQLite
forbids (a "disk I/O error" was seen from it); spawning a fresh interpreter per worker costs seconds.

A block's events are handed on in the order of their own sequence numbers, so the fold sees the log
as it was written: events removed from inside a block show as a gap the fold names exactly, events
moved within it as "moved" (not as a fork after the first of them).
"""

from __future__ import annotations

import hmac
import os
from array import array
from bisect import bisect_right
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Iterator

import numpy as np
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine

from auditor import database
from auditor.audit import merkle
from auditor.audit.blocks import (HASH, BlockHeader, StoredBlock, StoredEvent, UnreadableBlock, decode, rows,
                                  stored_events)
from auditor.audit.canonical_columns import leaf_inputs
from auditor.audit.events import CANONICAL_COLUMNS, canonical_bytes
from auditor.audit.seal import EventSeal
from auditor.workers import worker_context

PARALLEL_FROM = 200_000  # events; below this, starting worker processes costs more than it saves
CHUNK = 50_000  # sequence numbers per worker task
LEDGER_PREFIX = "table:"
UNSEALED = "it has no seal (a block from before r0009: run auditor db upgrade)"  # record_type of the vault's ledger events (auditor.vault.ledger)
_SOURCE, _ROW_HASH, _ROLE, _ACTION = (CANONICAL_COLUMNS.index(c) for c in ("source", "source_row_hash", "role", "action"))
_TYPE, _ID, _AT = (CANONICAL_COLUMNS.index(c) for c in ("record_type", "record_id", "at_us"))


@dataclass(frozen=True)
class Finding:
    """A problem stage 1 found beyond one event's leaf and seal: (first seq in doubt, kind, message)."""

    seq: int
    kind: str
    message: str


@dataclass
class Found:
    """What stage 1 collects beside the stream of leaves: block problems, and the vault's ledger
    entries (seq, table, row key, action, row digest) of the events that verified."""

    findings: list[Finding] = field(default_factory=list)
    ledger: list[tuple[int, str, str, str, bytes | None]] = field(default_factory=list)

    def merge(self, other: "Found") -> None:
        self.findings += other.findings
        self.ledger += other.ledger


def _ledger_entry(seq: int, row: tuple) -> tuple | None:
    kind = row[_TYPE]
    if kind and kind.startswith(LEDGER_PREFIX) and row[_SOURCE] == "vault" and row[_ROLE] == "service":
        digest = row[_ROW_HASH]
        return seq, kind[len(LEDGER_PREFIX):], row[_ID], row[_ACTION], None if digest is None else bytes(digest)
    return None


def _one(seq: int, row: tuple, stored_leaf: bytes, stored_seal: bytes, seal: EventSeal,
         found: Found) -> tuple[int, bytes, str | None]:
    leaf = sha256(b"\x00" + canonical_bytes(row)).digest()
    if leaf != stored_leaf:
        return seq, leaf, "edited"
    if not seal.matches(leaf, stored_seal):
        return seq, leaf, "forged"
    entry = _ledger_entry(seq, row)
    if entry is not None:
        found.ledger.append(entry)
    return seq, leaf, None


def _header_problems(header: BlockHeader, events: list[StoredEvent], mac_key: bytes) -> list[str]:
    """What is wrong with a block's header: its seal, or any value that differs from its events'."""
    if header.header_seal is None:
        wrong = [UNSEALED]
    else:
        wrong = [] if header.sealed(mac_key) else ["its seal does not verify"]
    rows = [e.row for e in events if e.row is not None]
    if not rows:
        return wrong
    seqs = sorted(r[0] for r in rows)
    if (seqs[0], seqs[-1], len(seqs)) != (header.first_seq, header.last_seq, header.last_seq - header.first_seq + 1):
        wrong.append(f"it names events {header.first_seq}..{header.last_seq}, it holds {len(seqs)} "
                     f"numbered {seqs[0]}..{seqs[-1]}")
    times = [r[_AT] for r in rows]
    if (min(times), max(times)) != (header.first_at_us, header.last_at_us):
        wrong.append("its span of times is not its events'")
    if {r[_SOURCE] for r in rows} != {header.source}:
        wrong.append("its source is not its events'")
    return wrong


def _block(events: list[StoredEvent], seal: EventSeal, mac_key: bytes,
           found: Found) -> Iterator[tuple[int, bytes, str | None]]:
    """A block's events, checked, in the order of their own sequence numbers."""
    header = events[0].block
    wrong = _header_problems(header, events, mac_key)  # type: ignore[arg-type]
    if wrong:
        kind = "block-unsealed" if wrong == [UNSEALED] else "block-header"  # unsealed: made before r0009
        held = [e.row[0] for e in events if e.row is not None]
        found.findings.append(Finding(min([header.first_seq, *held]), kind,  # type: ignore[union-attr]
                                      f"the header of the block of events {header.first_seq}..{header.last_seq} "  # type: ignore[union-attr]
                                      f"was altered: {'; '.join(wrong)}"))
    if any(e.row is None for e in events):
        for e in events:
            yield e.seq, e.leaf if len(e.leaf) == merkle.HASH_BYTES else bytes(merkle.HASH_BYTES), "unreadable"
        return
    ordered = sorted(events, key=lambda e: e.row[0])  # type: ignore[index]
    moved = [e.row[0] for e, o in zip(events, ordered) if e is not o]  # type: ignore[index]
    if moved:
        shown = ", ".join(map(str, sorted(moved)[:10])) + (" ..." if len(moved) > 10 else "")
        found.findings.append(Finding(min(moved), "moved", f"events {shown} are not where their own sequence "
                                      "numbers put them: moved within their block"))
    for e in ordered:
        yield _one(e.row[0], e.row, e.leaf, e.seal, seal, found)  # type: ignore[index]


@dataclass(frozen=True)
class Clean:
    """A block's events checked together and found as stored: their sequence numbers (int64, native
    order, consecutive) and their leaves (32 bytes each), in order."""

    seqs: bytes
    leaves: bytes


def _clean_block(block: StoredBlock, seal: EventSeal, mac_key: bytes, found: Found, lo: int | None,
                 hi: int | None) -> Clean | None:
    """A block's events checked at once, their canonical bytes built by Arrow's kernels as its append
    built them (auditor.audit.canonical_columns, the same bytes as canonical_bytes gives), when nothing
    in it is wrong: it lies whole in (lo, hi], its header's seal verifies and names its events, their
    own sequence numbers are their places, and every recomputed leaf and seal is the one stored. None
    when anything differs: _block then checks it event by event, to name what."""
    header = block.header
    first, last = header.first_seq, header.last_seq
    if (lo is not None and first <= lo) or (hi is not None and last > hi) or not header.sealed(mac_key):
        return None
    try:
        table = decode(block.events, first, last)  # strict: as many events as its header names
    except UnreadableBlock:
        return None
    n, seqs, times = table.num_rows, table["seq"], table["at_us"]
    if len(block.leaves) != HASH * n or len(block.seals) != HASH * n or seqs.null_count or times.null_count:
        return None
    numbers = seqs.to_numpy()
    if not np.array_equal(numbers, np.arange(first, last + 1, dtype=np.int64)):
        return None
    span = pc.min_max(times).as_py()
    if (span["min"], span["max"]) != (header.first_at_us, header.last_at_us) or \
            pc.unique(table["source"]).to_pylist() != [header.source]:
        return None
    leaves = b"".join([sha256(data).digest() for data in leaf_inputs(table)])
    if leaves != block.leaves:
        return None
    seals = b"".join([seal(leaves[i : i + HASH]) for i in range(0, len(leaves), HASH)])
    if not hmac.compare_digest(seals, block.seals):
        return None
    ledger = pc.fill_null(pc.and_(pc.and_(pc.equal(table["source"], "vault"), pc.equal(table["role"], "service")),
                                  pc.starts_with(table["record_type"], LEDGER_PREFIX)), False)
    if pc.any(ledger).as_py():
        found.ledger += [_ledger_entry(row[0], row) for row in rows(table.filter(ledger))]
    return Clean(numbers.tobytes(), leaves)  # int64, as SCHEMA types seq


def check_events(conn: Connection, mac_key: bytes, batch: int, found: Found, lo: int | None = None,
                 hi: int | None = None) -> Iterator[tuple[int, bytes, str | None] | Clean]:
    """(seq, recomputed leaf, None | "edited" | "forged" | "unreadable") for the events with
    lo < seq <= hi, rows and blocks alike, in sequence order ("unreadable": its block cannot be
    decoded), a block found as stored as one Clean; block problems and ledger entries go into
    `found`."""
    seal = EventSeal(mac_key)
    for e in stored_events(conn, lo, hi, batch, whole_blocks=True):
        if isinstance(e, StoredBlock):
            clean = _clean_block(e, seal, mac_key, found, lo, hi)
            if clean is not None:
                yield clean
                continue
            events = list(e.stored_events(lo, hi))
            if events:
                yield from _block(events, seal, mac_key, found)
        elif e.row is None:  # pragma: no cover - a row always has its values
            yield e.seq, bytes(merkle.HASH_BYTES), "unreadable"
        else:
            yield _one(e.seq, e.row, e.leaf, e.seal, seal, found)


# -- worker processes ---------------------------------------------------------------------------------
_worker: dict = {}


def _start_worker(url: str, mac_key: bytes, batch: int) -> None:
    _worker.update(engine=database.connect(url), mac_key=mac_key, batch=batch)


@dataclass(frozen=True)
class Run:
    """Checked events, in the order checked: their sequence numbers, their recomputed leaves (32 bytes
    each, one after the other) and the problem of each flagged one. The fold takes a clean run whole
    (auditor.audit.verify), without a Python step per event."""

    seqs: array  # array("q")
    leaves: bytes
    flagged: dict[int, str]

    def events(self) -> Iterator[tuple[int, bytes, str | None]]:
        leaves, flagged = self.leaves, self.flagged
        for i, seq in enumerate(self.seqs):
            yield seq, leaves[32 * i : 32 * i + 32], flagged.get(seq)


def runs_of(events: Iterator[tuple[int, bytes, str | None] | Clean], size: int) -> Iterator[Run]:
    """`events` (check_events') in runs of `size` or more (a Clean block is not cut)."""
    seqs, leaves, flagged = array("q"), bytearray(), {}
    for item in events:
        if isinstance(item, Clean):
            seqs.frombytes(item.seqs)
            leaves += item.leaves
        else:
            seq, leaf, kind = item
            seqs.append(seq)
            leaves += leaf
            if kind:
                flagged[seq] = kind
        if len(seqs) >= size:
            yield Run(seqs, bytes(leaves), flagged)
            seqs, leaves, flagged = array("q"), bytearray(), {}
    if seqs:
        yield Run(seqs, bytes(leaves), flagged)


def _check_range(bounds: tuple[int | None, int | None]) -> tuple[Run, Found]:
    found = Found()
    with _worker["engine"].connect() as conn:
        database.read_snapshot(conn)
        whole = next(runs_of(check_events(conn, _worker["mac_key"], _worker["batch"], found, *bounds), 1 << 62), None)
    return whole or Run(array("q"), b"", {}), found  # the range as one run


def ranges(top: int, chunk: int, stored_blocks: list[tuple[int, int]]) -> list[tuple[int | None, int]]:
    """(lo, hi] ranges of about `chunk` sequence numbers up to `top`, none ending inside a block (a
    block is decoded by one worker, not by the two whose ranges it would straddle)."""
    firsts = [first for first, _ in stored_blocks]
    bounds, lo = [], 0
    while lo < top:
        hi = min(lo + chunk, top)
        at = bisect_right(firsts, hi) - 1  # the block starting at or before hi, if any
        if at >= 0 and stored_blocks[at][0] <= hi < stored_blocks[at][1]:
            hi = min(stored_blocks[at][1], top)
        bounds.append((None if lo == 0 else lo, hi))
        lo = hi
    return bounds


def checked_in_parallel(engine: Engine, mac_key: bytes, batch: int, workers: int, top: int, chunk: int,
                        stored_blocks: list[tuple[int, int]], found: Found) -> Iterator[Run]:
    """The events up to `top` checked by `workers` processes, a run of about `chunk` sequence numbers
    each, in order."""
    url = engine.url.render_as_string(hide_password=False)
    context = worker_context(__name__)  # children open their own connections, inherit none
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(url, mac_key, batch)) as pool:
        for run, part in pool.map(_check_range, ranges(top, chunk, stored_blocks)):
            found.merge(part)
            yield run


def workers_for(engine: Engine, size: int, workers: int | None) -> int:
    if workers is None:
        workers = min(4, os.cpu_count() or 1) if size >= PARALLEL_FROM else 1
    if workers > 1 and str(engine.url) == "sqlite://":
        return 1  # an in-memory database only this process can see
    return workers
