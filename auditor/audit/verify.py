"""Verification of the audit log against its seals and its signed checkpoints.

Names the first bad sequence number for: an edited event (content no longer matches its leaf hash or
its seal), an inserted, renumbered or reordered one (seal invalid at that position), a deleted one
(a gap), a truncated or rolled-back tail (a checkpoint signed more events than the log holds), a fork
(a prefix whose Merkle root differs from a signed checkpoint), and two different signed checkpoints
for one size.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from auditor.audit import merkle
from auditor.audit.checkpoints import Checkpoint, CheckpointFile
from auditor.audit.events import CANONICAL_COLUMNS, canonical_bytes
from auditor.audit.log import EVENTS, HEAD
from auditor.crypto.keyring import Keyring


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


def verify_log(engine: Engine, keyring: Keyring, checkpoint_files: list[Path], batch: int = 20_000) -> Verification:
    result = Verification()
    public_key, mac_key = keyring.signing_public_key, keyring.log_mac_key
    checkpoints = load_checkpoints(checkpoint_files, public_key, result)
    sizes = sorted(checkpoints)
    frontier = merkle.Frontier()
    expected, broken_at = 1, None  # broken_at: first seq after which prefix roots cannot be trusted
    last_good_checkpoint = 0
    columns = [EVENTS.c[name] for name in CANONICAL_COLUMNS] + [EVENTS.c.leaf_hash, EVENTS.c.seal]
    n = len(CANONICAL_COLUMNS)
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
        rows = conn.execution_options(yield_per=batch).execute(select(*columns).order_by(EVENTS.c.seq))
        for row in rows:
            seq = row[0]
            if seq != expected:
                if seq > expected:
                    problem(expected, "deleted", f"events {expected}..{seq - 1} are missing (deleted)")
                else:  # cannot happen with seq as primary key; kept for imported copies
                    problem(seq, "duplicate", f"event {seq} appears twice")
                expected = seq
            leaf = merkle.leaf_hash(canonical_bytes(row[:n]))
            if leaf != row[n]:
                problem(seq, "edited", f"event {seq} was edited: its content does not match its leaf hash")
            elif not hmac.compare_digest(hmac.digest(mac_key, leaf, "sha256"), row[n + 1]):
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
        head = conn.execute(select(HEAD.c.size, HEAD.c.frontier).where(HEAD.c.id == 1)).first()

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
