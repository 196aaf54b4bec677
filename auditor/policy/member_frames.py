"""One member's accesses in a few short windows of time, with what explains them: the case page's
timeline. Reading the case's whole month to show one member's accesses around a finding would decode
every block of the month and explain every access of the hospital (half a minute at 10 million events
a month); here only the blocks the windows meet are decoded, only the member's events are kept, and
only the encounters, care teams and patients of the patients those events name are read."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from auditor.audit import blocks
from auditor.database import read_snapshot
from auditor.policy.frames import (Frames, Period, care_activity, concat_events, empty_events, frame_statements,
                                   microseconds, read_block_events, read_events_frame, read_frame, typed_care_team,
                                   typed_case_patients, typed_encounters, typed_events, typed_patients,
                                   typed_workforce)

Window = tuple[pd.Timestamp, pd.Timestamp]  # UTC, end exclusive


def merged(windows: list[Window]) -> list[Window]:
    """Overlapping or touching windows as one, in time order."""
    out: list[Window] = []
    for start, end in sorted(windows):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _within(at: pd.Series, windows: list[Window]) -> pd.Series:
    inside = pd.Series(False, index=at.index)
    for start, end in windows:
        inside |= (at >= start) & (at < end)
    return inside


MAX_NAMED_PATIENTS = 5_000  # beyond this, the context of every patient is read rather than a list of them


def load_member_frames(records: Engine, user_id: str | None, windows: list[Window], period: Period,
                       explanation_reach: timedelta = timedelta(days=90), log_key: bytes | None = None) -> Frames:
    """`user_id`'s events (None: everyone's) within `windows` (inside `period`, the frames' period) and
    the context of the patients they name, in one read transaction."""
    windows = merged(windows)
    if not windows:
        raise ValueError("a member's frames need at least one window of time")
    reading = blocks.BlockReading([])
    with records.connect() as conn:
        read_snapshot(conn)
        # the member's rows over the windows' days, by the index of user and time (r0016), then the windows
        days = Period(windows[0][0].tz_convert(period.tz).date(), windows[-1][1].tz_convert(period.tz).date(), period.tz)
        chunks = [c[_within(c["at"], windows)] for c in
                  read_events_frame(conn, frame_statements(days, timedelta(0), explanation_reach, None, user_id)["events"])
                  if len(c)]
        chunks += read_block_events(conn, [(microseconds(s), microseconds(e)) for s, e in windows], None, log_key, reading, user_id=user_id)
        events = concat_events([c for c in chunks if len(c)]) if any(len(c) for c in chunks) \
            else typed_events(empty_events())
        events = events.take(np.argsort(events["seq"].to_numpy(), kind="stable")).reset_index(drop=True)
        events = events.drop_duplicates("seq").reset_index(drop=True)
        patients = frozenset(int(p) for p in events["patient_id"].dropna().unique())
        statements = frame_statements(period, timedelta(0), explanation_reach,
                                 patients if len(patients) <= MAX_NAMED_PATIENTS else None)
        raw = {name: read_frame(conn, stmt) for name, stmt in statements.items() if name != "events"}
    unsealed = reading.unsealed if log_key is not None else []
    return Frames(events, typed_workforce(raw["workforce"]), typed_patients(raw["patients"]),
                  typed_encounters(raw["encounters"]), typed_care_team(raw["care_team"]), period, unsealed,
                  typed_case_patients(raw["case_patients"]), **care_activity(raw))
