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
if json.encoder.c_make_encoder is not None:  # the C encoder, called directly: it runs once per event
    _encode = json.encoder.c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",",
                                          False, False, False)
else:  # pragma: no cover - CPython always has it
    _dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

    def _encode(items: list, _level: int) -> list[str]:
        return [_dumps(items)]


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


@dataclass(frozen=True)
class ImportedEvents:
    """Many events from another system's access log, appended as one block: the bulk form of
    AuditEvent for ingest, where building one object per row would cost more than hashing it.

    `rows` hold the stored values in CANONICAL_COLUMNS order without `seq` (which the log assigns)
    and with the reason in plaintext (sealed when appended, like AuditEvent.reason). `of_columns`
    checks actions and outcomes once for the whole block, as AuditEvent does per event."""

    rows: list[tuple]

    @classmethod
    def of_columns(cls, *, at_us: list[int], source: str, source_event_id: list[str], source_row_hash: list[bytes],
                   user_id: list, role: list, action: list[str], patient_id: list, record_type: list,
                   purpose: list, break_glass: list[bool], reason: list, outcome: list[str],
                   workstation: list) -> "ImportedEvents":
        unknown = set(action) - set(ACTIONS) or set(outcome) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown audit action or outcome {sorted(map(str, unknown))}")
        n = len(at_us)
        none, reason = [None] * n, [r or None for r in reason]  # an empty reason is none, as in AuditEvent
        return cls(list(zip(at_us, [source] * n, source_event_id, source_row_hash, user_id, role, action,
                            patient_id, record_type, none, none, purpose, break_glass, reason, outcome, none,
                            workstation)))

    def __len__(self) -> int:
        return len(self.rows)


def to_microseconds(at: datetime) -> int:
    delta = at.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_microseconds(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc).replace(microsecond=us % 1_000_000)


def canonical_bytes(v: tuple) -> bytes:
    """`v` in CANONICAL_COLUMNS order, as stored (reason already sealed).

    Spelled out column by column because every append and every verify runs it once per event:
    bytes columns (source_row_hash, reason) as lowercase hex, break_glass as a JSON boolean, the rest
    as they are."""
    h, r = v[4], v[14]
    return "".join(_encode([
        CANONICAL_VERSION, v[0], v[1], v[2], v[3], None if h is None else bytes(h).hex(), v[5], v[6], v[7], v[8],
        v[9], v[10], v[11], v[12], bool(v[13]), None if r is None else bytes(r).hex(), v[15], v[16], v[17],
    ], 0)).encode("utf-8")
