"""Verification of the audit log against its seals and its signed checkpoints.

Names the first bad sequence number for: an edited event (content no longer matches its leaf hash or
its seal), an inserted, renumbered or reordered one (seal invalid at that position), a deleted one
(a gap), a truncated or rolled-back tail (a checkpoint signed more events than the log holds), a fork
(a prefix whose Merkle root differs from a signed checkpoint), and two different signed checkpoints
for one size.
"""

from __future__ import annotations

import multiprocessing
import os
from bisect import bisect_right
from array import array
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from hashlib import sha256
from itertools import chain
from typing import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from auditor import database
from auditor.audit import merkle
from auditor.audit.checkpoints import Checkpoint, CheckpointFile
from auditor.audit.blocks import BLOCKS, event_count, stored_events
from auditor.audit.events import canonical_bytes
from auditor.audit.log import HEAD
from auditor.audit.schema import ArchivedLeaf
from auditor.audit.seal import EventSeal
from auditor.crypto.keyring import Keyring

ARCHIVED = ArchivedLeaf.__table__


@dataclass(frozen=True)
class Problem:
    seq: int | None  # the first sequence number this problem puts in doubt
    kind: str
    message: str


@dataclass
class Verification:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    checkpoints_checked: int = 0
    latest_checkpoint: Checkpoint | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None


def load_checkpoints(files: list[Path], public_key: bytes, result: Verification) -> dict[int, list[Checkpoint]]:
    """Validly signed checkpoints by size; bad signatures and conflicts become problems."""
    by_size: dict[int, list[Checkpoint]] = defaultdict(list)
    for path in files:
        checkpoints, messages = CheckpointFile(path).read()
        for m in messages:  # classified by their ending: the start names the file, whatever its path says
            if m.endswith(": torn last line (an interrupted write); ignored"):
                result.warnings.append(m)
            else:
                result.problems.append(Problem(None, "unreadable-checkpoint", m))
        for cp in checkpoints:
            if cp.verify(public_key):
                by_size[cp.size].append(cp)
            else:
                result.problems.append(
                    Problem(None, "bad-checkpoint-signature", f"{cp.origin}: signature does not verify with this keyring")
                )
    return dict(by_size)


# -- stage 1: each row against its own leaf hash and seal (independent per row; parallel for big logs) ----
PARALLEL_FROM = 200_000  # events; below this, starting worker processes costs more than it saves
CHUNK = 50_000  # sequence numbers per worker task


def _check_rows(conn: Connection, seal: EventSeal, batch: int, lo: int | None = None,
                hi: int | None = None) -> Iterator[tuple[int, bytes, str | None]]:
    """(seq, recomputed leaf, None | "edited" | "forged" | "unreadable") for the events with
    lo < seq <= hi, in order, from rows and blocks alike ("unreadable": its block cannot be decoded)."""
    for e in stored_events(conn, lo, hi, batch):
        if e.row is None:
            yield e.seq, e.leaf if len(e.leaf) == merkle.HASH_BYTES else bytes(merkle.HASH_BYTES), "unreadable"
            continue
        leaf = sha256(b"\x00" + canonical_bytes(e.row)).digest()
        if leaf != e.leaf:
            yield e.seq, leaf, "edited"
        elif not seal.matches(leaf, e.seal):
            yield e.seq, leaf, "forged"
        else:
            yield e.seq, leaf, None


_worker: dict = {}


def _start_worker(url: str, mac_key: bytes, batch: int) -> None:
    _worker.update(engine=database.connect(url), seal=EventSeal(mac_key), batch=batch)


def _check_range(bounds: tuple[int | None, int | None]) -> tuple[array, bytes, dict[int, str]]:
    seqs, leaves, flagged = array("q"), bytearray(), {}
    with _worker["engine"].connect() as conn:
        database.read_snapshot(conn)
        for seq, leaf, kind in _check_rows(conn, _worker["seal"], _worker["batch"], *bounds):
            seqs.append(seq)
            leaves += leaf
            if kind:
                flagged[seq] = kind
    return seqs, bytes(leaves), flagged


def _ranges(top: int, chunk: int, stored_blocks: list[tuple[int, int]]) -> list[tuple[int | None, int]]:
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


def _checked_in_parallel(engine: Engine, mac_key: bytes, batch: int, workers: int, top: int,
                         chunk: int, stored_blocks: list[tuple[int, int]]) -> Iterator[tuple[int, bytes, str | None]]:
    bounds = _ranges(top, chunk, stored_blocks)
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("fork")  # children open their own connections, never the parent's
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(url, mac_key, batch)) as pool:
        for seqs, leaves, flagged in pool.map(_check_range, bounds):
            for i, seq in enumerate(seqs):
                yield seq, leaves[32 * i : 32 * i + 32], flagged.get(seq)


def _workers_for(engine: Engine, size: int, workers: int | None) -> int:
    if workers is None:
        workers = min(4, os.cpu_count() or 1) if size >= PARALLEL_FROM else 1
    if workers > 1 and ("fork" not in multiprocessing.get_all_start_methods() or str(engine.url) == "sqlite://"):
        return 1  # no fork here, or an in-memory database only this process can see
    return workers


def _archived(conn: Connection, seal: EventSeal, batch: int) -> Iterator[tuple[int, bytes, str | None]]:
    """The leaves of events archived to a file (auditor.audit.archive): their content is in the archive,
    so only the seal of each leaf can be checked here; `auditor audit verify-archive` checks the rest."""
    rows = conn.execution_options(yield_per=batch).execute(
        select(ARCHIVED.c.seq, ARCHIVED.c.leaf_hash, ARCHIVED.c.seal).order_by(ARCHIVED.c.seq))
    for seq, leaf, mac in rows:
        yield seq, bytes(leaf), None if seal.matches(bytes(leaf), bytes(mac)) else "forged"


# -- stage 2: the sequence, the Merkle tree and the checkpoints, in order --------------------------------
def verify_log(engine: Engine, keyring: Keyring, checkpoint_files: list[Path], batch: int = 20_000,
               workers: int | None = None, chunk: int = CHUNK) -> Verification:
    """Check every event and every checkpoint. `workers`: processes that recompute leaves and seals,
    `chunk` sequence numbers per task (default: up to 4 workers for logs of PARALLEL_FROM events or
    more, else none); the fold itself is sequential."""
    result = Verification()
    public_key, mac_key = keyring.signing_public_key, keyring.log_mac_key
    checkpoints = load_checkpoints(checkpoint_files, public_key, result)
    sizes = sorted(checkpoints)
    frontier = merkle.Frontier()
    expected, broken_at = 1, None  # broken_at: first seq after which prefix roots cannot be trusted
    last_good_checkpoint = 0
    run = None  # (its index among the problems, first seq, last seq) of the latest undecodable run
    next_cp = iter(sizes)
    cp_size = next(next_cp, None)

    def problem(seq: int | None, kind: str, message: str) -> None:
        nonlocal broken_at
        result.problems.append(Problem(seq, kind, message))
        if seq is not None and (broken_at is None or seq < broken_at):
            broken_at = seq

    if cp_size == 0:  # a checkpoint of the empty log (signed before the first event): its root is fixed
        result.checkpoints_checked += 1
        _compare(checkpoints[0], merkle.EMPTY_ROOT, 0, 0, problem)
        cp_size = next(next_cp, None)

    with engine.connect() as conn:
        database.read_snapshot(conn)  # one consistent view; appenders carry on meanwhile
        head = conn.execute(select(HEAD.c.size, HEAD.c.frontier).where(HEAD.c.id == 1)).first()
        count, top = event_count(conn)  # events appended after this snapshot are not checked
        workers = _workers_for(engine, count or 0, workers)
        if workers > 1 and top >= chunk:
            spans = [tuple(b) for b in conn.execute(select(BLOCKS.c.first_seq, BLOCKS.c.last_seq)
                                                     .order_by(BLOCKS.c.first_seq))]
            checked = _checked_in_parallel(engine, mac_key, batch, workers, top, chunk, spans)
        else:
            checked = _check_rows(conn, EventSeal(mac_key), batch, hi=top)
        checked = chain(_archived(conn, EventSeal(mac_key), batch), checked)  # the archived prefix first
        for seq, leaf, kind in checked:
            if seq != expected:
                if seq > expected:
                    problem(expected, "deleted", f"events {expected}..{seq - 1} are missing (deleted)")
                else:  # cannot happen with seq as primary key; kept for imported copies
                    problem(seq, "duplicate", f"event {seq} appears twice")
                expected = seq
            if kind == "unreadable":  # one problem for each run of events whose block cannot be decoded
                if run is not None and run[2] == seq - 1:
                    run = (run[0], run[1], seq)
                    result.problems[run[0]] = Problem(run[1], "edited", f"events {run[1]}..{seq}: their block cannot be decoded")
                else:
                    problem(seq, "edited", f"event {seq}: its block cannot be decoded")
                    run = (len(result.problems) - 1, seq, seq)
            elif kind == "edited":
                problem(seq, "edited", f"event {seq} was edited: its content does not match its leaf hash")
            elif kind == "forged":
                problem(seq, "forged", f"event {seq} has an invalid seal: inserted, renumbered, reordered or edited")
            frontier.append(leaf)
            expected += 1
            while cp_size is not None and cp_size <= frontier.size:
                if cp_size == frontier.size:
                    result.checkpoints_checked += 1
                    if broken_at is None or broken_at > cp_size:  # else a row problem already explains it
                        _compare(checkpoints[cp_size], frontier.root(), cp_size, last_good_checkpoint, problem)
                    if broken_at is None or broken_at > cp_size:
                        last_good_checkpoint = cp_size
                cp_size = next(next_cp, None)

    result.size, result.root = frontier.size, frontier.root()
    while cp_size is not None:  # checkpoints beyond the end of the log
        origin = checkpoints[cp_size][0].origin
        problem(frontier.size + 1, "truncated",
                f"the log ends at {frontier.size} but {origin} signed {cp_size} events: truncated or rolled back")
        cp_size = next(next_cp, None)
    if head is not None and head.size != frontier.size:
        problem(min(head.size, frontier.size) + 1, "head-mismatch",
                f"the log head says {head.size} events but {frontier.size} are present")
    valid = [cp for cps in checkpoints.values() for cp in cps]
    result.latest_checkpoint = max(valid, key=lambda c: c.size, default=None)
    if not valid:
        result.warnings.append("no signed checkpoint yet: only the seals were checked (run: auditor audit checkpoint)")
    return result


def _compare(cps: list[Checkpoint], root: bytes, size: int, last_good: int, problem) -> None:
    if len({cp.root for cp in cps}) > 1:
        where = ", ".join(f"{cp.origin}{' (matches the log)' if cp.root == root else ''}" for cp in cps)
        problem(last_good + 1, "conflicting-checkpoints",
                f"two different signed roots for size {size}: {where}; the histories diverge after event {last_good}")
    elif cps[0].root != root:
        problem(last_good + 1, "fork",
                f"the first {size} events do not match the root signed in {cps[0].origin}; "
                f"the history diverges after event {last_good}")
