"""The parts of a case's timeline that reviews cut and keep with the case (case_timelines).

The review that attaches findings to a member's case has judged every access of its period; it cuts
from those the member's accesses around the findings it attached (auditor.review.timeline) and keeps
them here, one part per review and case. The case page then reads a few rows instead of decoding the
blocks of the log its windows meet.

A part is compressed JSON: the case, the findings it covers (case_findings ids), the span of time the
review judged, and the entries. Its seal is an HMAC-SHA256 (RFC 2104) of its id, its case and the
digest of its body under the log's MAC key, domain-separated from the event and block-header seals.
Someone who can write the database cannot make a part say something else, nor move it to another
case, without the key: the reader raises TamperDetected. Deleting parts hides nothing: a finding no
valid part covers has its windows read from the log, as before this table existed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from auditor.crypto.envelope import new_key_ids
from auditor.errors import TamperDetected
from auditor.vault.gateway.bulk import insert_rows
from auditor.vault.records import CaseTimeline

PART = b"auditor-case-timeline/1\n"
FORMAT = 1
# one entry, as stored: [seq, at_us, action, record_type, purpose, patient_id, break_glass, has_reason,
# explained_by, event_ref]; at_us in microseconds since the epoch (UTC)
ENTRY_FIELDS = ("seq", "at_us", "action", "record_type", "purpose", "patient_id", "break_glass", "has_reason",
                "explained_by", "event_ref")
MAX_STORED = 5_000  # entries kept in one part (its `total` counts them all)


@dataclass(frozen=True)
class Cut:
    """What a review cut from its accesses for some findings of one member."""

    start_us: int  # the span of time the review judged (UTC microseconds, end exclusive)
    end_us: int
    windows: int  # the windows (merged) the entries were cut from
    total: int  # the member's accesses in them (entries holds MAX_STORED at most)
    entries: list[list]  # ENTRY_FIELDS, oldest first


@dataclass(frozen=True)
class TimelinePart:
    id: int
    case_id: int
    finding_ids: frozenset[int]
    computed_at: datetime
    cut: Cut


class AlteredTimeline(TamperDetected):
    """A stored part of a case's timeline that its seal does not vouch for."""


def part_seal(mac_key: bytes, part_id: int, case_id: int, body: bytes) -> bytes:
    message = PART + f"{part_id}\n{case_id}\n".encode("ascii") + hashlib.sha256(body).digest()
    return hmac.new(mac_key, message, hashlib.sha256).digest()


def pack(case_id: int, finding_ids: list[int], cut: Cut) -> bytes:
    doc = {"format": FORMAT, "case": case_id, "findings": sorted(finding_ids), "start_us": cut.start_us,
           "end_us": cut.end_us, "windows": cut.windows, "total": cut.total, "entries": cut.entries}
    # json.loads reads it back (the stdlib's writer took twice as long); zlib's fastest level: half level
    # 6's time for an eighth more bytes (3.0 against 2.7 kB a case at 10M)
    return zlib.compress(orjson.dumps(doc), 1)


def add_parts(session: Session, parts: list[tuple[int, list[int], Cut]], mac_key: bytes, at: datetime) -> list[int]:
    """Keep each (case id, finding ids, cut) as a part of that case's timeline covering those
    findings, in `session`'s transaction (the cases' rows written already); the parts' ids."""
    ids = new_key_ids(len(parts))
    rows = []
    for part_id, (case_id, finding_ids, cut) in zip(ids, parts):
        body = pack(case_id, finding_ids, cut)
        rows.append(dict(id=part_id, case_id=case_id, computed_at=at, body=body,
                         seal=part_seal(mac_key, part_id, case_id, body)))
    insert_rows(session, CaseTimeline, rows)
    return ids


def _altered(case_id: int, part_id: int, what: str) -> AlteredTimeline:
    return AlteredTimeline(f"case {case_id}: stored timeline part {part_id} {what}; it was changed outside the "
                           "auditor (the case's findings still stand: run auditor audit verify)")


def _unpacked(row, case_id: int, mac_key: bytes) -> TimelinePart:
    body = bytes(row.body)
    if not hmac.compare_digest(part_seal(mac_key, row.id, row.case_id, body), bytes(row.seal or b"")):
        raise _altered(case_id, row.id, "does not match its seal")
    doc = json.loads(zlib.decompress(body))
    if doc.get("format") != FORMAT or doc.get("case") != case_id:  # sealed by us: only a bug gets here
        raise _altered(case_id, row.id, "names another case")
    cut = Cut(doc["start_us"], doc["end_us"], doc["windows"], doc["total"], doc["entries"])
    return TimelinePart(row.id, case_id, frozenset(doc["findings"]), row.computed_at, cut)


def case_parts(conn: Connection, case_id: int, mac_key: bytes) -> list[TimelinePart]:
    """The parts of case `case_id`'s timeline, oldest first; AlteredTimeline if any is not as sealed."""
    T = CaseTimeline
    rows = conn.execute(select(T.id, T.case_id, T.computed_at, T.body, T.seal).where(T.case_id == case_id)
                        .order_by(T.computed_at, T.id)).all()
    return [_unpacked(r, case_id, mac_key) for r in rows]


def cases_with_parts(session: Session, case_ids: list[int], chunk: int = 900) -> set[int]:
    """Which of these cases have a part of their timeline kept."""
    found: set[int] = set()
    wanted = sorted(set(case_ids))
    for i in range(0, len(wanted), chunk):
        found.update(session.scalars(select(CaseTimeline.case_id).where(CaseTimeline.case_id.in_(wanted[i : i + chunk]))
                                     .distinct()))
    return found
