"""instant_us (auditor.ingest.formats): every reader's times. The usual UTC time takes a short road
(fromisoformat, then whole-number arithmetic); whatever the text, the answer is the general road's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.ingest.formats import _instant_us, instant_us

ZONES = [ZoneInfo("America/New_York"), ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata")]
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
offsets = st.sampled_from(["Z", "z", "+00:00", "-00:00", "+0000", "-05:00", "+05:30", "", "+14:00", "Z ", " "])
fractions = st.sampled_from(["", ".1", ".123", ".123456", ".1234567", ".", ",5"])
separators = st.sampled_from(["T", " ", "t"])


@settings(max_examples=600, deadline=None)
@given(moments, fractions, offsets, separators, st.sampled_from(ZONES))
def test_every_time_gets_the_general_roads_answer(moment, fraction, offset, separator, zone):
    text = moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + fraction + offset
    assert instant_us(text, zone) == _instant_us(text, zone)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=30), st.none(), st.integers(), st.sampled_from(
    ["2026-11-01T04:00:60Z", "2026-02-29T00:00:00Z", "2026-11-01T24:00:00Z", "2026-11-01", "2026-11-01T04Z",
     "٢٠٢٦-11-01T04:00:00Z", "20261101T040000Z"])), st.sampled_from(ZONES))
def test_anything_else_too(value, zone):
    assert instant_us(value, zone) == _instant_us(value, zone)


def test_the_usual_utc_time_to_the_microsecond():
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    at = datetime(2026, 11, 1, 4, 0, 2, 1, tzinfo=timezone.utc)
    assert instant_us("2026-11-01T04:00:02.000001Z", ZONES[0]) == (at - epoch) // timedelta(microseconds=1)
    assert instant_us("1969-12-31T23:59:59.999999Z", ZONES[0]) == -1
