"""auditor.policy.findings._event_ids: each finding's event references, in time order and each once,
for the groups in the order the findings are made; held to the plain per-group reading it replaced."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.policy.findings import _event_ids

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
