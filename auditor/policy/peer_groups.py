"""Peer groups: the users of one role and department active in the period (the role alone when too few
share both), and where a user stands against their peers' median. Used by unusual-access
(auditor.policy.detectors.peers) and by the risk score's peer deviation (auditor.policy.findings).

45 CFR 164.308(a)(1)(ii)(D): activity review; a peer group is what tells a user's work from curiosity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MINIMUM_PEERS = 5  # the risk score's peer groups: fewer active users than this compare with the role
MOST_DEVIATION = 5  # the risk points peer deviation adds at most (README, "Triage: the risk score")


def active_users(accesses: pd.DataFrame, minimum_peers: int) -> tuple[np.ndarray, pd.DataFrame]:
    """(each access's user code, the users: code, id, role, department and its label as of their first
    access, and their peer `group` code, `fallback` when it is the role alone)."""
    user, user_ids = pd.factorize(accesses["user_id"])
    first = np.full(len(user_ids), -1)
    first[user[::-1]] = np.arange(len(accesses))[::-1]  # each user's first access: their role and department
    who = accesses.iloc[first]
    users = pd.DataFrame({"user": np.arange(len(user_ids)), "user_id": user_ids,
                          "role": who["role"].astype("string").fillna("").to_numpy(),
                          "department": who["department"].astype("string").fillna("").to_numpy(),
                          "label": who["department_label"].astype("string").fillna("").to_numpy()})
    size = users.groupby(["role", "department"], observed=True)["user"].transform("size")
    fallback = (size < minimum_peers).to_numpy()
    group = users["role"] + "\x1f" + users["department"].where(~fallback, "\x1f*")
    return user, users.assign(fallback=fallback, group=pd.factorize(group)[0])


@dataclass(frozen=True)
class PeersElsewhere:
    """The users of a role judged in other partitions than this one (auditor.cluster.peer_group_split:
    a large role's own peer groups, each whole), as a fallback group's median over the whole role
    counts them: their unexplained share (the risk score's standing), and what each peer-comparing
    rule made of them, by its parameters (parameters_key)."""

    shares: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"role": [], "share": []}))
    seen: dict = field(default_factory=dict)  # parameters_key -> role, charts, share (unusual-access)


def parameters_key(params: dict) -> str:
    """A rule's parameters as one text: the rules that compare with peers in the same way, one key."""
    return json.dumps(params, sort_keys=True, default=str)


def peer_median(users: pd.DataFrame, column: str, elsewhere: pd.DataFrame | None = None) -> pd.Series:
    """Each user's peer median of `column` (their group's; the role's for a fallback group); `elsewhere`:
    the role's users judged in other partitions (role and `column`), counted in the role's median."""
    by_group = users.groupby("group")[column].transform("median")
    if elsewhere is None or not len(elsewhere):
        by_role = users.groupby("role")[column].transform("median")
    else:
        every = pd.concat([users[["role", column]], elsewhere[["role", column]]], ignore_index=True)
        by_role = users["role"].astype(object).map(every.groupby(every["role"].astype(object))[column].median())
    return by_group.where(~users["fallback"], by_role)


@dataclass(frozen=True)
class Standing:
    """Each active user's unexplained accesses in the period against their peers' (in `ids` order)."""

    ids: pd.Index  # the user ids
    unexplained: np.ndarray  # their unexplained accesses
    expected: np.ndarray  # what their peers' median rate would give them (e, at least one)
    chance: np.ndarray  # the count a user at that rate reaches by chance
    median: np.ndarray  # their peers' median share of unexplained accesses
    peers: np.ndarray  # the users of their group (of their role, for a fallback group)


def _shares(accesses: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(the active users with their `share` of unexplained accesses, their accesses, their unexplained)."""
    user, users = active_users(accesses, MINIMUM_PEERS)
    made = np.bincount(user, minlength=len(users))
    unexplained = np.bincount(user, weights=~accesses["explained"].to_numpy(dtype=bool), minlength=len(users))
    return users.assign(share=unexplained / made), made, unexplained


def peer_shares(accesses: pd.DataFrame) -> pd.DataFrame:
    """Each active user's role, whether their group falls back to it, and unexplained share: what a
    partition tells the one judging the rest of their role (PeersElsewhere.shares)."""
    return _shares(accesses)[0][["user_id", "role", "fallback", "share"]]


def standing(accesses: pd.DataFrame, elsewhere: PeersElsewhere | None = None) -> Standing:
    """Standing of every user of `accesses` (worked out once for both measures below); `elsewhere`: the
    users of their roles judged in other partitions."""
    users, made, unexplained = _shares(accesses)
    outside = elsewhere.shares if elsewhere is not None else None
    median = peer_median(users, "share", outside).to_numpy()
    expected = np.maximum(1.0, median * made)
    chance = expected + 3 * np.sqrt(expected) + 2  # a count a user at the peers' rate reaches by chance
    of_role = users.groupby("role")["user"].transform("size")
    if outside is not None and len(outside):
        counted = outside["role"].astype(object).value_counts()
        of_role = of_role + users["role"].astype(object).map(counted).fillna(0).astype("int64").to_numpy()
    peers = np.where(users["fallback"], of_role, users.groupby("group")["user"].transform("size"))
    return Standing(pd.Index(users["user_id"].to_numpy()), unexplained, expected, chance, median, peers)


def unexplained_deviation(accesses: pd.DataFrame, of: Standing | None = None) -> pd.Series:
    """user id -> 0..MOST_DEVIATION: how far the user's unexplained accesses in the period are above
    what their peers' rate would give them. At the peer group's median share of unexplained accesses,
    a user who made n accesses would have e = median x n of them (at least one); a count no more than
    e + 3 sqrt(e) + 2 is what such a user reaches by chance (workflow gaps come a few at a time) and
    counts 0; above it, the count against e in doublings: 1 from twice, 2 from four times ... up to 5.
    `of`: the accesses' standing, when it is worked out already."""
    if accesses.empty:
        return pd.Series(dtype="int64")
    of = of or standing(accesses)
    ratio = np.where(of.unexplained > of.chance, of.unexplained / of.expected, 1.0)
    doublings = np.floor(np.log2(ratio))
    return pd.Series(np.minimum(MOST_DEVIATION, doublings).astype("int64"), index=of.ids)


def at_peers_rate(accesses: pd.DataFrame, of: Standing | None = None) -> pd.Series:
    """user id -> whether the user's unexplained accesses are what their peers leave too: they have
    peers (MINIMUM_PEERS users of the group, or of the role for a fallback group), the peers' median
    share of unexplained accesses is above zero (their work has such gaps), and the user's count is
    within chance of it (unexplained_deviation's margin)."""
    if accesses.empty:
        return pd.Series(dtype=bool)
    of = of or standing(accesses)
    return pd.Series((of.median > 0) & (of.unexplained <= of.chance) & (of.peers >= MINIMUM_PEERS), index=of.ids)
