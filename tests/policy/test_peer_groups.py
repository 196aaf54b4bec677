"""Peer groups and peer deviation (auditor.policy.peer_groups): a user's unexplained accesses against
what their peers' rate would give them, in doublings past what chance gives, 0 to 5; a group too small
compares with the role."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from auditor.policy.peer_groups import (MINIMUM_PEERS, PeersElsewhere, active_users, at_peers_rate, peer_median,
                                        peer_shares, standing, unexplained_deviation)


def _accesses(counts: dict[str, tuple[int, int]], department="Cardiology", role="nurse") -> pd.DataFrame:
    """user -> (accesses, of which unexplained)."""
    rows = [{"user_id": user, "role": role, "department": department, "department_label": department,
             "explained": i >= unexplained}
            for user, (made, unexplained) in counts.items() for i in range(made)]
    return pd.DataFrame(rows)


def _ward(user_counts: tuple[int, int], peers: int = MINIMUM_PEERS, peer_counts=(100, 2)) -> pd.DataFrame:
    return _accesses({"n.x": user_counts, **{f"n.{i}": peer_counts for i in range(peers - 1)}})


def test_at_the_peers_rate_or_by_chance_there_is_no_deviation_and_each_doubling_adds_one():
    # the peers: 2 unexplained in 100 accesses; n.x made 100 too, so 2 would be their rate, and up to
    # 2 + 3 x sqrt(2) + 2 = 8.2 what chance gives
    assert unexplained_deviation(_ward((100, 2)))["n.x"] == 0
    assert unexplained_deviation(_ward((100, 8)))["n.x"] == 0
    assert unexplained_deviation(_ward((100, 9)))["n.x"] == 2  # 4.5 times the rate: two doublings
    assert unexplained_deviation(_ward((100, 16)))["n.x"] == 3
    assert unexplained_deviation(_ward((100, 90)))["n.x"] == 5  # 45 times: at most 5


def test_a_busier_user_is_expected_to_have_more():
    # 2% of 400 is 8; chance reaches 8 + 3 x sqrt(8) + 2 = 18.5
    assert unexplained_deviation(_ward((400, 18)))["n.x"] == 0
    assert unexplained_deviation(_ward((400, 19)))["n.x"] == 1


def test_when_peers_have_none_a_few_unexplained_accesses_are_chance():
    # at least one is expected; chance reaches 1 + 3 + 2 = 6
    assert unexplained_deviation(_ward((100, 6), peer_counts=(100, 0)))["n.x"] == 0
    assert unexplained_deviation(_ward((100, 7), peer_counts=(100, 0)))["n.x"] == 2


def test_a_group_too_small_compares_with_the_role_across_departments():
    small = _accesses({"n.x": (100, 8), "n.y": (100, 8)}, department="Oncology")
    others = _accesses({f"n.{i}": (100, 1) for i in range(MINIMUM_PEERS)})
    found = unexplained_deviation(pd.concat([small, others], ignore_index=True))
    assert found["n.x"] == 3  # the role's median share is 1%: 8 against 1
    alone = unexplained_deviation(_accesses({f"n.{i}": (100, 8) for i in range(MINIMUM_PEERS)}, "Oncology"))
    assert set(alone) == {0}  # among peers of their own who all have 8, none deviates


def test_no_accesses_no_deviation():
    assert unexplained_deviation(_accesses({})).empty


@given(st.integers(1, 300), st.integers(0, 300), st.integers(0, 50))
def test_the_deviation_stays_within_0_and_5_and_never_falls_as_unexplained_accesses_grow(made, unexplained, peer):
    unexplained = min(unexplained, made - 1)
    one = unexplained_deviation(_ward((made, unexplained), peer_counts=(100, peer)))["n.x"]
    more = unexplained_deviation(_ward((made, unexplained + 1), peer_counts=(100, peer)))["n.x"]
    assert 0 <= one <= more <= 5


def test_a_user_is_at_the_peers_rate_when_the_peers_leave_gaps_too_and_the_count_is_within_chance():
    assert at_peers_rate(_ward((100, 2)))["n.x"] and at_peers_rate(_ward((100, 8)))["n.x"]
    assert not at_peers_rate(_ward((100, 9)))["n.x"]  # past what chance gives (8.2)
    assert not at_peers_rate(_ward((100, 1), peer_counts=(100, 0)))["n.x"]  # peers who leave none
    assert at_peers_rate(_accesses({})).empty


def test_without_peers_nobody_is_at_their_rate():
    alone = _accesses({f"n.{i}": (100, 2) for i in range(MINIMUM_PEERS - 1)}, "Oncology", role="physician")
    assert not at_peers_rate(alone).any()


_GROUP = st.tuples(st.sampled_from(["nurse", "physician"]), st.sampled_from(["Cardiology", "Oncology", "ICU", ""]),
                   st.lists(st.tuples(st.integers(1, 40), st.integers(0, 40)), min_size=1, max_size=9))


@settings(max_examples=100, deadline=None)
@given(groups=st.lists(_GROUP, min_size=1, max_size=8), cut=st.integers(0, 2**16))
def test_the_small_groups_judged_apart_stand_as_in_the_whole_when_told_of_the_roles_other_users(groups, cut):
    """What auditor.cluster.peer_group_split rests on: the large groups of a department judged in parts
    of their own, the rest (small groups, no department) stands, and is compared, as in the whole, when
    it hears each other user's role, share and count (PeersElsewhere)."""
    rows = []
    for g, (role, department, users) in enumerate(groups):
        for u, (made, unexplained) in enumerate(users):
            rows += [{"user_id": f"{g}.{u}", "role": role, "department": department, "department_label": department,
                      "explained": i >= min(unexplained, made)} for i in range(made)]
    accesses = pd.DataFrame(rows)
    _, users = active_users(accesses, MINIMUM_PEERS)
    size = users.groupby(["role", "department"])["user"].transform("size")
    large = users.loc[(size >= MINIMUM_PEERS) & (users["department"] != ""), ["role", "department"]].drop_duplicates()
    bins = np.random.default_rng(cut).integers(0, 3, size=len(large))  # the large groups, whole, in up to 3 parts
    part = users[["role", "department"]].merge(large.assign(part=bins), how="left")["part"].fillna(-1).to_numpy()
    of = dict(zip(users["user_id"], part))
    where = accesses["user_id"].map(of).to_numpy()
    whole = standing(accesses)
    told = [peer_shares(accesses[where == b]) for b in range(3) if (where == b).any()]
    assert not any(t["fallback"].any() for t in told)  # a large group is never a fallback one
    rest = accesses[where == -1]
    if not len(rest):
        return
    elsewhere = PeersElsewhere(pd.concat(told, ignore_index=True)[["role", "share"]] if told else PeersElsewhere().shares)
    apart = standing(rest, elsewhere)
    at = whole.ids.get_indexer(apart.ids)
    for name in ("unexplained", "expected", "chance", "median", "peers"):
        np.testing.assert_array_equal(getattr(apart, name), getattr(whole, name)[at], err_msg=name)
    # unusual-access's medians, as its detector takes them
    _, rest_users = active_users(rest, MINIMUM_PEERS)
    _, all_users = active_users(accesses, MINIMUM_PEERS)
    for table in (rest_users, all_users):
        table["charts"] = table["user_id"].map(lambda u: int(u.split(".")[1]) % 4)
    outside = all_users[~all_users["user_id"].isin(rest_users["user_id"])][["role", "charts"]]
    got = peer_median(rest_users, "charts", outside).set_axis(rest_users["user_id"])
    want = peer_median(all_users, "charts").set_axis(all_users["user_id"])
    pd.testing.assert_series_equal(got, want.loc[got.index], check_names=False)
