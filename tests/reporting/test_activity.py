"""The period's events counted by local day, source and outcome, as a plain count of the rows says."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.policy.typed_frames import OUTCOME_TYPE
from auditor.reporting.activity import event_counts

DAYS = pd.date_range("2026-10-31", "2026-11-03").tolist()
SOURCES = ["ehr", "vault", "pacs", None]  # a source missing from a row edited behind the gateway
OUTCOMES = ["success", "denied", None]

rows = st.lists(st.tuples(st.sampled_from(DAYS), st.sampled_from(SOURCES), st.sampled_from(OUTCOMES), st.booleans()),
                max_size=60)


def _events(drawn, categorical: bool) -> pd.DataFrame:
    day, source, outcome, inside = (list(column) for column in zip(*drawn)) if drawn else ([], [], [], [])
    source = pd.Series(source, dtype="category" if categorical else "string")
    return pd.DataFrame({"local_day": pd.Series(day, dtype="datetime64[ns]"), "source": source,
                         "outcome": pd.Series(outcome, dtype=OUTCOME_TYPE if categorical else "string"),
                         "in_period": np.asarray(inside, dtype=bool), "seq": np.arange(len(drawn))})


@settings(max_examples=120, deadline=None)
@given(rows, st.booleans())
def test_the_counts_are_the_rows_counted(drawn, categorical):
    counted = event_counts(_events(drawn, categorical))
    expected = Counter((d.date(), s if s is not None else "(none)", o if o is not None else "(none)")
                       for d, s, o, inside in drawn if inside)
    got = list(zip(counted["day"], counted["source"], counted["outcome"], counted["count"]))
    assert got == sorted((*key, n) for key, n in expected.items())
    assert list(counted.columns) == ["day", "source", "outcome", "count"] and counted["count"].dtype == "int64"
