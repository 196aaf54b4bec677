"""The array helpers the rules count with (auditor.policy.frames)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from auditor.policy.frames import distinct, run_starts

ints = hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-2**62, 2**62))
few = hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-3, 3))  # many repeats


@given(st.one_of(ints, few))
def test_distinct_is_numpys_unique(values):
    got = distinct(values)
    assert got.dtype == values.dtype and np.array_equal(got, np.unique(values))


@given(few)
def test_a_run_starts_where_a_sorted_value_changes(values):
    ordered = np.sort(values)
    starts = run_starts(ordered)
    assert starts.dtype == bool and len(starts) == len(ordered)
    assert [i for i in range(len(ordered)) if i == 0 or ordered[i] != ordered[i - 1]] == np.flatnonzero(starts).tolist()
