"""Appending to the tamper-evident log, in the caller's transaction.

The head row is locked first (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions already hold
the write lock), so concurrent appenders take consecutive sequence numbers and a rolled-back
transaction gives its numbers back: no gap, no duplicate. The new Merkle frontier is written in the
same transaction. After commit, `after_commit` signs a checkpoint each time the log crosses a
multiple of `checkpoint_every`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from hashlib import sha256
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Dialect, insert, select, update

from auditor.audit import blocks, merkle
from auditor.audit.blocks import BLOCKS, EVENTS
from auditor.audit.canonical_columns import leaf_inputs
from auditor.audit.checkpoints import Checkpoint, CheckpointFile, sign
from auditor.audit.events import (AuditEvent, CANONICAL_COLUMNS, ImportedEvents, canonical_bytes, stored_fields,
                                  to_microseconds)
from auditor.audit.schema import ImportedEventKey, LogHead
from auditor.audit.seal import EventSeal, block_header_seal
from auditor.clock import Clock, SystemClock
from auditor.crypto.envelope import Envelope
from auditor.crypto.keyring import Keyring
from auditor.errors import TamperDetected

HEAD, KEYS = LogHead.__table__, ImportedEventKey.__table__
DEFAULT_CHECKPOINT_EVERY = 1000
BLOCK_EVENTS = 50_000  # imported events per stored block (what a verifier or the engine decodes at once)


_STORED_COLUMNS = (*CANONICAL_COLUMNS, "leaf_hash", "seal")
_KEY_COLUMNS = ("source", "source_event_id", "seq", "source_row_hash")


def _insert_sql(table, columns: tuple[str, ...], paramstyle: str) -> str:
    """A plain INSERT for DB-API executemany of tuples (no per-row parameter processing)."""
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[paramstyle]
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


@dataclass(frozen=True)
class KeyCopy:
    """A block's key rows for PostgreSQL, written by binary COPY: the one INSERT of `unnest` over two
    arrays that psycopg builds in Python took three to four times as long (50,000 rows: about 0.3 s
    against 0.09 s), and on PostgreSQL the writer waits on it once a block."""

    rows: list[tuple]

    def write(self, conn: Connection) -> None:
        from auditor.vault.gateway.bulk import copying  # the vault's writer: imported where it is used

        with copying(conn, f"COPY {KEYS.name} ({', '.join(_KEY_COLUMNS)}) FROM STDIN (FORMAT BINARY)",
                     ["varchar", "varchar", "int8", "bytea"]) as copy:
            for row in self.rows:
                copy.write_row(row)


def _key_rows(dialect: Dialect, source: str, first_seq: int, event_ids: pa.Array,
              row_hashes: pa.Array) -> tuple[str, object] | KeyCopy:
    """What writes the key rows of a block's events (the i-th event has sequence number first_seq + i):
    on PostgreSQL through psycopg a KeyCopy; on SQLite one statement that unpacks the ids and hashes in
    the database (json_each), not one bound row per event; any other database, or a missing row hash,
    gets executemany of a list of rows."""
    ids, hashes = event_ids.to_pylist(), row_hashes.to_pylist()
    if (dialect.name == "sqlite" and row_hashes.null_count == 0
            and all(len(h) == blocks.HASH for h in hashes)):
        return (f"INSERT INTO {KEYS.name} ({', '.join(_KEY_COLUMNS)}) SELECT ?, value, ? + key, "
                f"substr(?, key * {blocks.HASH} + 1, {blocks.HASH}) FROM json_each(?)",
                (source, first_seq, b"".join(hashes), json.dumps(ids, ensure_ascii=False)))
    rows = [(source, eid, first_seq + i, h) for i, (eid, h) in enumerate(zip(ids, hashes))]
    return KeyCopy(rows) if dialect.driver == "psycopg" else (_insert_sql(KEYS, _KEY_COLUMNS, dialect.paramstyle), rows)


@dataclass(frozen=True)
class PreparedBlocks:
    """A block of imported events hashed, sealed and packed before its transaction, for a log that
    holds `size` events: `append` takes it only if the log still holds exactly that many when it
    locks the head (the Merkle subtrees depend on the size alone), and hashes the events again
    otherwise. So a writer can pack the next block while the last one commits."""

    events: ImportedEvents
    size: int
    dialect: str  # the name of the database's dialect its key statements are written for
    blocks: tuple[dict, ...]  # audit_event_blocks rows
    keys: tuple[tuple[str, object] | KeyCopy | None, ...]  # each block's key rows: statement and parameters,
    # or a COPY (None: keyless)
    subtrees: tuple[tuple[bytes, int], ...]


@dataclass(frozen=True)
class Appended:
    first_seq: int
    size: int
    root: bytes


class AuditLog:
    def __init__(
        self,
        keyring: Keyring,
        envelope: Envelope,
        log_key_id: int,
        checkpoints: CheckpointFile,
        clock: Clock | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        self.keyring = keyring
        self.envelope = envelope
        self.log_key_id = log_key_id
        self.checkpoints = checkpoints
        self.clock = clock or SystemClock()
        self.checkpoint_every = checkpoint_every
        self._seal = EventSeal(keyring.log_mac_key)
        self._rollback_checked = False
        self._known_size = 0  # the largest size this process saw committed or signed: the log never shrinks
        self._appended_size = 0  # the log's size after this process's latest commit
        self._signed_size = 0  # the largest size this process signed a checkpoint for

    @staticmethod
    def initialise(conn: Connection) -> None:
        conn.execute(insert(HEAD).values(id=1, size=0, frontier=b""))

    def append(self, conn: Connection, events: Sequence[AuditEvent | ImportedEvents],
               prepared: PreparedBlocks | None = None) -> Appended:
        """Write `events` (each an AuditEvent or a block of ImportedEvents) in the transaction `conn` is
        in; a block in `prepared` (see `prepare`) is not hashed again if the log's size is still the
        one it was prepared for. Raises on any failure; the caller rolls back."""
        head = conn.execute(select(HEAD.c.size, HEAD.c.frontier).where(HEAD.c.id == 1).with_for_update()).one()
        if not self._rollback_checked:
            self._check_not_rolled_back(head.size)
        elif head.size < self._known_size:
            raise TamperDetected(
                f"the audit log holds {head.size} events but this process saw {self._known_size}: it was "
                f"truncated or rolled back after sequence number {head.size}; run: auditor audit verify"
            )
        frontier = merkle.Frontier.from_bytes(head.size, head.frontier)
        first = head.size + 1
        rows: list[tuple] = []
        packed: list[PreparedBlocks] = []
        seal, leaf_hash, canonical = self._seal, merkle.leaf_hash, canonical_bytes
        seq = first
        for event in events:
            if isinstance(event, ImportedEvents):
                ready = prepared
                if (ready is None or ready.events is not event or ready.size != seq - 1
                        or ready.dialect != conn.dialect.name):
                    ready = self.prepare(event, seq - 1, conn.dialect)
                frontier.join(ready.subtrees)
                packed.append(ready)
                seq += len(event)
                continue
            values = self._values(seq, event)
            leaf = leaf_hash(canonical(values))
            frontier.append(leaf)
            rows.append((*values, leaf, seal(leaf)))
            seq += 1
        for ready in packed:
            for block, key_rows in zip(ready.blocks, ready.keys):
                conn.execute(insert(BLOCKS), block)
                if isinstance(key_rows, KeyCopy):
                    key_rows.write(conn)
                elif key_rows is not None:
                    conn.exec_driver_sql(*key_rows)
        if rows:
            # The hot path of every audited access: plain DB-API executemany of tuples (no per-row
            # parameter processing); the columns are the canonical ones, then leaf_hash and seal.
            conn.exec_driver_sql(_insert_sql(EVENTS, _STORED_COLUMNS, conn.dialect.paramstyle), rows)
        if seq != first:
            conn.execute(update(HEAD).where(HEAD.c.id == 1).values(size=frontier.size, frontier=frontier.to_bytes()))
        return Appended(first, frontier.size, frontier.root())

    def prepare(self, events: ImportedEvents, size: int, dialect: Dialect) -> PreparedBlocks:
        """The stored blocks of `events` as the next events of a log of `size` events, on a database
        of `dialect`. Needs no database: it may run before the transaction, even beside another
        thread's commit (the envelope's counters are thread-safe)."""
        packed, keys, roots, seq = [], [], [], size + 1
        for start in range(0, len(events), BLOCK_EVENTS):
            block, leaves = self._block(seq, events.table.slice(start, BLOCK_EVENTS))
            source, n = block["source"], len(leaves)
            ids, hashes = (events.table[name].slice(start, n).combine_chunks()
                           for name in ("source_event_id", "source_row_hash"))
            if ids.null_count < n:  # events of another system: each keyed by its own id
                keys.append(_key_rows(dialect, source, seq, ids, hashes))
            else:  # the vault's own (the ledger of rows it wrote): no outside id to key
                keys.append(None)
            roots += merkle.subtrees(seq - 1, leaves)
            packed.append(block)
            seq += n
        return PreparedBlocks(events, size, dialect.name, tuple(packed), tuple(keys), tuple(roots))

    def _block(self, seq: int, imported: pa.Table) -> tuple[dict, list[bytes]]:
        """The stored block of imported events from `seq` on (each event with the same values, leaf and
        seal as one AuditEvent would give, its canonical bytes built column by column), and its leaf
        hashes."""
        n = imported.num_rows
        source, event_ids = imported["source"], imported["source_event_id"]
        if event_ids.null_count not in (0, n) or len(pc.unique(source)) != 1:
            raise ValueError("a block of events needs one source, and an event id for each or for none")
        seqs = np.arange(seq, seq + n, dtype=np.int64)
        reasons = imported["reason"]
        sealed: list = [None] * n
        if reasons.null_count < n:  # each reason sealed under the log key, bound to its sequence number
            texts = reasons.to_pylist()
            log_key, seal_reason = self.log_key_id, self.envelope.seal
            for i in np.flatnonzero(reasons.is_valid().to_numpy(zero_copy_only=False)).tolist():
                sealed[i] = seal_reason(log_key, "audit_events", "reason", seq + i, texts[i])
        columns = {"seq": pa.array(seqs), **{name: imported[name] for name in imported.column_names},
                   "reason": pa.array(sealed, pa.binary())}
        stored = pa.table([columns[f.name] for f in blocks.SCHEMA], schema=blocks.SCHEMA)
        digest, seal = sha256, self._seal
        leaves = [digest(data).digest() for data in leaf_inputs(stored)]
        seals = [seal(leaf) for leaf in leaves]
        span = pc.min_max(imported["at_us"]).as_py()
        header = {"first_seq": seq, "last_seq": seq + n - 1, "source": source[0].as_py(), "first_at_us": span["min"],
                  "last_at_us": span["max"]}
        return {**header, "events": blocks.encode_table(stored), "leaves": b"".join(leaves), "seals": b"".join(seals),
                "header_seal": block_header_seal(self.keyring.log_mac_key, **header)}, leaves

    def _values(self, seq: int, e: AuditEvent) -> tuple:
        """The event's stored values in CANONICAL_COLUMNS order (the reason sealed under the log key)."""
        reason = (
            self.envelope.seal(self.log_key_id, "audit_events", "reason", seq, e.reason) if e.reason else None
        )
        return (seq, to_microseconds(e.at), e.source, e.source_event_id, e.source_row_hash, e.user_id, e.role,
                e.action, e.patient_id, e.record_type, e.record_id, stored_fields(e.fields), e.purpose,
                bool(e.break_glass), reason, e.outcome, e.detail, e.workstation)

    def _check_not_rolled_back(self, size: int) -> None:
        """Refuse to append to a log shorter than its latest signed checkpoint (a restored or truncated
        database): appending would fork the history the checkpoints vouch for."""
        latest = self.checkpoints.latest_signed(self.keyring.signing_public_key)  # never a forged line's size
        if latest is not None and latest.size > size:
            raise TamperDetected(
                f"the audit log holds {size} events but checkpoint {latest.origin} signed {latest.size}: "
                f"it was truncated or rolled back after sequence number {size}; run: auditor audit verify"
            )
        self._known_size = max(self._known_size, size)
        self._rollback_checked = True

    def after_commit(self, appended: Appended, count: int) -> Checkpoint | None:
        """Sign a checkpoint if the commit crossed a multiple of `checkpoint_every`. The events are
        counted from `appended` (`count`, the caller's item count, undercounts a block of ImportedEvents)."""
        self._known_size = max(self._known_size, appended.size)
        self._appended_size = max(self._appended_size, appended.size)
        every = self.checkpoint_every
        count = appended.size - appended.first_seq + 1
        if every and count and (appended.size // every) > ((appended.size - count) // every):
            return self.checkpoint(appended.size, appended.root)
        return None

    def checkpoint(self, size: int, root: bytes) -> Checkpoint:
        cp = sign(size, root, self.clock.now(), self.keyring.signing_key, self.keyring.signing_public_key)
        self.checkpoints.append(cp)
        self._known_size = max(self._known_size, size)
        self._signed_size = max(self._signed_size, size)
        return cp

    @property
    def unsigned_tail(self) -> bool:
        """This process appended events that no checkpoint it signed covers yet."""
        return self._appended_size > self._signed_size

    def sign_tail(self, conn: Connection) -> Checkpoint | None:
        """A checkpoint of the log as it is now, if this process appended since its last one: every
        command that appends ends with one, so nothing it wrote can be cut off unseen afterwards."""
        if not self.unsigned_tail:
            return None
        return self.checkpoint_now(conn)

    @staticmethod
    def size(conn: Connection) -> int:
        """How many events the log holds (its head; nothing locked)."""
        return conn.scalar(select(HEAD.c.size).where(HEAD.c.id == 1))

    def checkpoint_now(self, conn: Connection) -> Checkpoint:
        head = conn.execute(select(HEAD.c.size, HEAD.c.frontier).where(HEAD.c.id == 1)).one()
        return self.checkpoint(head.size, merkle.Frontier.from_bytes(head.size, head.frontier).root())
