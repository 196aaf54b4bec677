"""A case's timeline: the member's accesses over the case's days (and a day either side), in time
order, each marked when a finding cites it and with the explanation that holds, if one does.

Clear columns only (the time, the action, the record type, the purpose, break-the-glass and whether
a reason is on file): nothing is opened. The page names only the patients the case's findings name
(read as the signed-in reader); any other patient stays "another patient", so that reading the
timeline does not make the office open charts the case does not concern."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from auditor.cases.listing import CaseFile
from auditor.home import Vault
from auditor.policy.context import build_context
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import Policy, load_policy

DAYS_AROUND = 1
MAX_ENTRIES = 500  # a member's accesses over a case's span: beyond this the page says how many are left out


@dataclass(frozen=True)
class TimelineEntry:
    seq: int  # the access's place in the audit log (its reason, if any, is read by that)
    at: datetime  # in the organisation's time zone
    action: str
    record_type: str | None
    purpose: str | None
    patient_id: int | None  # internal: the page names only the patients of the findings
    break_glass: bool
    reason_on_file: bool
    explained_by: str | None
    cited: bool  # a finding of the case cites this access


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    total: int  # the member's accesses in the span (entries may be fewer: MAX_ENTRIES)


def _text(value) -> str | None:
    return value if isinstance(value, str) else None  # a missing category is NaN


def member_timeline(vault: Vault, file: CaseFile, policy: Policy | None = None,
                    days_around: int = DAYS_AROUND, limit: int = MAX_ENTRIES) -> Timeline:
    """The case's member's accesses from `days_around` days before the case's first day to as many
    after its last, oldest first."""
    policy = policy or load_policy()
    tz, case = vault.timezone, file.case
    span = Period(case.first_day - timedelta(days=days_around), case.last_day + timedelta(days=days_around), tz)
    frames = load_frames(vault.records, span, log_key=vault.keyring.log_mac_key)
    accesses = build_context(frames, policy.settings).accesses
    mine = accesses[accesses["user_id"] == case.user_id].sort_values("at", kind="stable")
    cited = {ref for f in file.findings for ref in f.event_ids}
    entries = [TimelineEntry(int(a.seq), a.at.tz_convert(tz).to_pydatetime(), str(a.action), _text(a.record_type),
                             _text(a.purpose), None if a.patient_id != a.patient_id else int(a.patient_id),
                             bool(a.break_glass), bool(a.has_reason),
                             str(a.explained_by) if a.explained else None, a.event_ref in cited)
               for a in mine.head(limit).itertuples()]
    return Timeline(entries, len(mine))
