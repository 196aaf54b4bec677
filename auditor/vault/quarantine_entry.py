"""A record an ingest could not load, as it goes to quarantine (auditor.vault.gateway.quarantine keeps
it sealed). Its own module, without imports, so a reader's worker process can make one without
loading the database layer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuarantineEntry:
    file: str
    line: int
    reason: str  # never a value from the row
    raw_row: str  # the row as read; sealed before it is stored
