"""What an audit event says, and the canonical bytes it is hashed as.

The canonical form is a UTF-8 JSON array in a fixed field order (no whitespace; bytes as lowercase
hex; the time as integer microseconds since the epoch, UTC). It is what the leaf hash covers, so the
order below is part of the log format: change it only with a new CANONICAL_VERSION.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

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


_STRING, _BINARY, _INT = pa.string(), pa.binary(), pa.int64()
# The stored values' types, CANONICAL_COLUMNS order (auditor.audit.blocks keeps them so).
STORED_TYPES = {"seq": _INT, "at_us": _INT, "source": _STRING, "source_event_id": _STRING,
                "source_row_hash": _BINARY, "user_id": _STRING, "role": _STRING, "action": _STRING,
                "patient_id": _INT, "record_type": _STRING, "record_id": _STRING, "fields": _STRING,
                "purpose": _STRING, "break_glass": pa.bool_(), "reason": _BINARY, "outcome": _STRING,
                "detail": _STRING, "workstation": _STRING}
assert tuple(STORED_TYPES) == CANONICAL_COLUMNS
IMPORTED_SCHEMA = pa.schema([(name, _STRING if name == "reason" else kind)  # the reason still plaintext
                             for name, kind in STORED_TYPES.items() if name != "seq"])


@dataclass(frozen=True)
class ImportedEvents:
    """Many events appended as one block: the bulk form of AuditEvent, for another system's access
    log at ingest (where building one object per row would cost more than hashing it) and for the
    vault's own batches (its ledger's row events, a desk's many reads: auditor.vault.gateway.recording).

    `table` holds the stored values column by column (IMPORTED_SCHEMA: CANONICAL_COLUMNS without
    `seq`, which the log assigns, and with the reason in plaintext, sealed when appended like
    AuditEvent.reason). `of_columns` checks actions and outcomes once for the whole block, as
    AuditEvent does per event."""

    table: pa.Table

    @classmethod
    def of_columns(cls, *, at_us, source: str, source_event_id, source_row_hash, user_id, role, action,
                   patient_id, record_type, purpose, break_glass, reason, outcome, workstation,
                   record_id=None, fields=None, detail=None) -> "ImportedEvents":
        """Each argument but `source` a sequence (list, pandas Series or Arrow array) of one value per
        event (`record_id`, `fields` as stored: comma-joined, and `detail`: optional)."""
        n = len(at_us)
        given = {"at_us": at_us, "source": [source] * n, "source_event_id": source_event_id,
                 "source_row_hash": source_row_hash, "user_id": user_id, "role": role, "action": action,
                 "patient_id": patient_id, "record_type": record_type, "purpose": purpose,
                 "break_glass": break_glass, "reason": reason, "outcome": outcome, "workstation": workstation}
        for name, column in (("record_id", record_id), ("fields", fields), ("detail", detail)):
            if column is not None:
                given[name] = column
        columns = [_column(given[f.name], f.type) if f.name in given else pa.nulls(n, f.type) for f in IMPORTED_SCHEMA]
        table = pa.table(columns, schema=IMPORTED_SCHEMA)
        unknown = (set(pc.unique(table["action"]).to_pylist()) - set(ACTIONS)
                   or set(pc.unique(table["outcome"]).to_pylist()) - set(OUTCOMES))
        if unknown or table["break_glass"].null_count:
            raise ValueError(f"unknown audit action or outcome {sorted(map(str, unknown))}")
        empty = pc.fill_null(pc.equal(table["reason"], ""), False)  # an empty reason is none, as in AuditEvent
        if pc.any(empty).as_py():
            at = IMPORTED_SCHEMA.get_field_index("reason")
            table = table.set_column(at, "reason", pc.if_else(empty, pa.scalar(None, _STRING), table["reason"]))
        return cls(table)

    def __len__(self) -> int:
        return self.table.num_rows


def _column(values, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == kind else values.cast(kind)
    return pa.array(values, kind, from_pandas=True)


def to_microseconds(at: datetime) -> int:
    """`at` in microseconds since the epoch, UTC (a naive time is the machine's local time, as astimezone
    reads it). An aware time is subtracted from the epoch directly: the difference of two aware times
    is exact whatever their zones, and converting it first took three quarters of the time."""
    if at.utcoffset() is None:
        at = at.astimezone(timezone.utc)
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def stored_fields(fields: tuple[str, ...]) -> str | None:
    """An event's fields as the log stores them: comma-separated, None for none."""
    return ",".join(fields) or None


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
