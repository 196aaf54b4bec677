"""Judging a period by role partitions: the rules compare a member with their peers (excessive-volume
with their role and department, unusual-access and the risk score's peer standing with the same, or
with the whole role when the group is small), so a partition holds whole roles: each member joins the
partition of their effective role (the workforce file's, else what their events carry, as the local
engine decides it), and the roles one member's events span share a partition. engine.run, unchanged,
judges each partition; each sends back what findings, cases and reports read (its hits, the hits'
events, the accesses near them, its members' standing, its counts) as Arrow IPC, and assemble makes
one Detection of them. Spark runs the partitions on a cluster (auditor.cluster.spark_engine); this
machine runs them one at a time in bounded memory (auditor.cluster.local_partitions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from auditor.policy.context import DetectionContext
from auditor.policy.detectors import HIT_COLUMNS
from auditor.policy.engine import Detection
from auditor.policy.explanations import EXPLANATIONS
from auditor.policy.frames import Frames, distinct
from auditor.policy.peer_groups import Standing, standing
from auditor.policy.rules import Policy
from auditor.reporting.activity import access_tally

AROUND = timedelta(hours=1)  # the accesses kept either side of a hit: auditor.review.timeline.AROUND, a case's reach
Tally = Callable[[Detection], object]  # what a caller counts of each partition's Detection (JSON-able)
# Of the accesses a partition sends, the columns read after it: a case timeline's (auditor.review.timeline:
# ReviewedAccesses) and the findings' (auditor.policy.findings: _grouped). The rest (the user's record, the
# identity links, local times) stayed with the partition: at 60 million events the accesses near hits
# are millions, and their 38 columns were most of what the month put together held.
SENT_ACCESS_COLUMNS = ("seq", "at", "user_id", "patient_id", "action", "record_type", "purpose", "break_glass",
                       "has_reason", "event_ref", "explained", "explained_by", "clinically_explained", "under_care",
                       "vip", "role", "workforce_id")


def _ipc(frame: pd.DataFrame) -> bytes:
    return _ipc_table(pa.Table.from_pandas(frame, preserve_index=False))


def _ipc_table(table: pa.Table) -> bytes:
    """Arrow IPC, compressed (zstd): a partition's results are held until every partition is judged,
    and at 60 million events they were 6.3 GB as they came (1.2 GB compressed)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _read_ipc(data: bytes) -> pa.Table:
    """The table _ipc_table wrote."""
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _frame(data: bytes) -> pd.DataFrame:
    return _read_ipc(data).to_pandas()


def role_partitions(pairs: pd.DataFrame, workforce: pd.DataFrame) -> pd.DataFrame:
    """(user_id, part) for every user of `pairs` (user_id, the role an event carries): the user's
    effective roles are the workforce file's role, else each role their events carry ("" for none);
    roles one user spans are merged into one partition (union-find over a few roles)."""
    known = workforce.dropna(subset=["user_id"]).drop_duplicates("user_id").set_index("user_id")["role"]
    listed = pairs["user_id"].map(known)
    role = listed.where(listed.notna(), pairs["role"]).fillna("").astype(str)
    spans = pd.DataFrame({"user_id": pairs["user_id"].to_numpy(), "role": role.to_numpy()}).drop_duplicates()
    parent: dict[str, str] = {r: r for r in spans["role"].unique()}

    def root(r: str) -> str:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    several = spans[spans.duplicated("user_id", keep=False)]  # the few users whose events span roles
    for _, roles in several.groupby("user_id", sort=False)["role"]:
        first = root(roles.iloc[0])
        for other in roles.iloc[1:]:
            parent[root(other)] = first
    parts = {r: i for i, r in enumerate(sorted({root(r) for r in parent}))}
    part_of_role = {r: parts[root(r)] for r in parent}
    users = spans.drop_duplicates("user_id").reset_index(drop=True)
    return pd.DataFrame({"user_id": users["user_id"].to_numpy(), "part": users["role"].map(part_of_role).to_numpy()})


def _utc(times: pd.Series) -> np.ndarray:
    """Timezone-aware times as naive UTC datetime64 (what merge_asof compares)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()


def _results(part: int, found: Detection, around: timedelta, tally: Tally | None = None) -> dict:
    """What a partition sends back: its hits by sequence number; of the events, the hits' own, and of
    each member's accesses those within `around` of one of their hits (what the driver's findings and the
    cases' timelines read, not the month); its members' peer standing; its counts: those of the
    report's activity (access_tally), and `tally`'s of the partition's Detection when one is asked."""
    ctx, hits = found.context, found.hits
    at = distinct(hits["event"].to_numpy(dtype=np.int64))
    out = hits[[c for c in HIT_COLUMNS if c != "event"] + ["rule"]].assign(
        seq=ctx.events["seq"].to_numpy()[hits["event"].to_numpy(dtype=np.int64)])
    acc = ctx.accesses
    # each user as a number (their position among the accesses' users; -1: a hit's user with no access):
    # the millions of accesses are matched on integers, never turned into Python strings
    user, names = pd.factorize(acc["user_id"])
    hit_user = pd.Index(names).get_indexer(ctx.events["user_id"].iloc[at].to_numpy(dtype=object))
    marks = pd.DataFrame({"user": hit_user, "at": _utc(ctx.events["at"].iloc[at]), "near": True}
                         ).sort_values("at", kind="stable")
    mine = np.flatnonzero(np.isin(user, hit_user[hit_user >= 0]))
    probe = pd.DataFrame({"event": acc.index[mine], "user": user[mine], "at": _utc(acc["at"].iloc[mine])}
                         ).sort_values("at", kind="stable")
    near = pd.merge_asof(probe, marks, on="at", by="user", direction="nearest", tolerance=pd.Timedelta(around))
    kept = np.sort(near.loc[near["near"].notna(), "event"].to_numpy(dtype=np.int64))
    sent = distinct(np.concatenate([at, kept]))
    peers = standing(acc, ctx.frames.peers_elsewhere) if len(acc) else None  # the engine sets none per partition
    stood = pd.DataFrame({"user_id": [] if peers is None else peers.ids.to_numpy(dtype=object),
                          **{k: [] if peers is None else getattr(peers, k) for k in
                             ("unexplained", "expected", "chance", "median", "peers")}})
    counts = acc["explained_by"].value_counts() if len(acc) else pd.Series(dtype="int64")

    def rows(frame: pd.DataFrame, events: np.ndarray) -> pd.DataFrame:
        return frame.loc[frame.index.intersection(events)].reset_index(drop=True)
    return {"part": part, "hits": _ipc(out), "events": _ipc(ctx.events.iloc[sent].reset_index(drop=True)),
            "activity": _ipc(rows(ctx.activity, at)),
            "accesses": _ipc(acc.loc[kept, [c for c in SENT_ACCESS_COLUMNS if c in acc.columns]].reset_index(drop=True)),
            "denials": _ipc(rows(ctx.denials, at)), "standing": _ipc(stood), "judged": len(acc),
            "explained": int(acc["explained"].sum()) if len(acc) else 0,
            "explained_by": json.dumps({str(k): int(v) for k, v in counts.items()}),
            "summary": json.dumps(access_tally(ctx)), "tally": json.dumps(tally(found) if tally else None)}


@dataclass
class PartitionedContext(DetectionContext):
    """What the partitions send back: the hits' events (activity and denials: only those), the accesses
    within AROUND of a member's hit (what case timelines cut; their SENT_ACCESS_COLUMNS), and the counts
    over every access judged; the rest of the month stayed with the partitions."""

    judged_count: int = 0
    explained_count: int = 0
    explained_by_count: dict = field(default_factory=dict)
    access_tallies: list = field(default_factory=list)  # access_tally of each partition (reporting.activity)
    event_counts: pd.DataFrame | None = None  # the period's events by day, source and outcome (event_counts)
    tallies: list = field(default_factory=list)  # the Tally asked of each partition, if any

    @property
    def judged(self) -> int:
        return self.judged_count

    @property
    def explained_share(self) -> float | None:
        return None if not self.judged_count else self.explained_count / self.judged_count

    @property
    def explained_by_share(self) -> dict[str, float]:
        if not self.judged_count:
            return {}
        return {name: self.explained_by_count.get(name, 0) / self.judged_count for name in EXPLANATIONS}


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The partitions' frames as one: a column categorical in any of them is categorical over the union
    of their categories (a partition whose column is all missing sends it with none, or not as one)."""
    for name in frames[0].columns:
        parts = [f[name] for f in frames]
        if any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            parts = [p if isinstance(p.dtype, pd.CategoricalDtype) else p.astype("category") for p in parts]
            common = pd.Index(pd.unique(np.concatenate([np.asarray(p.cat.categories, dtype=object) for p in parts])))
            for f, p in zip(frames, parts):
                f[name] = p.cat.set_categories(common)
    return pd.concat(frames, ignore_index=True)


def assemble(skeleton: Frames, policy: Policy, judged: list[dict], counts: pd.DataFrame) -> Detection:
    """One Detection from the partitions' results and the period's event counts (event_counts): the
    members' events numbered in sequence order. Each result's frames are let go (set to None in
    `judged`) as they are read. Its frames are `skeleton` (the workforce, the
    patient-scoped context empty: it stayed with the partitions) holding those events."""
    def joined(name: str) -> pd.DataFrame:
        sent = []
        for r in judged:  # each partition's bytes go as they are read: they and the frames are not held twice
            sent.append(_frame(r[name]))
            r[name] = None
        frames = [f for f in sent if len(f)]
        return _concat(frames) if frames else sent[0]  # none sent any: a partition's empty frame, typed

    events = joined("events")
    events = events.iloc[np.argsort(events["seq"].to_numpy(), kind="stable")].reset_index(drop=True)
    number = pd.Series(np.arange(len(events)), index=events["seq"].to_numpy())

    def numbered(frame: pd.DataFrame) -> pd.DataFrame:
        if not len(frame):  # its columns, as a partition typed them
            return frame.set_axis(pd.Index([], dtype="int64", name="event"))
        frame.index = pd.Index(number.loc[frame["seq"].to_numpy()].to_numpy(), name="event")
        return frame.sort_index(kind="stable")

    running = {rule.id: i for i, rule in enumerate(policy.running())}
    hits = joined("hits")
    if len(hits):
        hits = hits.assign(event=number.loc[hits["seq"].to_numpy()].to_numpy(), order=hits["rule"].map(running))
        hits = hits.sort_values(["order", "event"], kind="stable").reset_index(drop=True)[[*HIT_COLUMNS, "rule"]]
        for name in ("unit", "evidence", "severity"):
            hits[name] = hits[name].astype("string")
    else:
        hits = pd.DataFrame(columns=[*HIT_COLUMNS, "rule"])
    stood = [_frame(r["standing"]) for r in judged]
    stood = pd.concat(stood, ignore_index=True) if stood else pd.DataFrame({"user_id": []})
    peers = Standing(pd.Index(stood["user_id"].to_numpy()), *(stood[k].to_numpy() for k in
                                                              ("unexplained", "expected", "chance", "median", "peers"))
                     ) if len(stood) else None
    by = {}
    for r in judged:
        for name, count in json.loads(r["explained_by"]).items():
            by[name] = by.get(name, 0) + count
    frames = replace(skeleton, events=events)
    ctx = PartitionedContext(events, numbered(joined("activity")), numbered(joined("accesses")), numbered(joined("denials")),
                         frames, policy.settings, judged_count=sum(r["judged"] for r in judged),
                         explained_count=sum(r["explained"] for r in judged), explained_by_count=by,
                         access_tallies=[json.loads(r["summary"]) for r in judged], event_counts=counts,
                         tallies=[json.loads(r["tally"]) for r in judged])
    return Detection(ctx, hits, peers)
