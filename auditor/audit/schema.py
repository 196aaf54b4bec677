"""Audit event rows and the log head.

Events name patients by internal id only, so shredding a patient never breaks the log. The free-text
reason is sealed under the log's own data key. `leaf_hash` is RFC 6962's SHA-256(0x00 || canonical
bytes); `seal` is an HMAC of the leaf under the keyring's log MAC key, so an edited, inserted or
renumbered row is named exactly even when its leaf hash was recomputed by whoever edited it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase

# A source's event ids compare byte by byte in every database, as Arrow and Python compare them: an
# ingest looks the loaded ids up by one range of them (auditor.vault.gateway.ehr_log), and under a
# PostgreSQL database's language collation ("a1" < "B2", bytes say otherwise) that range would miss
# some (r0008). SQLite compares text byte by byte already.
EVENT_ID = String(128).with_variant(String(128, collation="C"), "postgresql")


class AuditEventRow(RecordsBase):
    __tablename__ = "audit_events"
    # No (user_id, at_us) index since r0006: no query reads by user, and each append paid for it.
    # a member's events in a window of time (the case page's timeline) without a scan of the log (r0016)
    __table_args__ = (UniqueConstraint("source", "source_event_id"), Index("ix_audit_events_user_at", "user_id", "at_us"))

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at_us: Mapped[int] = mapped_column(BigInteger)  # microseconds since the Unix epoch, UTC
    source: Mapped[str] = mapped_column(String(64))  # "vault", or the EHR export's source name
    source_event_id: Mapped[str | None] = mapped_column(EVENT_ID)
    source_row_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    user_id: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    record_type: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[str | None] = mapped_column(String(512))
    purpose: Mapped[str | None] = mapped_column(String(16))
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed free text
    outcome: Mapped[str] = mapped_column(String(16))  # success | denied
    detail: Mapped[str | None] = mapped_column(String(256))  # the gateway's basis for its decision
    workstation: Mapped[str | None] = mapped_column(String(128))
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    seal: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEventBlock(RecordsBase):
    """Imported events (an EHR's access log) stored a block at a time: one row per ingest batch, not
    one per event. Each event is the same as an AuditEventRow would hold (its own sequence number,
    canonical bytes, leaf hash and seal), so the Merkle tree, the checkpoints, the proofs and the
    verifier see no difference; the row only packs them (auditor.audit.blocks). An ingest then writes
    a few rows where it wrote a million, the costliest part of appending ten million events."""

    __tablename__ = "audit_event_blocks"

    first_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    source: Mapped[str] = mapped_column(String(64))
    first_at_us: Mapped[int] = mapped_column(BigInteger)  # the earliest and latest event time in the block
    last_at_us: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[bytes] = mapped_column(LargeBinary)  # the events' stored values, columnar (blocks.encode)
    leaves: Mapped[bytes] = mapped_column(LargeBinary)  # 32 bytes per event, in sequence order
    seals: Mapped[bytes] = mapped_column(LargeBinary)  # 32 bytes per event, in sequence order
    # HMAC of the header above under the log MAC key (auditor.audit.seal.block_header_seal): the engine
    # selects blocks by their span of times, so nobody without the key may move it (r0009)
    header_seal: Mapped[bytes | None] = mapped_column(LargeBinary)

    # the headers alone, without walking the blobs' pages (r0016)
    __table_args__ = (Index("ix_audit_event_blocks_header", "first_seq", "last_seq", "source", "first_at_us",
                            "last_at_us", "header_seal"),)


class ImportedEventKey(RecordsBase):
    """(source, source event id) of every imported event in a block, with its row hash: what makes a
    second ingest of the same export add nothing (the database refuses a second event with one key),
    and what tells a repeated row from a conflicting one. Kept when the event is archived."""

    __tablename__ = "audit_imported_keys"
    __table_args__ = {"sqlite_with_rowid": False}

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_event_id: Mapped[str] = mapped_column(EVENT_ID, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    source_row_hash: Mapped[bytes | None] = mapped_column(LargeBinary)


class LogHead(RecordsBase):
    """One row: the log's size and Merkle frontier, updated in the appending transaction (its lock
    serialises appenders, so sequence numbers have no gap and no duplicate)."""

    __tablename__ = "audit_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class ArchivedLeaf(RecordsBase):
    """An event archived to a file (auditor audit archive): its content is gone from the database, its
    leaf hash and seal stay, so the Merkle tree, the checkpoints and the proofs of later events still
    verify. Written once; the database refuses UPDATE and DELETE (migration r0004)."""

    __tablename__ = "audit_archived_leaves"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    seal: Mapped[bytes] = mapped_column(LargeBinary)


class LogArchive(RecordsBase):
    """One archive file of the log's oldest events (45 CFR 164.530(j): kept six years, then archived)."""

    __tablename__ = "audit_archives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    before_us: Mapped[int] = mapped_column(BigInteger)  # every archived event is older than this
    file_name: Mapped[str] = mapped_column(String(256))
    file_sha256: Mapped[str] = mapped_column(String(64))
    root: Mapped[bytes] = mapped_column(LargeBinary)  # the signed root of the first last_seq events
    created_us: Mapped[int] = mapped_column(BigInteger)
    # Ed25519 over the record (auditor.audit.archive.archive_statement): only the archive transaction,
    # holding the keyring, can vouch that events left the database into a file (r0009)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
