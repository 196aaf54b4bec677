"""auditor.policy.findings._event_ids: each finding's event references, in time order and each once,
for the groups in the order the findings are made; held to the plain per-group reading it replaced.
And _iso and _days, held to the pandas Timestamps they replaced."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.policy.findings import _days, _event_ids, _iso

KEYS = ["rule", "user_id", "unit"]

rows = st.lists(st.tuples(st.sampled_from(["after-hours", "vip-access"]), st.sampled_from(["u1", "u2", None]),
                          st.sampled_from([1.0, 2.0, float("nan")]), st.sampled_from([f"E{n}" for n in range(6)])),
                max_size=40)


def _one_group_at_a_time(hits: pd.DataFrame) -> list[list[str]]:
    grouped = hits.groupby(KEYS, sort=False).agg(event_ids=("event_ref", lambda s: list(dict.fromkeys(s))))
    return list(grouped["event_ids"])


@settings(max_examples=200, deadline=None)
@given(rows)
def test_each_groups_events_in_order_and_once_as_read_one_group_at_a_time(values):
    hits = pd.DataFrame(values, columns=[*KEYS, "event_ref"])
    assert _event_ids(hits, KEYS) == _one_group_at_a_time(hits)


def test_a_group_met_again_later_keeps_its_place_and_its_events_order():
    hits = pd.DataFrame([("r", "u1", 1, "E1"), ("r", "u2", 1, "E2"), ("r", "u1", 1, "E3"), ("r", "u1", 1, "E1")],
                        columns=[*KEYS, "event_ref"])
    assert _event_ids(hits, KEYS) == [["E1", "E3"], ["E2"]]


# -- a finding's times and days, written without a pandas Timestamp each (_iso, _days) --------------------
_ZONES = ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)), max_size=20),
       st.sampled_from(_ZONES))
def test_a_findings_times_and_days_read_as_timestamps_wrote_them(moments, zone):
    at = pd.Series(pd.to_datetime(moments, utc=True), dtype="datetime64[us, UTC]").dt.tz_convert(zone)
    assert _iso(at) == [t.isoformat() for t in at]  # the repeated hour of a DST change keeps its offset
    day = at.dt.tz_localize(None).dt.normalize()
    assert _days(day) == [d.strftime("%Y-%m-%d") for d in day]
