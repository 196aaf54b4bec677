"""after-hours and terminated-user-access: local wall clock, shifts crossing midnight, DST."""

from __future__ import annotations

import pandas as pd

from auditor.policy.detectors.timing import minutes_outside_shift

DAY = {"user_id": "n.day", "role": "nurse", "department": "Cardiology", "shift_start": "09:00", "shift_end": "17:00"}
NIGHT = {**DAY, "user_id": "n.night", "shift_start": "19:00", "shift_end": "07:00"}
TEAM = [{"patient_id": 1, "user_id": u, "start": "2026-01-01T00:00:00"} for u in ("n.day", "n.night")]


def _ev(eid, at, user="n.day"):
    return {"id": eid, "at": at, "user_id": user, "patient_id": 1}


def test_minutes_outside_shift_around_the_clock():
    minute = pd.Series([8 * 60, 18 * 60, 3 * 60, 18 * 60 + 30, 7 * 60 + 59, 12 * 60], dtype="float64")
    start = pd.Series([540, 540, 1140, 1140, 1140, 1140], dtype="float64")
    end = pd.Series([1020, 1020, 420, 420, 420, 420], dtype="float64")
    assert minutes_outside_shift(minute, start, end).tolist() == [60, 60, 0, 30, 59, 300]


def test_59_minutes_outside_does_not_fire_61_does(found):
    events = [_ev("e59", "2026-11-02T17:59:00"), _ev("e61", "2026-11-03T07:59:00")]
    assert found("after-hours", workforce=[DAY], patients=[{"patient_id": 1}], care_team=TEAM,
                 events=events) == [["e61"]]


def test_night_shift_crossing_midnight(found):
    events = [_ev("in", "2026-11-02T23:30:00", "n.night"), _ev("dawn", "2026-11-03T06:59:00", "n.night"),
              _ev("tol", "2026-11-03T07:59:00", "n.night"), _ev("noon", "2026-11-03T12:00:00", "n.night")]
    assert found("after-hours", workforce=[NIGHT], patients=[{"patient_id": 1}], care_team=TEAM,
                 events=events) == [["noon"]]


def test_dst_end_in_new_york_uses_the_offset_of_the_day(found):
    # 2026-11-01: clocks go back at 02:00 EDT. 12:30Z is 07:30 EST (90 minutes early), not 08:30 EDT;
    # 13:30Z is 08:30 EST, within the tolerance.
    events = [_ev("early", "2026-11-01T12:30:00+00:00"), _ev("ok", "2026-11-01T13:30:00+00:00"),
              _ev("summer", "2026-10-31T12:30:00+00:00")]  # 08:30 EDT the day before: within tolerance
    assert found("after-hours", workforce=[DAY], patients=[{"patient_id": 1}], care_team=TEAM, events=events,
                 timezone="America/New_York") == [["early"]]


def test_termination_is_judged_on_the_local_day(found):
    worker = {**DAY, "shift_start": None, "shift_end": None, "termination_date": "2026-10-31"}
    # 2026-11-01T03:30Z is still 2026-10-31 in New York: the last day of employment
    events = [_ev("last-day", "2026-11-01T03:30:00+00:00"), _ev("after", "2026-11-01T04:30:00+00:00")]
    assert found("terminated-user-access", workforce=[worker], patients=[{"patient_id": 1}], care_team=TEAM,
                 events=events, timezone="America/New_York") == [["after"]]
