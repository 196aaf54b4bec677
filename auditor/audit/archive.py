"""Archiving the log's oldest events to a file, and checking such a file.

45 CFR 164.530(j)(2): the audit trail is documentation kept six years from its creation; after that
its oldest segment may leave the database. An archive holds a consecutive run of events (their
canonical entries, leaf hashes and seals), the Merkle frontier before its first event, and a checkpoint
signed over its last one, so it can be checked on its own with the keyring. The events are removed
from the database only after the whole log verified and the written file was read back and verified;
their leaf hashes and seals stay in `audit_archived_leaves`, so `auditor audit verify`, the signed
checkpoints and the proofs of later events hold as before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, delete, func, insert, select

from auditor import database
from auditor.audit import merkle
from auditor.audit.archive_records import LEAVES, oldest_allowed_cutoff, sign_record
from auditor.audit.checkpoints import Checkpoint
from auditor.audit.blocks import BLOCKS, EVENTS, event_count, stored_events
from auditor.audit.events import CANONICAL_COLUMNS, canonical_bytes, to_microseconds
from auditor.audit.log import AuditLog
from auditor.audit.schema import ArchivedLeaf, LogArchive
from auditor.audit.seal import EventSeal
from auditor.audit.verify import Verification, verify_log
from auditor.crypto.keyring import Keyring
from auditor.errors import InputError, TamperDetected
from auditor.phi_files import write_private

FORMAT = "auditor-audit-archive/1"
ARCHIVED, ARCHIVES = ArchivedLeaf.__table__, LogArchive.__table__


@dataclass(frozen=True)
class ArchiveCheck:
    ok: bool
    message: str
    first_seq: int = 0
    last_seq: int = 0


@dataclass(frozen=True)
class Archived:
    first_seq: int
    last_seq: int
    path: Path
    sha256: str


def _segment(engine: Engine, cutoff_us: int) -> tuple[int, int, merkle.Frontier, list]:
    """(first, last, frontier before first, rows) of the events to archive: after the archived prefix,
    up to the last event before the first one at or after the cutoff (the log stays a prefix)."""
    frontier = merkle.Frontier()
    with engine.connect() as conn:
        database.read_snapshot(conn)
        # the archived leaves (every event archived so far) folded as they are read, LEAVES at a time (a
        # server-side cursor on PostgreSQL, for this statement only): never all of them held at once
        with conn.execute(select(ARCHIVED.c.leaf_hash).order_by(ARCHIVED.c.seq)
                          .execution_options(yield_per=LEAVES)) as prior:
            for part in prior.partitions():
                frontier.extend([bytes(h) for (h,) in part])
        first = frontier.size + 1
        young = [conn.scalar(select(func.min(EVENTS.c.seq)).where(EVENTS.c.seq >= first, EVENTS.c.at_us >= cutoff_us)),
                 # a block leaves whole: one holding any event from the cutoff on stays, with all its events
                 conn.scalar(select(func.min(BLOCKS.c.first_seq)).where(BLOCKS.c.last_seq >= first,
                                                                        BLOCKS.c.last_at_us >= cutoff_us))]
        young = min((s for s in young if s is not None), default=None)
        last = (young - 1) if young is not None else event_count(conn)[1]
        events = list(stored_events(conn, first - 1, last)) if last >= first else []
        if any(e.row is None for e in events):
            raise TamperDetected("a block of the log cannot be read (run: auditor audit verify); nothing archived")
        rows = [(*e.row, e.leaf, e.seal) for e in events]
    return first, last, frontier, rows


def check_archive(path: Path, keyring: Keyring) -> ArchiveCheck:
    """Read an archive back: every entry against its leaf hash and seal, consecutive sequence
    numbers, and the fold from the stored frontier to the root its checkpoint signed."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0])
        if header.get("format") != FORMAT:
            raise ValueError
        checkpoint = Checkpoint.parse(json.dumps(header["checkpoint"]), str(path))
        first, last = int(header["first_seq"]), int(header["last_seq"])
        frontier = merkle.Frontier.from_bytes(first - 1, bytes.fromhex(header["frontier"]))
        records = [json.loads(line) for line in lines[1:]]
    except (OSError, UnicodeDecodeError, IndexError, KeyError, ValueError, TypeError, InputError):
        return ArchiveCheck(False, f"{path}: not an audit log archive (expected what `auditor audit archive` writes)")
    if not checkpoint.verify(keyring.signing_public_key):
        return ArchiveCheck(False, f"{path}: the checkpoint's signature does not verify with this keyring")
    seal = EventSeal(keyring.log_mac_key)
    expected = first
    for record in records:
        try:
            entry = record["entry"].encode("utf-8")
            leaf, seq = merkle.leaf_hash(entry), json.loads(entry)[1]
            sealed = seal.matches(leaf, bytes.fromhex(record["seal"]))
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            return ArchiveCheck(False, f"{path}: event {expected} cannot be read")
        if seq != expected or leaf.hex() != record["leaf_hash"] or not sealed:
            return ArchiveCheck(False, f"{path}: event {expected} is missing, edited or forged")
        frontier.append(leaf)
        expected += 1
    if expected != last + 1 or checkpoint.size != last or frontier.root() != checkpoint.root:
        return ArchiveCheck(False, f"{path}: the events do not fold to the root signed for {checkpoint.size} events")
    return ArchiveCheck(True, f"{path}: events {first}..{last} verified against the checkpoint signed at "
                        f"{checkpoint.at}", first, last)


def _write(path: Path, first: int, last: int, before: date, frontier_before: merkle.Frontier, rows: list,
           checkpoint: Checkpoint) -> None:
    n = len(CANONICAL_COLUMNS)
    header = {"format": FORMAT, "first_seq": first, "last_seq": last, "before": before.isoformat(),
              "frontier": frontier_before.to_bytes().hex(), "checkpoint": json.loads(checkpoint.to_line())}
    lines = [json.dumps(header)] + [json.dumps({"entry": canonical_bytes(tuple(r[:n])).decode("utf-8"),
                                                "leaf_hash": bytes(r[n]).hex(), "seal": bytes(r[n + 1]).hex()})
                                    for r in rows]
    write_private(path, "\n".join(lines) + "\n")


CarryOver = Callable[[list, int], None]


def archive_log(engine: Engine, keyring: Keyring, audit_log: AuditLog, checkpoint_files: list[Path], before: date,
                today: date, out: Path, verify: Callable[..., Verification] = verify_log,
                carry_over: CarryOver | None = None) -> Archived | None:
    """Archive the events older than `before` (UTC midnight) not yet archived; None when there are none.
    `verify` checks the whole vault first (nothing is archived unless it verifies); `carry_over(ledger,
    last)` records again, after the log's end, the rows whose ledger events are about to leave with
    the archived events (auditor.vault.integrity), so the live log still vouches for every row."""
    limit = oldest_allowed_cutoff(today)
    if before > limit:
        raise InputError(f"--before {before.isoformat()} would archive events younger than six years (45 CFR "
                         f"164.530(j)(2)); the latest allowed today is {limit.isoformat()}")
    out = Path(out)
    if out.exists():
        raise InputError(f"{out} exists: an archive is never overwritten")
    checked = verify(engine, keyring, checkpoint_files)
    if not checked.ok:
        raise TamperDetected("the audit log does not verify (run: auditor audit verify); nothing archived")
    cutoff_us = to_microseconds(datetime.combine(before, time(0), tzinfo=timezone.utc))
    first, last, frontier, rows = _segment(engine, cutoff_us)
    if last < first:
        return None
    if carry_over is not None:
        carry_over(checked.ledger, last)
    before_fold = frontier.copy()
    frontier.extend(bytes(r[len(CANONICAL_COLUMNS)]) for r in rows)
    checkpoint = audit_log.checkpoint(last, frontier.root())
    _write(out, first, last, before, before_fold, rows, checkpoint)
    check = check_archive(out, keyring)
    if not check.ok or (check.first_seq, check.last_seq) != (first, last):
        raise TamperDetected(f"the archive written does not verify ({check.message}); nothing was removed")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    n = len(CANONICAL_COLUMNS)
    with engine.begin() as conn:  # the leaves stay, the events go, the archive is recorded: all or nothing
        conn.execute(insert(ARCHIVED), [{"seq": r[0], "leaf_hash": bytes(r[n]), "seal": bytes(r[n + 1])} for r in rows])
        removed = conn.execute(delete(EVENTS).where(EVENTS.c.seq >= first, EVENTS.c.seq <= last)).rowcount
        in_blocks = BLOCKS.c.first_seq >= first, BLOCKS.c.last_seq <= last
        removed += int(conn.scalar(select(func.coalesce(func.sum(BLOCKS.c.last_seq - BLOCKS.c.first_seq + 1), 0))
                                   .where(*in_blocks)))
        conn.execute(delete(BLOCKS).where(*in_blocks))
        if removed != len(rows):
            raise TamperDetected(f"events {first}..{last} changed while they were archived; nothing was removed")
        record = {"first_seq": first, "last_seq": last, "before_us": cutoff_us, "file_name": out.name[:256],
                  "file_sha256": digest, "root": checkpoint.root, "created_us": to_microseconds(audit_log.clock.now())}
        conn.execute(insert(ARCHIVES).values(**record, signature=sign_record(keyring.signing_key, **record)))
    return Archived(first, last, out, digest)
