"""What an audit event says, and the canonical bytes it is hashed as.

The canonical form is a UTF-8 JSON array in a fixed field order (no whitespace; bytes as lowercase
hex; the time as integer microseconds since the epoch, UTC). It is what the leaf hash covers, so the
order below is part of the log format: change it only with a new CANONICAL_VERSION.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

CANONICAL_VERSION = "auditor-event/1"
ACTIONS = ("view", "create", "update", "delete", "print", "export", "search", "disclose", "login_failed",
           "destroy", "rewrap", "review")
OUTCOMES = ("success", "denied")

# Column order of the canonical form (after the version tag).
CANONICAL_COLUMNS = ("seq", "at_us", "source", "source_event_id", "source_row_hash", "user_id", "role", "action",
                     "patient_id", "record_type", "record_id", "fields", "purpose", "break_glass", "reason",
                     "outcome", "detail", "workstation")
_BYTES_COLUMNS = {"source_row_hash", "reason"}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


@dataclass(frozen=True)
class AuditEvent:
    """One access (or attempt) to one patient's record, or a security-relevant event without one."""

    at: datetime
    action: str
    user_id: str | None
    outcome: str = "success"
    role: str | None = None
    patient_id: int | None = None
    record_type: str | None = None
    record_id: str | None = None
    fields: tuple[str, ...] = field(default=())
    purpose: str | None = None
    break_glass: bool = False
    reason: str | None = None  # plaintext here; sealed when appended
    detail: str | None = None
    workstation: str | None = None
    source: str = "vault"
    source_event_id: str | None = None
    source_row_hash: bytes | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("audit event times must be timezone-aware")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown audit outcome {self.outcome!r}")


def to_microseconds(at: datetime) -> int:
    delta = at.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_microseconds(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc).replace(microsecond=us % 1_000_000)


def canonical_bytes(values: tuple) -> bytes:
    """`values` in CANONICAL_COLUMNS order, as stored (reason already sealed)."""
    items: list[object] = [CANONICAL_VERSION]
    for name, value in zip(CANONICAL_COLUMNS, values):
        if name in _BYTES_COLUMNS:
            items.append(None if value is None else bytes(value).hex())
        elif name == "break_glass":
            items.append(bool(value))
        else:
            items.append(value)
    return _dumps(items).encode("utf-8")
