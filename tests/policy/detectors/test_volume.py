"""excessive-volume and bulk-export at their default thresholds (near misses included)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

NURSES = [{"user_id": f"n.{i}", "role": "nurse", "department": "Cardiology"} for i in range(4)]
PATIENTS = [{"patient_id": p} for p in range(1, 41)]


def _day(user, count, day="2026-11-02", action="view", first=1):
    return [{"id": f"{user}-{day}-{p}", "at": f"{day}T10:{p % 60:02d}:00", "user_id": user, "patient_id": p,
             "action": action} for p in range(first, first + count)]


def _volume(found, busy):
    events = _day("n.0", 10) + _day("n.1", 10) + _day("n.2", 10) + _day("n.3", busy, "2026-11-03")
    return found("excessive-volume", workforce=NURSES, patients=PATIENTS, events=events)


def test_30_distinct_patients_at_3_times_the_median_fires(found):
    assert [len(m) for m in _volume(found, 30)] == [30]


def test_29_distinct_patients_does_not(found):
    assert _volume(found, 29) == []


def test_the_median_is_over_the_peer_group_only(found):
    others = [{"user_id": f"b.{i}", "role": "billing", "department": "Cardiology"} for i in range(3)]
    events = _day("n.0", 11) + _day("n.1", 11) + _day("n.2", 31, "2026-11-03")
    events += sum((_day(u["user_id"], 1) for u in others), [])  # billing's small days leave nurses' median
    assert found("excessive-volume", workforce=NURSES + others, patients=PATIENTS, events=events) == []


def test_20_exports_fire_19_do_not(found):
    clerk = [{"user_id": "c.lerk", "role": "registration", "department": "Front Desk"}]
    fires = _day("c.lerk", 20, action="export")
    quiet = _day("c.lerk", 19, "2026-11-03", action="print") + _day("c.lerk", 5, "2026-11-03", first=30)
    got = found("bulk-export", workforce=clerk, patients=PATIENTS, events=fires + quiet)
    assert [len(m) for m in got] == [20]


def test_export_days_are_local_days(found):
    clerk = [{"user_id": "c.lerk", "role": "registration", "department": "Front Desk"}]
    # 10 exports at 23:30 EST on 2026-11-01 (04:30Z on 11-02) and 10 on 11-02 local: two local days
    late = [{"id": f"l{p}", "at": "2026-11-02T04:30:00+00:00", "user_id": "c.lerk", "patient_id": p,
             "action": "export"} for p in range(1, 11)]
    day = [{"id": f"d{p}", "at": "2026-11-02T15:00:00+00:00", "user_id": "c.lerk", "patient_id": p,
            "action": "export"} for p in range(11, 21)]
    kw = {"workforce": clerk, "patients": PATIENTS, "events": late + day}
    assert found("bulk-export", timezone="America/New_York", **kw) == []
    assert [len(m) for m in found("bulk-export", timezone="UTC", **kw)] == [20]


# -- the user-day counts, against pandas' own groupby ---------------------------------------------------
_access = st.tuples(st.sampled_from(["n.0", "n.1", "b.0", None]), st.integers(1, 3),
                    st.sampled_from(["nurse", "billing", None]), st.sampled_from(["cardiology", "him", None]),
                    st.one_of(st.none(), st.integers(1, 6)))


def _accesses(rows) -> pd.DataFrame:
    user, day, role, department, patient = zip(*rows) if rows else ((),) * 5
    return pd.DataFrame({
        "user_id": pd.Series(user, dtype="string"),
        "local_day": pd.Series([pd.Timestamp(2026, 11, d) for d in day], dtype="datetime64[us]"),
        "role": pd.Series(role, dtype="string").astype("category"),
        "department": pd.Series(department, dtype="string").astype("category"),
        "patient_id": pd.Series(patient, dtype="Int64")})


def _by_groupby(a: pd.DataFrame) -> pd.DataFrame:
    keys = a.assign(role=a["role"].astype("string").fillna(""), department=a["department"].astype("string").fillna(""))
    days = keys.groupby(["user_id", "local_day", "role", "department"], dropna=False).agg(
        patients=("patient_id", "nunique")).reset_index()
    days = days[days["patients"] > 0]
    return days.sort_values(["user_id", "local_day", "role", "department"]).reset_index(drop=True)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_access, max_size=40), narrow=st.booleans())
def test_distinct_patients_per_user_day_are_pandas_nunique(rows, narrow):
    from auditor.policy.detectors import volume

    accesses = _accesses(rows)
    groups = (accesses["user_id"].nunique(dropna=False) * accesses["local_day"].nunique()
              * (len(accesses["role"].cat.categories) + 1) * (len(accesses["department"].cat.categories) + 1))
    limit = volume.INT64_LIMIT
    if narrow and groups > 1:  # a hospital too big for one int64 of (user, day, role, department, patient)
        with pytest.raises(ValueError, match="too many users"):
            volume._user_days(accesses, limit=groups)
        limit = groups + 1  # the groups fit, the pairs do not: numbered first
    got = volume._user_days(accesses, limit=limit)
    want = _by_groupby(accesses)
    pd.testing.assert_frame_equal(got[want.columns].astype({"patients": "int64"}), want.astype({"patients": "int64"}),
                                  check_dtype=False)
