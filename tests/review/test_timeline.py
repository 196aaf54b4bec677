"""The case page's timeline marks each access exactly as reading the whole month would (the same
accesses, the same explanation, the same citations), whether it comes from the parts the review kept
with the case (r0017) or from the log (only the windows around the case's findings, only the member's
events and their patients' context)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import text
from hypothesis import given, settings, strategies as st

from auditor.audit.events import AuditEvent
from auditor.cases.settings import CaseSettings
from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.policy.context import build_context
from auditor.policy.frames import load_frames
from auditor.policy.member_frames import merged
from auditor.policy.rules import load_policy
from auditor.review.casework import case_file
from auditor.review.period import month_period, review_period
from auditor.review.timeline import _moment_us, _us, _utc, member_timeline, windows_around
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


def _files(vault, n: int = 50):
    for case_id in range(1, n):
        try:
            yield case_file(vault, case_id, CaseSettings())
        except Exception:  # no such case: the month's cases are numbered from 1
            return


@pytest.mark.parametrize("stored", [True, False], ids=["kept parts", "from the log"])
def test_each_case_timeline_is_the_whole_month_read_in_its_windows(reviewed, stored):
    checked = 0
    for file in _files(reviewed):
        timeline = member_timeline(reviewed, file, stored=stored)
        got = [(e.seq, e.explained_by, e.cited) for e in timeline.entries]
        assert got == _whole_month(reviewed, file, timedelta(hours=1)), file.case.user_id
        assert any(e.cited for e in timeline.entries)  # the findings' own accesses are in their windows
        assert (timeline.as_of is not None) == stored  # kept by the review, or read now
        assert (timeline.from_log == 0) == stored
        assert timeline.windows == len(windows_around(file)) and timeline.windows_left_out == 0
        checked += 1
    assert checked >= 4


def _entries(vault, stored: bool) -> dict[int, list]:
    return {f.case.id: member_timeline(vault, f, stored=stored).entries for f in _files(vault)}


def _parts(vault) -> int:
    with vault.records.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM case_timelines")).scalar_one()


def test_a_kept_timeline_shows_every_column_the_log_does(reviewed):
    assert _entries(reviewed, True) == _entries(reviewed, False)


def test_a_second_review_keeps_nothing_twice_and_times_cases_that_had_no_part(reviewed):
    """Reviewing the month again adds no part; a case whose parts are gone (a case reviewed before r0017)
    gets one from the next review of its period."""
    before, month, policy = _parts(reviewed), month_period("2026-11", reviewed.timezone), load_policy()
    shown = _entries(reviewed, True)
    review_period(reviewed, month, policy)
    assert _parts(reviewed) == before
    with reviewed.records.begin() as conn:
        conn.execute(text("DELETE FROM case_timelines WHERE case_id IN (1, 2)"))
    assert _entries(reviewed, True) == shown  # read from the log meanwhile
    review_period(reviewed, month, policy)
    assert _parts(reviewed) == before
    assert _entries(reviewed, True) == shown
    assert all(member_timeline(reviewed, f).as_of is not None for f in _files(reviewed))


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


def test_a_window_over_the_month_s_edge_is_kept_with_what_lies_beyond(tmp_path):
    """A finding an hour from the month's edge: the review keeps the member's accesses on the other side
    of the edge too (read and explained as the page would), so the page reads nothing from the log."""
    vault = create_home(tmp_path / "home", clock=FixedClock(DECEMBER_2), scrypt_n=FAST_SCRYPT)
    try:
        ids = hospital_month(vault)
        tz = vault.timezone
        moments = [datetime(2026, 10, 31, 23, 40, tzinfo=tz), datetime(2026, 11, 1, 0, 10, tzinfo=tz),
                   datetime(2026, 11, 30, 23, 50, tzinfo=tz), datetime(2026, 12, 1, 0, 20, tzinfo=tz)]
        events = [AuditEvent(at=m.astimezone(timezone.utc), action="view", user_id="t.gone", role="nurse",
                             patient_id=ids["P-OK"], source="ehr", source_event_id=f"edge-{n}")
                  for n, m in enumerate(moments)]
        with vault.records.begin() as conn:
            appended = vault.audit_log.append(conn, events)
        vault.audit_log.after_commit(appended, len(events))
        review_period(vault, month_period("2026-11", tz), load_policy())
        file = next(f for f in _files(vault) if f.case.user_id == "t.gone")
        kept, read = member_timeline(vault, file), member_timeline(vault, file, stored=False)
        assert kept.entries == read.entries and kept.from_log == 0 and read.from_log > 0
        shown = {e.at for e in kept.entries}
        assert {moments[0], moments[3]} <= shown  # beyond both edges
    finally:
        vault.close()


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
       st.sampled_from(["UTC", "America/New_York", "Australia/Lord_Howe", None]))
def test_a_findings_time_in_microseconds_is_the_timestamps(moment, zone):
    """A review cuts by _moment_us; the case page's windows by pandas Timestamps: the same instant."""
    at = pd.Timestamp(moment)
    at = at.tz_localize(zone, ambiguous=True, nonexistent="shift_forward") if zone else at
    assert _moment_us(at.isoformat()) == _us(_utc(at.isoformat())) == _moment_us(at)
