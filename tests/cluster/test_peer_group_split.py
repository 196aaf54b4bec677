"""The plan that judges a large role in parts (auditor.cluster.peer_group_split): its large peer groups
whole, each in one part; the rest of the role (small groups, accounts without a department or a role
in the workforce file, members without accesses) in a part judged after them that hears from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.cluster.local_partitions import judge_by_role, partition_of_each_event
from auditor.cluster.peer_group_split import plan, smallest_group, told_by, told_table
from auditor.policy import engine
from auditor.policy.examples import frames_from_tables
from auditor.policy.peer_groups import PeersElsewhere
from auditor.policy.rules import load_policy
from tests.cluster.test_role_partitions import keyed


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def _ward(department: str, members: int, prefix: str, role: str = "nurse") -> list[dict]:
    return [{"user_id": f"{prefix}{i}", "role": role, "department": department} for i in range(members)]


def _events(users: list[str], each: int = 3, start: int = 0) -> list[dict]:
    return [{"id": f"e{start + n}", "at": f"2026-11-{1 + n % 28:02d}T1{n % 10}:00:00", "user_id": u,
             "patient_id": 1 + (n * 7) % 40, "role": "nurse"}
            for n, u in enumerate(u for u in users for _ in range(each))]


def _frames(workforce: list[dict], events: list[dict]):
    patients = [{"patient_id": p} for p in range(1, 41)]
    return frames_from_tables(workforce=workforce, patients=patients, events=events)


def _parts_of(frames, split) -> dict[str, int]:
    users = frames.events["user_id"].astype(object).to_numpy()
    return {u: int(p) for u, p in zip(users, split.part)}


def test_large_groups_go_whole_into_parts_and_the_rest_after_them(policy):
    wards = _ward("cardiology", 6, "c") + _ward("oncology", 5, "o") + _ward("icu", 2, "i") + _ward("", 6, "n")
    workforce = wards + _ward("pharmacy", 5, "p", role="pharmacist")
    users = [w["user_id"] for w in workforce] + ["ghost"]
    frames = _frames(workforce, _events(users))
    roles = partition_of_each_event(frames)
    split = plan(frames, policy, roles, most_events=20)
    parts = _parts_of(frames, split)
    cardiology, oncology = {parts[f"c{i}"] for i in range(6)}, {parts[f"o{i}"] for i in range(5)}
    assert len(cardiology) == len(oncology) == 1 and cardiology != oncology  # each group whole; 18 + 15 > 20
    rest = {parts[u] for u in ["i0", "i1", *(f"n{i}" for i in range(6)), "ghost"]}  # small, no department, unknown
    assert len(rest) == 1 and split.hears == {rest.pop(): tuple(sorted(cardiology | oncology))}
    assert max(split.hears) > max(cardiology | oncology)  # judged after the parts it hears from
    assert len({parts[f"p{i}"] for i in range(5)}) == 1  # the pharmacists: 15 events, not split
    assert smallest_group(policy) == 5


def test_a_role_under_the_bound_or_without_a_large_group_is_not_split(policy):
    frames = _frames(_ward("cardiology", 4, "c") + _ward("icu", 4, "i"), _events([f"c{i}" for i in range(4)] + ["i0"]))
    roles = partition_of_each_event(frames)
    assert plan(frames, policy, roles, most_events=5).hears == {}  # no group of 5 active users
    assert plan(frames, policy, roles, most_events=100).part.tolist() == roles.tolist()


def test_a_member_with_a_department_but_no_role_keeps_the_role_whole(policy):
    """Their events' roles vary, so their accesses could fall in any department group of the role."""
    workforce = _ward("cardiology", 6, "c") + [{"user_id": "x", "role": None, "department": "cardiology"}]
    frames = _frames(workforce, _events([f"c{i}" for i in range(6)] + ["x"]))
    split = plan(frames, policy, partition_of_each_event(frames), most_events=5)
    assert split.hears == {} and len(set(split.part.tolist())) == 1


def test_members_without_accesses_and_events_of_no_one_stay_where_they_were_counted(policy):
    workforce = _ward("cardiology", 5, "c") + _ward("icu", 1, "i")
    events = _events([f"c{i}" for i in range(5)]) + [{"id": "d1", "at": "2026-11-03T10:00:00", "user_id": "i0",
                                                      "patient_id": 2, "outcome": "denied", "role": "nurse"},
                                                     {"id": "n1", "at": "2026-11-03T10:00:00", "user_id": None,
                                                      "patient_id": 2, "role": "nurse"}]
    frames = _frames(workforce, events)
    split = plan(frames, policy, partition_of_each_event(frames), most_events=5)
    parts = _parts_of(frames, split)
    of_event = dict(zip(frames.events["event_ref"].astype(str), split.part.tolist()))
    assert of_event["n1"] == -1 and parts["i0"] in split.hears  # no one's: apart; denied only: with the rest
    whole = engine.run(frames, policy)
    pd.testing.assert_frame_equal(keyed(judge_by_role(frames, policy, most_events=5)), keyed(whole))
    assert np.isin(split.part, [-1, *split.hears, *split.hears[parts["i0"]]]).all()


@settings(max_examples=60, deadline=None)
@given(shares=st.lists(st.tuples(st.sampled_from(["nurse", "physician", None]), st.floats(0, 1)), max_size=6),
       seen=st.dictionaries(st.sampled_from(['{"minimum": 3}', '{"minimum": 5}']),
                            st.lists(st.tuples(st.sampled_from(["nurse", "clerk"]), st.integers(0, 2**62),
                                               st.floats(0, 1)), max_size=5), max_size=2))
def test_what_a_part_tells_crosses_from_a_task_as_it_was(shares, seen):
    """A cluster's part tells the rest of its role in an Arrow table (told_table): read back, it is what
    was told, value for value (the medians the rest counts are then the local engine's)."""
    told = PeersElsewhere(pd.DataFrame({"role": pd.Series([r for r, _ in shares], dtype="category"),
                                        "share": [s for _, s in shares]}),
                          {k: pd.DataFrame({"role": pd.Series([r for r, _, _ in v], dtype="category"),
                                            "charts": np.array([c for _, c, _ in v], dtype=np.int64),
                                            "share": [s for _, _, s in v]}) for k, v in seen.items()})
    back = told_by(told_table(told))
    assert back.shares["role"].tolist() == told.shares["role"].astype(object).where(told.shares["role"].notna(), None).tolist()
    assert back.shares["share"].tolist() == told.shares["share"].tolist()
    assert sorted(back.seen) == sorted(told.seen)
    for key, users in told.seen.items():
        assert back.seen[key]["role"].tolist() == users["role"].astype(object).tolist()
        assert back.seen[key]["charts"].tolist() == users["charts"].tolist() and back.seen[key]["charts"].dtype == np.int64
        assert back.seen[key]["share"].tolist() == users["share"].tolist()
