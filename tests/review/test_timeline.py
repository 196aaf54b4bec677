"""The case page's timeline reads only the windows around the case's findings, and only the member's
events and their patients' context, yet marks each access exactly as reading the whole month would:
the same accesses, the same explanation, the same citations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from auditor.cases.settings import CaseSettings
from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.policy.context import build_context
from auditor.policy.frames import load_frames
from auditor.policy.member_frames import merged
from auditor.policy.rules import load_policy
from auditor.review.casework import case_file
from auditor.review.period import month_period, review_period
from auditor.review.timeline import member_timeline, windows_around
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month

DECEMBER_2 = datetime(2026, 12, 2, 14, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    vault = create_home(tmp_path_factory.mktemp("timeline") / "home", clock=FixedClock(DECEMBER_2), scrypt_n=FAST_SCRYPT)
    hospital_month(vault)
    review_period(vault, month_period("2026-11", vault.timezone), load_policy())
    yield vault
    vault.close()


def _whole_month(vault, file, around: timedelta) -> list[tuple]:
    """The reference: the month read whole, explained whole, then the member's accesses in the windows."""
    policy = load_policy()
    month = month_period("2026-11", vault.timezone)
    accesses = build_context(load_frames(vault.records, month, log_key=vault.keyring.log_mac_key),
                             policy.settings).accesses
    mine = accesses[accesses["user_id"] == file.case.user_id]
    inside = pd.Series(False, index=mine.index)
    for start, end in windows_around(file, around):
        inside |= (mine["at"] >= start) & (mine["at"] < end)
    cited = {ref for f in file.findings for ref in f.event_ids}
    return [(int(a.seq), str(a.explained_by) if a.explained else None, a.event_ref in cited)
            for a in mine[inside].sort_values("at", kind="stable").itertuples()]


def test_each_case_timeline_is_the_whole_month_read_in_its_windows(reviewed):
    checked = 0
    for case_id in range(1, 50):
        try:
            file = case_file(reviewed, case_id, CaseSettings())
        except Exception:  # no such case: the month's cases are numbered from 1
            break
        timeline = member_timeline(reviewed, file)
        got = [(e.seq, e.explained_by, e.cited) for e in timeline.entries]
        assert got == _whole_month(reviewed, file, timedelta(hours=1)), file.case.user_id
        assert any(e.cited for e in timeline.entries)  # the findings' own accesses are in their windows
        checked += 1
    assert checked >= 4


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 500)), max_size=12))
def test_merged_windows_cover_the_same_instants_without_overlap(spans):
    base = pd.Timestamp("2026-11-01", tz="UTC")
    windows = [(base + pd.Timedelta(minutes=s), base + pd.Timedelta(minutes=s + n)) for s, n in spans]
    out = merged(windows)
    assert all(a[1] < b[0] for a, b in zip(out, out[1:]))
    for minute in range(0, 10_600, 7):
        t = base + pd.Timedelta(minutes=minute)
        assert any(s <= t < e for s, e in windows) == any(s <= t < e for s, e in out)
