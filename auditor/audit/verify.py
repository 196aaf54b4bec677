"""Verification of the audit log against its seals, its signed checkpoints and its signed archives.

Names the first bad sequence number for: an edited event (content no longer matches its leaf hash or
its seal), an inserted, renumbered or reordered one (seal invalid at that position), a deleted one
(a gap, also inside a block, named exactly), a moved one (within its block), a block whose header
does not match its events, a truncated or rolled-back tail (a checkpoint signed more events than the
log holds), a fork (a prefix whose Merkle root differs from a signed checkpoint), two different
signed checkpoints for one size, and events removed from the database other than by a signed
archive that keeps the six-year rule (45 CFR 164.530(j)(2)).

Stage 1 (auditor.audit.event_checks) checks each event and block on its own, in worker processes for
big logs; stage 2, here, folds the leaves in order into the Merkle tree and meets every checkpoint.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from sqlalchemy import Connection, Engine, select

from auditor import database
from auditor.audit import merkle
from auditor.audit.archive_records import ArchiveRecord, archive_records
from auditor.audit.blocks import BLOCKS, event_count
from auditor.audit.checkpoints import Checkpoint, CheckpointFile
from auditor.audit.event_checks import CHUNK, Found, Run, check_events, checked_in_parallel, runs_of, workers_for
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
    # the vault's ledger entries (seq, table, row key, action, row digest) of the events that verified,
    # in sequence order: what auditor.vault.ledger compares the tables with
    ledger: list[tuple[int, str, str, str, bytes | None]] = field(default_factory=list)

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


# -- archived events: their leaves stay, vouched for by signed archive records -------------------------
def _archive_problems(records: list[ArchiveRecord], public_key: bytes) -> tuple[list[ArchiveRecord], list[Problem]]:
    """The records that vouch for their leaves (signed, keeping six years, consecutive from event 1),
    and a problem for each that does not."""
    good, problems, expected = [], [], 1
    for r in records:
        where = f"archive record {r.id} (events {r.first_seq}..{r.last_seq}, file {r.file_name})"
        if not r.signed_by(public_key):
            problems.append(Problem(r.first_seq, "archive-forged", f"{where} is not signed by this vault's keyring"))
        elif not r.keeps_six_years():
            problems.append(Problem(r.first_seq, "archive-too-young",
                                    f"{where} took events younger than six years (45 CFR 164.530(j)(2))"))
        elif r.first_seq != expected:
            problems.append(Problem(min(r.first_seq, expected), "archive-gap",
                                    f"{where} does not follow the archive before it (expected event {expected})"))
        else:
            good.append(r)
            expected = r.last_seq + 1
            continue
        break  # archives are a prefix of the log: nothing after a bad one is vouched for
    return good, problems


def _archived(conn: Connection, seal: EventSeal, vouched: list[ArchiveRecord],
              batch: int) -> Iterator[tuple[int, bytes, str | None]]:
    """The leaves of archived events: their content is in the archive file (`auditor audit
    verify-archive` checks it), so here each leaf's seal, and that a signed record holds it."""
    top = vouched[-1].last_seq if vouched else 0
    rows = conn.execute(  # streamed on the statement: on the connection, every later read on it would stream
        select(ARCHIVED.c.seq, ARCHIVED.c.leaf_hash, ARCHIVED.c.seal).order_by(ARCHIVED.c.seq)
        .execution_options(yield_per=batch))
    for seq, leaf, mac in rows:
        if not seal.matches(bytes(leaf), bytes(mac)):
            yield seq, bytes(leaf), "forged"
        else:
            yield seq, bytes(leaf), None if seq <= top else "unarchived"


# -- stage 2: the sequence, the Merkle tree and the checkpoints, in order --------------------------------
class _Fold:
    """The running fold: the frontier, the next expected sequence number, and the problems so far."""

    def __init__(self, result: Verification, checkpoints: dict[int, list[Checkpoint]],
                 archives: list[ArchiveRecord]) -> None:
        self.result, self.checkpoints = result, checkpoints
        self.frontier = merkle.Frontier()
        self.expected, self.broken_at, self.last_good = 1, None, 0
        self.run = None  # (index among the problems, kind, first seq, last seq) of the latest run of a kind
        self.sizes = iter(sorted(checkpoints))
        self.cp_size = next(self.sizes, None)
        self.roots = {r.last_seq: r for r in archives}
        self.root_sizes = sorted(self.roots)
        if self.cp_size == 0:  # a checkpoint of the empty log (signed before the first event): its root is fixed
            result.checkpoints_checked += 1
            _compare(checkpoints[0], merkle.EMPTY_ROOT, 0, 0, self.problem)
            self.cp_size = next(self.sizes, None)

    def problem(self, seq: int | None, kind: str, message: str) -> None:
        self.result.problems.append(Problem(seq, kind, message))
        if seq is not None and (self.broken_at is None or seq < self.broken_at):
            self.broken_at = seq

    def _in_runs(self, seq: int, kind: str, single: str, many: str) -> None:
        """One problem for each run of consecutive events with the same kind of problem."""
        run = self.run
        if run is not None and run[1] == kind and run[3] == seq - 1:
            self.run = (run[0], kind, run[2], seq)
            self.result.problems[run[0]] = Problem(run[2], kind if kind != "unreadable" else "edited",
                                                   many.format(first=run[2], last=seq))
        else:
            self.problem(seq, kind if kind != "unreadable" else "edited", single.format(seq=seq))
            self.run = (len(self.result.problems) - 1, kind, seq, seq)

    def add(self, seq: int, leaf: bytes, kind: str | None) -> None:
        if seq != self.expected:
            if seq > self.expected:
                self.problem(self.expected, "deleted", f"events {self.expected}..{seq - 1} are missing (deleted)")
            else:
                self.problem(seq, "duplicate", f"event {seq} appears twice")
            self.expected = seq
        if kind == "unreadable":
            self._in_runs(seq, kind, "event {seq}: its block cannot be decoded",
                          "events {first}..{last}: their block cannot be decoded")
        elif kind == "unarchived":
            self._in_runs(seq, "deleted", "event {seq} is missing: its leaf was marked archived but no signed "
                          "archive holds it (deleted)", "events {first}..{last} are missing: their leaves were "
                          "marked archived but no signed archive holds them (deleted)")
        elif kind == "edited":
            self.problem(seq, "edited", f"event {seq} was edited: its content does not match its leaf hash")
        elif kind == "forged":
            self.problem(seq, "forged", f"event {seq} has an invalid seal: inserted, renumbered, reordered or edited")
        self.frontier.append(leaf)
        self.expected += 1
        self._meet_signed_roots()

    def add_run(self, run: Run) -> None:
        """A run's events, as `add` of each would fold them. A clean run (nothing flagged, numbered on
        from the next expected event) joins the frontier a stretch at a time, up to each size a
        checkpoint or an archive record signs (where its root is compared, as after every event);
        any other run goes event by event."""
        seqs = np.frombuffer(run.seqs, dtype=np.int64) if len(run.seqs) else np.empty(0, dtype=np.int64)
        if run.flagged or not len(seqs) or seqs[0] != self.expected or (np.diff(seqs) != 1).any():
            for seq, leaf, kind in run.events():
                self.add(seq, leaf, kind)
            return
        leaves = [run.leaves[i : i + merkle.HASH_BYTES] for i in range(0, len(run.leaves), merkle.HASH_BYTES)]
        i = 0
        while i < len(leaves):
            size = self.frontier.size
            signed = self._next_signed(size)
            stop = len(leaves) if signed is None else min(len(leaves), i + max(1, signed - size))
            self.frontier.extend(leaves[i:stop])
            self.expected += stop - i
            i = stop
            self._meet_signed_roots()

    def _next_signed(self, size: int) -> int | None:
        """The next size, after `size`, whose root a checkpoint or an archive record signs."""
        at = bisect_right(self.root_sizes, size)
        sizes = [s for s in (self.cp_size, self.root_sizes[at] if at < len(self.root_sizes) else None) if s is not None]
        return min(sizes) if sizes else None

    def _meet_signed_roots(self) -> None:
        size = self.frontier.size
        record = self.roots.get(size)
        if record is not None and record.root != self.frontier.root() and (self.broken_at is None or self.broken_at > size):
            self.problem(record.first_seq, "fork", f"the first {size} events do not match the root signed in "
                         f"archive record {record.id}")
        while self.cp_size is not None and self.cp_size <= size:
            if self.cp_size == size:
                self.result.checkpoints_checked += 1
                if self.broken_at is None or self.broken_at > size:  # else an event problem already explains it
                    _compare(self.checkpoints[size], self.frontier.root(), size, self.last_good, self.problem)
                if self.broken_at is None or self.broken_at > size:
                    self.last_good = size
            self.cp_size = next(self.sizes, None)

    def finish(self, head) -> None:
        result, size = self.result, self.frontier.size
        result.size, result.root = size, self.frontier.root()
        while self.cp_size is not None:  # checkpoints beyond the end of the log
            origin = self.checkpoints[self.cp_size][0].origin
            self.problem(size + 1, "truncated",
                         f"the log ends at {size} but {origin} signed {self.cp_size} events: truncated or rolled back")
            self.cp_size = next(self.sizes, None)
        if head is not None and head.size != size:
            self.problem(min(head.size, size) + 1, "head-mismatch",
                         f"the log head says {head.size} events but {size} are present")


RowsCheck = Callable[[Connection, list], list[tuple[str, str]]]


def verify_log(engine: Engine, keyring: Keyring, checkpoint_files: list[Path], batch: int = 20_000,
               workers: int | None = None, chunk: int = CHUNK, rows_check: RowsCheck | None = None) -> Verification:
    """Check every event, block, archive record and checkpoint. `workers`: processes that recompute
    leaves and seals, `chunk` sequence numbers per task (default: up to 4 workers for logs of
    event_checks.PARALLEL_FROM events or more, else none); the fold itself is sequential.
    `rows_check(conn, ledger)`: run in the same snapshot once the log is read, with the ledger
    entries of the events that verified; its (kind, message) pairs become problems of no sequence
    number (auditor.vault.integrity compares the ledger's tables with it)."""
    result = Verification()
    public_key, mac_key = keyring.signing_public_key, keyring.log_mac_key
    checkpoints = load_checkpoints(checkpoint_files, public_key, result)
    found = Found()
    with engine.connect() as conn:
        database.read_snapshot(conn)  # one consistent view; appenders carry on meanwhile
        head = conn.execute(select(HEAD.c.size, HEAD.c.frontier).where(HEAD.c.id == 1)).first()
        vouched, archive_problems = _archive_problems(archive_records(conn), public_key)
        fold = _Fold(result, checkpoints, vouched)
        for p in archive_problems:
            fold.problem(p.seq, p.kind, p.message)
        count, top = event_count(conn)  # events appended after this snapshot are not checked
        workers = workers_for(engine, count or 0, workers)
        if workers > 1 and top >= chunk:
            spans = [tuple(b) for b in conn.execute(select(BLOCKS.c.first_seq, BLOCKS.c.last_seq)
                                                     .order_by(BLOCKS.c.first_seq))]
            checked = checked_in_parallel(engine, mac_key, batch, workers, top, chunk, spans, found)
        else:
            checked = runs_of(check_events(conn, mac_key, batch, found, hi=top), batch)
        # archived leaves and stored events, in one sequence (an archive is a prefix; an attacker's may not be)
        for item in _in_order(_archived(conn, EventSeal(mac_key), vouched, batch), checked):
            if isinstance(item, Run):
                fold.add_run(item)
            else:
                fold.add(*item)
        result.ledger = sorted(found.ledger)
        rows = rows_check(conn, result.ledger) if rows_check is not None else []
    for kind, message in rows:
        result.problems.append(Problem(None, kind, message))
    for f in found.findings:
        fold.problem(f.seq, f.kind, f.message)
    fold.finish(head)
    valid = [cp for cps in checkpoints.values() for cp in cps]
    result.latest_checkpoint = max(valid, key=lambda c: c.size, default=None)
    if not valid:
        result.warnings.append("no signed checkpoint yet: only the seals were checked (run: auditor audit checkpoint)")
    return result


def _in_order(archived: Iterator[tuple[int, bytes, str | None]], runs: Iterator[Run]) -> Iterator[tuple | Run]:
    """The archived leaves and the checked runs in the order heapq.merge gives the two streams of
    events (by sequence number, an archived leaf first on a tie): a run whole when no archived leaf
    comes out inside it, else its events one by one among the archived ones."""
    pending = next(archived, None)
    for run in runs:
        if pending is None or pending[0] > max(run.seqs, default=pending[0] - 1):
            yield run
            continue
        for event in run.events():
            while pending is not None and pending[0] <= event[0]:
                yield pending
                pending = next(archived, None)
            yield event
    while pending is not None:
        yield pending
        pending = next(archived, None)


def _compare(cps: list[Checkpoint], root: bytes, size: int, last_good: int, problem) -> None:
    if len({cp.root for cp in cps}) > 1:
        where = ", ".join(f"{cp.origin}{' (matches the log)' if cp.root == root else ''}" for cp in cps)
        problem(last_good + 1, "conflicting-checkpoints",
                f"two different signed roots for size {size}: {where}; the histories diverge after event {last_good}")
    elif cps[0].root != root:
        problem(last_good + 1, "fork",
                f"the first {size} events do not match the root signed in {cps[0].origin}; "
                f"the history diverges after event {last_good}")
