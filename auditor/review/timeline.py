"""A case's timeline: the member's accesses around the case's findings (an hour either side of each
finding's first and last access), in time order, each marked when a finding cites it and with the
explanation that holds, if one does. Only those windows of the log are read (auditor.policy.
member_frames): a case page at 10 million events a month reads a few blocks, not the month.

Clear columns only (the time, the action, the record type, the purpose, break-the-glass and whether
a reason is on file): nothing is opened. The page names only the patients the case's findings name
(read as the signed-in reader); any other patient stays "another patient", so that reading the
timeline does not make the office open charts the case does not concern."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from auditor.cases.listing import CaseFile
from auditor.home import Vault
import pandas as pd

from auditor.policy.context import build_context
from auditor.policy.frames import Period
from auditor.policy.member_frames import load_member_frames
from auditor.policy.rules import Policy, load_policy

AROUND = timedelta(hours=1)  # either side of a finding's first and of its last access
MAX_WINDOWS = 40  # the earliest findings' windows (a case of many findings: the page says how many are left out)
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
    total: int  # the member's accesses in the windows (entries may be fewer: MAX_ENTRIES)
    windows: int = 0  # the windows read (MAX_WINDOWS at most)
    windows_left_out: int = 0


def _text(value) -> str | None:
    return value if isinstance(value, str) else None  # a missing category is NaN


def windows_around(file: CaseFile, around: timedelta = AROUND) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """An hour either side of each finding's first access and of its last (UTC)."""
    out = []
    for f in file.findings:
        for moment in {f.first_at, f.last_at}:
            at = pd.Timestamp(moment)
            at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
            out.append((at - around, at + around))
    return sorted(out)


def member_timeline(vault: Vault, file: CaseFile, policy: Policy | None = None,
                    around: timedelta = AROUND, limit: int = MAX_ENTRIES) -> Timeline:
    """The case's member's accesses within `around` of each finding's first and last access, oldest first."""
    policy = policy or load_policy()
    tz, case = vault.timezone, file.case
    windows = windows_around(file, around)
    if not windows:
        return Timeline([], 0)
    kept = windows[: 2 * MAX_WINDOWS]
    span = Period(kept[0][0].tz_convert(tz).date(), kept[-1][1].tz_convert(tz).date(), tz)
    frames = load_member_frames(vault.records, case.user_id, kept, span, log_key=vault.keyring.log_mac_key)
    accesses = build_context(frames, policy.settings).accesses
    mine = accesses[accesses["user_id"] == case.user_id].sort_values("at", kind="stable")
    cited = {ref for f in file.findings for ref in f.event_ids}
    entries = [TimelineEntry(int(a.seq), a.at.tz_convert(tz).to_pydatetime(), str(a.action), _text(a.record_type),
                             _text(a.purpose), None if a.patient_id != a.patient_id else int(a.patient_id),
                             bool(a.break_glass), bool(a.has_reason),
                             str(a.explained_by) if a.explained else None, a.event_ref in cited)
               for a in mine.head(limit).itertuples()]
    return Timeline(entries, len(mine), len(kept), len(windows) - len(kept))
