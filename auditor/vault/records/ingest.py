"""Ingest runs and the quarantine of rows they could not read; the vault's own settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase, UTCDateTime
from auditor.vault.records.sealed import Sealed


class IngestRun(RecordsBase):
    """One `auditor ingest` of an interchange directory: when, from which source, in which time zone."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    time_zone: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str | None] = mapped_column(String(2048))  # JSON counts per file; no values
    quarantine_key_id: Mapped[int | None] = mapped_column(BigInteger)  # data key sealing its quarantined rows


class QuarantinedRow(RecordsBase):
    """An interchange row that could not be read: where it was, why (never its values), and the row
    itself sealed under its ingest run's data key. Unique by where it was and a keyed digest of its
    content, so a rerun of the same files adds nothing."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("source", "file", "line", "row_digest"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(512))
    row_digest: Mapped[int] = mapped_column(BigInteger)  # blind index of the raw row
    raw_row: Mapped[bytes | None] = mapped_column(Sealed)


class VaultSetting(RecordsBase):
    """Small facts about the vault itself (the audit log's data key id, the organisation's time zone)."""

    __tablename__ = "vault_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))
