"""A large role judged in parts, its peer groups whole: what bounds the memory of a month whose largest
role (a hospital's nurses: a third of the events) would not fit at once (issue 19, section 1).

A role partition (auditor.cluster.partitions) holds a whole role because the rules compare members
with their peers. But a member's peers are the active users of their role *and department*
(auditor.policy.peer_groups); the whole role only for a group too small to compare with (fewer than
the rules' `minimum_peers`). So a role partition of more than `most_events` events is judged in parts:

- its large peer groups, each whole, packed into parts of about `most_events` events: a group of at
  least every rule's `minimum_peers` active users, of a department, whose members the workforce file
  gives their role (their role and department are then the same in every one of their accesses);
- then the rest of the role: its small groups, the accounts without a department or a role in the
  workforce file (whose events' roles may vary), and the members without accesses. A small group is
  compared with the whole role, so this part hears from the parts before it what the role's median
  counts of their users (PeersElsewhere: each one's unexplained share, and what unusual-access made
  of them), and nothing else.

Every comparison then reads a whole group: excessive-volume's role and department, unusual-access's
peer group and the patients no one else of it opened, the risk score's standing. A role where an
account has a department but no role in the workforce file is not split (its events' roles could
put its accesses in any department group of the role).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from auditor.policy.context import at_work, touch_a_patient
from auditor.policy.engine import Detection
from auditor.policy.frames import Frames, columns_for
from auditor.policy.peer_groups import MINIMUM_PEERS, PeersElsewhere, peer_shares
from auditor.policy.rules import Policy

PART_EVENTS = 2_000_000  # a part's events, about: on the 10M month, a role's part took ~0.55 GB per million


@dataclass(frozen=True)
class Plan:
    """Each event's partition, numbered in the order to judge them (-1: the events that name no user),
    and for the rest of each split role, the parts it hears from."""

    part: np.ndarray
    hears: dict


def smallest_group(policy: Policy) -> int:
    """The fewest active users a peer group needs, by every running rule and the risk score."""
    return max([MINIMUM_PEERS] + [int(r.parameters["minimum_peers"]) for r in policy.running()
                                  if r.detector == "peer_deviation"])


def first_accesses(events: pd.DataFrame, period, policy: Policy, in_order: bool = True) -> pd.DataFrame:
    """Each user's first access among `events` (their work in the period that touches a patient, as
    active_users counts it): its sequence number and the role it carries ("" for none). `in_order`: the
    events are in sequence order already (a month's frames; a cluster's batch is not)."""
    if not in_order:
        events = events.iloc[np.argsort(events["seq"].to_numpy(dtype=np.int64), kind="stable")]
    user, ids = pd.factorize(events["user_id"])
    accesses = np.flatnonzero((at_work(events, period) & touch_a_patient(events, policy.settings)).to_numpy(dtype=bool))
    first = np.full(len(ids), -1)
    first[user[accesses][::-1]] = accesses[::-1]
    found = first[first >= 0]
    return pd.DataFrame({"user_id": np.asarray(ids, dtype=object)[first >= 0],
                         "seq": events["seq"].to_numpy(dtype=np.int64)[found],
                         "role": events["event_role"].take(found).astype("string").fillna("").to_numpy(dtype=object)})


def members(ids: np.ndarray, carried: np.ndarray, workforce: pd.DataFrame) -> pd.DataFrame:
    """Of users `ids` whose first accesses carry roles `carried` (None: no access), each one's role and
    department as active_users reads them ("" for none), whether they are active, and whether the
    workforce file gives their role and department."""
    known = columns_for(pd.Series(np.asarray(ids, dtype=object)), workforce, "user_id", ["role", "department"])
    listed_role = known["role"].astype("string").to_numpy(dtype=object, na_value=None)
    department = known["department"].astype("string").fillna("").to_numpy(dtype=object)
    active = np.array([c is not None for c in carried], dtype=bool)
    carried = np.where(active, carried, "")
    role = np.where(listed_role != None, listed_role, carried)  # noqa: E711 - element-wise
    return pd.DataFrame({"role": role, "department": department, "active": active,
                         "settled": (listed_role != None) & (department != "")})  # noqa: E711


def _users(frames: Frames, policy: Policy) -> tuple[np.ndarray, pd.DataFrame]:
    """(each event's user code, -1 for none; each user's `members` row)."""
    user, ids = pd.factorize(frames.events["user_id"])
    first = first_accesses(frames.events, frames.period, policy).set_index("user_id")["role"]
    carried = first.reindex(pd.Index(np.asarray(ids, dtype=object))).to_numpy(dtype=object, na_value=None)
    return user, members(ids, carried, frames.workforce)


def _packed(groups: pd.DataFrame, most_events: int) -> np.ndarray:
    """Each group's bin: in (role, department) order, a bin takes groups while it holds no more than
    `most_events` events (a larger group is a bin of its own)."""
    bins, now, held = np.empty(len(groups), dtype=np.int64), 0, 0
    for i, events in enumerate(groups["events"].to_numpy()):
        if held and held + events > most_events:
            now, held = now + 1, 0
        bins[i], held = now, held + events
    return bins


def plan(frames: Frames, policy: Policy, part: np.ndarray, most_events: int = PART_EVENTS) -> Plan:
    """The role partitions `part` (each event's; partition_of_each_event), those of more than
    `most_events` events split by peer group, renumbered in the order to judge them."""
    sizes = np.bincount(part[part >= 0]) if (part >= 0).any() else np.zeros(0, dtype=np.int64)
    if not (sizes > most_events).any():
        return Plan(part, {})
    user, users = _users(frames, policy)
    of_user = np.full(len(users), -1)
    of_user[user[user >= 0]] = part[user >= 0]  # a user's events are all in their role's partition
    users["part"], users["events"] = of_user, np.bincount(user[user >= 0], minlength=len(users))
    code, hears = plan_members(users, policy, most_events)
    return Plan(np.where(user >= 0, code[np.maximum(user, 0)] if len(code) else -1, -1), hears)


def plan_members(users: pd.DataFrame, policy: Policy, most_events: int = PART_EVENTS) -> tuple[np.ndarray, dict]:
    """Each user's partition (`users`: a `members` row each, with their role partition `part` and their
    number of `events`), a role partition of more than `most_events` events split by peer group and all
    renumbered in the order to judge them; and for the rest of each split role, the parts it hears from.
    What a month's plan is made of on this machine (plan) and on a cluster (spark_engine)."""
    of_user = users["part"].to_numpy(dtype=np.int64)
    sizes = np.bincount(of_user, weights=users["events"].to_numpy(), minlength=int(of_user.max(initial=-1)) + 1)
    renumber = np.arange(len(sizes))
    active = users[users["active"]]
    size = active.groupby(["part", "role", "department"])["events"].transform("size")
    unsettled = active.loc[~active["settled"] & (active["department"] != ""), "part"]  # a department, no role
    own = active[active["settled"] & (size >= smallest_group(policy)).to_numpy() & ~active["part"].isin(unsettled)]
    user_code = np.full(len(users), -1)
    hears, code = {}, 0
    for p in range(len(sizes)):
        mine = own[own["part"] == p]
        if sizes[p] <= most_events or not len(mine):
            renumber[p], code = code, code + 1
            continue
        groups = mine.groupby(["role", "department"], sort=True)["events"].sum().reset_index()
        groups["bin"] = code + _packed(groups, most_events)
        rest = int(groups["bin"].max()) + 1
        user_code[np.flatnonzero(of_user == p)] = rest
        user_code[mine.index.to_numpy()] = mine.merge(groups, on=["role", "department"], how="left")["bin"].to_numpy()
        hears[rest] = tuple(range(code, rest))
        renumber[p], code = -2, rest + 1  # -2: its users take their own part
    by_role = renumber[np.maximum(of_user, 0)] if len(sizes) else np.full(len(users), -1)
    return np.where(by_role == -2, user_code, by_role), hears


def told(found: Detection) -> PeersElsewhere:
    """What a part of large peer groups tells the rest of its role: each active user's role and
    unexplained share, and what each peer-comparing rule made of them."""
    accesses = found.context.accesses
    shares = peer_shares(accesses) if len(accesses) else pd.DataFrame({"role": [], "fallback": [], "share": []})
    seen = found.context.peers_seen
    if shares["fallback"].any() or any(users["fallback"].any() for users in seen.values()):
        raise RuntimeError("a part of large peer groups holds a group too small to compare with: the plan split a group")
    return PeersElsewhere(shares[["role", "share"]], {k: users[["role", "charts", "share"]] for k, users in seen.items()})


def heard(parts: list[PeersElsewhere]) -> PeersElsewhere:
    """What the parts of a role tell the part judging its rest, as one."""
    keys = sorted({k for p in parts for k in p.seen})
    return PeersElsewhere(pd.concat([p.shares for p in parts], ignore_index=True),
                          {k: pd.concat([p.seen[k] for p in parts if k in p.seen], ignore_index=True) for k in keys})


_TOLD = pa.schema([("key", pa.string()), ("role", pa.string()), ("charts", pa.int64()), ("share", pa.float64())])


def told_table(elsewhere: PeersElsewhere) -> pa.Table:
    """What a part tells (told) as one table, as it crosses from a cluster's task to the task judging
    the rest of its role (data, not a pickle): the unexplained shares (key null), then each
    peer-comparing rule's users under its parameters' key (every key also in the schema's metadata: a
    rule that saw no one is told too)."""
    def rows(key, users: pd.DataFrame, charts) -> pa.Table:
        return pa.table({"key": pa.array([key] * len(users), pa.string()),
                         "role": pa.array(users["role"].astype("string").to_numpy(dtype=object, na_value=None),
                                          pa.string()),
                         "charts": pa.array(charts, pa.int64()),
                         "share": pa.array(users["share"].to_numpy(dtype=np.float64), pa.float64())}, schema=_TOLD)
    keys = sorted(elsewhere.seen)
    return pa.concat_tables([rows(None, elsewhere.shares, [None] * len(elsewhere.shares))]
                            + [rows(key, elsewhere.seen[key], elsewhere.seen[key]["charts"].to_numpy(dtype=np.int64))
                               for key in keys]).replace_schema_metadata({"keys": json.dumps(keys)})


def told_by(table: pa.Table) -> PeersElsewhere:
    """The PeersElsewhere of told_table's table."""
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)  # counts stay whole numbers
    frame["role"] = frame["role"].astype(object).where(frame["role"].notna(), None)
    shares = frame[frame["key"].isna()]
    by_key = frame[frame["key"].notna()]
    seen = {key: by_key.loc[by_key["key"] == key, ["role", "charts", "share"]].astype({"charts": np.int64})
            .reset_index(drop=True) for key in json.loads(table.schema.metadata[b"keys"])}
    return PeersElsewhere(shares[["role", "share"]].reset_index(drop=True), seen)
