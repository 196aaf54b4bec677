"""Helpers for the audit-log tests: reading and rewriting the log behind the auditor's back (as an
attacker with database access would), and workers for the multi-process tests (importable, so that
multiprocessing's 'spawn' can run them)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import delete, func, insert, select, update

from auditor.audit import merkle
from auditor.audit.events import CANONICAL_COLUMNS, canonical_bytes
from auditor.audit.log import EVENTS, HEAD
from auditor.audit.verify import Verification, verify_log

# The instant of the `clock` fixture: the population's encounters are relative to it.
FIXED_NOW = datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc)


def reads(vault, n: int, user: str = "dr.house", tag: str = "ws", pause: float = 0) -> None:
    """`n` chart reads through the gateway; each event names its own workstation, so no two are alike.
    `pause` between reads lets concurrent appenders (which SQLite's busy handler otherwise starves) in."""
    from auditor.vault.gateway import AccessContext

    for i in range(n):
        vault.gateway.read_chart(AccessContext(user, "TREAT", workstation=f"{tag}-{i}"), "MRN-1")
        if pause:
            time.sleep(pause)


# How `verify` runs verify_log; test modules may set it per test (with monkeypatch.setitem).
VERIFY_OPTIONS: dict = {}


def append_batches(vault, batches) -> None:
    """Each batch (AuditEvents and ImportedEvents) appended in its own transaction, as the gateway
    appends, then a checkpoint signed over the whole log."""
    for batch in batches:
        with vault.records.begin() as conn:
            appended = vault.audit_log.append(conn, batch)
        vault.audit_log.after_commit(appended, len(batch))
    with vault.records.connect() as conn:
        vault.audit_log.checkpoint_now(conn)


def verify(vault, *extra: Path) -> Verification:
    return verify_log(vault.records, vault.keyring, [vault.checkpoints.path, *extra], **VERIFY_OPTIONS)


def kinds(result: Verification) -> set[str]:
    return {p.kind for p in result.problems}


def seqs(vault) -> list[int]:
    with vault.records.connect() as conn:
        return list(conn.scalars(select(EVENTS.c.seq).order_by(EVENTS.c.seq)))


def head_size(vault) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(HEAD.c.size).where(HEAD.c.id == 1))


def count(vault) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(EVENTS))


def checkpoint_sizes(vault) -> list[int]:
    checkpoints, _ = vault.checkpoints.read()
    return sorted({cp.size for cp in checkpoints})


def leaf_of(row) -> bytes:
    """The leaf hash of a row (a mapping with the canonical columns), as verify computes it."""
    return merkle.leaf_hash(canonical_bytes(tuple(row[c] for c in CANONICAL_COLUMNS)))


def row(conn, seq: int) -> dict:
    return dict(conn.execute(select(EVENTS).where(EVENTS.c.seq == seq)).mappings().one())


def rows(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(select(EVENTS).order_by(EVENTS.c.seq)).mappings()]


def set_head(conn, size: int) -> None:
    """What a careful attacker does after rewriting the log: a head (size and frontier) that matches it."""
    leaves = list(conn.scalars(select(EVENTS.c.leaf_hash).where(EVENTS.c.seq <= size).order_by(EVENTS.c.seq)))
    frontier = merkle.Frontier()
    frontier.extend(bytes(leaf) for leaf in leaves)
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(size=size, frontier=frontier.to_bytes()))


def shift_up(conn, from_seq: int) -> None:
    """Renumber events from_seq.. to from_seq+1.. (in two steps: the primary key is checked row by row)."""
    conn.execute(update(EVENTS).where(EVENTS.c.seq >= from_seq).values(seq=-EVENTS.c.seq - 1))
    conn.execute(update(EVENTS).where(EVENTS.c.seq < 0).values(seq=-EVENTS.c.seq))


def snapshot(vault) -> tuple[list[dict], dict, bytes]:
    with vault.records.connect() as conn:
        head = dict(conn.execute(select(HEAD)).mappings().one())
        return rows(conn), head, vault.checkpoints.path.read_bytes()


def restore(vault, snap) -> None:
    events, head, checkpoints = snap
    with vault.records.begin() as conn:
        conn.execute(delete(EVENTS))
        conn.execute(insert(EVENTS), events)
        conn.execute(update(HEAD).where(HEAD.c.id == 1).values(size=head["size"], frontier=head["frontier"]))
    vault.checkpoints.path.write_bytes(checkpoints)


# -- multi-process workers -------------------------------------------------------------------------
def read_in_process(home: str, n: int, tag: str, start=None) -> None:
    """Open the vault home in this process (its settings name the database), wait for the others at the
    `start` barrier, and make `n` chart reads."""
    from auditor.clock import FixedClock
    from auditor.home import Vault

    vault = Vault.open(Path(home), clock=FixedClock(FIXED_NOW))
    try:
        if start is not None:
            start.wait(60)
        reads(vault, n, tag=tag, pause=0.003)
    finally:
        vault.close()
