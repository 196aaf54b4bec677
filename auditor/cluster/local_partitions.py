"""The rule pack on this machine by role partitions (auditor.cluster.partitions), one partition at a
time: the period's events are read once; each partition's events and the context of the patients
they touch then go through engine.run, unchanged, and are reduced to what findings, cases and reports
read before the next partition is judged. A role of more than `most_events` events (a hospital's
nurses: a third of the month) is judged in parts, its large peer groups whole in each, and the rest
of the role last (auditor.cluster.peer_group_split): what the rules hold at once grows with the parts,
not with the month.

Events that name no user (the contract and the gateway refuse them, so only a log edited behind the
gateway has any) are judged as a partition of their own, so that every event is counted.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
import pandas as pd

from auditor.cluster.partitions import AROUND, Tally, _results, assemble, role_partitions
from auditor.cluster.peer_group_split import PART_EVENTS, heard, plan, told
from auditor.memory import freed_memory_returned, return_free_pages
from auditor.policy import engine
from auditor.policy.engine import Detection
from auditor.policy.explanation_windows import ExplanationWindows, TreatmentData
from auditor.policy.frames import Frames, Period, distinct, load_frames
from auditor.policy.rules import Policy
from auditor.reporting.activity import event_counts

_PATIENT_SCOPED = ("patients", "encounters", "care_team", "case_patients", "orders", "appointments", "authored")


def partition_of_each_event(frames: Frames) -> np.ndarray:
    """Each event's partition (role_partitions over the events' users and the roles they carry); -1
    for an event that names no user."""
    events = frames.events
    codes, users = pd.factorize(events["user_id"], use_na_sentinel=True)
    carried = events["event_role"].astype("category")
    names = np.asarray(carried.cat.categories, dtype=object)
    width = len(names) + 1  # each (user, carried role) once, as one int64: role code -1 (none) is 0
    pair = distinct(codes[codes >= 0].astype(np.int64) * width + (carried.cat.codes.to_numpy()[codes >= 0] + 1))
    role = pair % width
    pairs = pd.DataFrame({"user_id": np.asarray(users, dtype=object)[pair // width],
                          "role": np.where(role > 0, names[np.maximum(role - 1, 0)] if len(names) else None, None)})
    workforce = frames.workforce[["user_id", "role"]].astype(object)
    parts = role_partitions(pairs, workforce).set_index("user_id")["part"]
    by_code = parts.reindex(pd.Index(np.asarray(users, dtype=object))).to_numpy(dtype=np.int64)
    return np.where(codes >= 0, by_code[np.maximum(codes, 0)] if len(by_code) else -1, -1)


def _cut(frames: Frames, positions: np.ndarray) -> Frames:
    """A partition's frames: its events (in sequence order), the workforce whole, and the
    patient-scoped context of the patients its events touch."""
    events = frames.events.take(positions).reset_index(drop=True)
    touched = pd.unique(events["patient_id"].dropna().to_numpy(dtype=np.int64))
    return replace(frames, events=events, **{
        name: (lambda table: table[table["patient_id"].isin(touched).to_numpy(dtype=bool)].reset_index(drop=True))(
            getattr(frames, name)) for name in _PATIENT_SCOPED})


def judge_by_role(frames: Frames, policy: Policy, around: timedelta = AROUND, tally: Tally | None = None,
                  most_events: int = PART_EVENTS, let_go: bool = False) -> Detection:
    """engine.run over each role partition of `frames` in turn, a role of more than `most_events` events
    in parts by peer group (auditor.cluster.peer_group_split); one Detection of what they send back
    (the hits and the findings are engine.run's over the whole of `frames`).
    `let_go`: the caller needs the month's events no more, so they go (`frames.events` is None after)
    before the partitions' results are put together: at 60 million events they are 3.7 GB.
    Freed memory goes back to the kernel meanwhile (auditor.memory.freed_memory_returned): bounded
    memory is what this engine is for."""
    with freed_memory_returned():
        return _judge_by_role(frames, policy, around, tally, most_events, let_go)


def _judge_by_role(frames: Frames, policy: Policy, around: timedelta, tally: Tally | None, most_events: int,
                   let_go: bool) -> Detection:
    given = frames
    split = plan(frames, policy, partition_of_each_event(frames), most_events)
    # the explanations' windows, made once for the month: every window's key holds its patient, and a
    # partition holds the whole context of each patient its events touch, so its accesses find in the
    # month's windows exactly what they would in its own (each partition made its own: most of the month)
    frames = replace(frames, explanation_windows=frames.explanation_windows or ExplanationWindows(
        frames.encounters, frames.care_team, frames.case_patients,
        TreatmentData(frames.orders, frames.appointments, frames.authored)))
    part = split.part
    largest = int(np.bincount(part[part >= 0]).max(initial=0))  # as on Spark, which judges no event without a user
    order = np.argsort(part, kind="stable")  # within a partition, sequence order stays
    bounds = np.flatnonzero(np.diff(part[order])) + 1
    judged, counts, tell = [], [], {}
    feeding = {p for parts in split.hears.values() for p in parts}
    gc.freeze()  # what lives now (the month's frames) stays through every partition: no collection walks it
    try:
        for positions in np.split(order, bounds) if len(order) else [order]:
            code = int(part[positions[0]]) if len(positions) else 0
            cut = _cut(frames, positions)
            if code in split.hears:  # the rest of a role: its small groups compare with the whole role
                cut = replace(cut, peers_elsewhere=heard([tell.pop(p) for p in split.hears[code] if p in tell]))
            found = engine.run(cut, policy)
            if code in feeding:
                tell[code] = told(found)
            judged.append(_results(code, found, around, tally))
            counts.append(event_counts(found.context.events))
            del found, cut
            gc.collect()  # the partition's frames go before the next is made
            return_free_pages()
    finally:
        gc.unfreeze()
    empty = {name: getattr(frames, name).iloc[0:0] for name in _PATIENT_SCOPED}
    skeleton = replace(frames, events=None, explanation_windows=None, **empty)
    del frames, split, part, order, bounds, positions  # each partition's positions are a view of `order`
    if let_go:
        given.events = None
    del given
    gc.collect()
    return_free_pages()
    counted = pd.concat(counts, ignore_index=True).groupby(["day", "source", "outcome"], as_index=False)["count"].sum()
    detection = assemble(skeleton, policy, judged, counted)
    detection.context.largest_part = (largest, most_events)
    return detection


@dataclass(frozen=True)
class ByRole:
    """An engine for review_period (auditor.review.period.Judge): this machine's, one role partition at
    a time; `tally`: what each partition counts for the caller (as on a cluster)."""

    tally: Tally | None = None
    most_events: int = PART_EVENTS  # a role of more events is judged in parts, by peer group

    def __call__(self, vault, period: Period, policy: Policy) -> Detection:
        frames = load_frames(vault.records, period, policy.lookback(), log_key=vault.keyring.log_mac_key)
        return judge_by_role(frames, policy, AROUND, self.tally, self.most_events, let_go=True)
