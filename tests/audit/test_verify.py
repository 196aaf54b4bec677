"""The fold of `audit verify` (auditor.audit.verify): a clean run of checked events joins the Merkle
frontier whole, any other goes event by event; whichever way, the verdict is the one folding every
event alone gives: the same problems, in the same order, the same roots compared at the same sizes."""

from __future__ import annotations

from array import array
from hashlib import sha256
from heapq import merge
from operator import itemgetter

from hypothesis import example, given, settings, strategies as st

from auditor.audit import merkle
from auditor.audit.archive_records import ArchiveRecord
from auditor.audit.checkpoints import Checkpoint
from auditor.audit.event_checks import Run
from auditor.audit.verify import Verification, _Fold, _in_order

KINDS = [None, None, None, None, "edited", "forged", "unreadable", "unarchived"]


def _leaf(n: int) -> bytes:
    return sha256(b"leaf %d" % n).digest()


@st.composite
def logs(draw):
    """Checked events as a log an attacker may have altered (events deleted, repeated, flagged), cut
    into runs as workers return them, and the checkpoints and archive records signed over it, each
    root right or wrong."""
    events, seq = [], 1
    for n in range(draw(st.integers(0, 60))):
        step = draw(st.sampled_from([1] * 12 + [0, 2, 3, -2]))  # mostly the next event
        seq = max(1, seq + step - 1) if n else 1
        events.append((seq, _leaf(n), draw(st.sampled_from(KINDS))))
        seq += 1
    cuts = sorted(draw(st.sets(st.integers(0, len(events)), max_size=6)) | {0, len(events)})
    runs = [events[a:b] for a, b in zip(cuts, cuts[1:])]
    frontier, roots = merkle.Frontier(), {0: merkle.EMPTY_ROOT}
    for _, leaf, _ in events:
        frontier.append(leaf)
        roots[frontier.size] = frontier.root()
    wrong = sha256(b"another history").digest()
    checkpoints = {}
    for size in draw(st.sets(st.integers(0, len(events) + 3), max_size=8)):
        signed = [draw(st.sampled_from([roots.get(size, wrong), wrong])) for _ in range(draw(st.integers(1, 2)))]
        checkpoints[size] = [Checkpoint(size, root, "2026-11-02T14:00:00Z", "k", b"", f"checkpoints.log:{size}:{i}")
                             for i, root in enumerate(signed)]
    archives = [ArchiveRecord(k, 1, size, 0, "a", "", draw(st.sampled_from([roots.get(size, wrong), wrong])), 0, None)
                for k, size in enumerate(draw(st.sets(st.integers(1, len(events) + 1), max_size=3)))]
    return runs, checkpoints, archives


def _run(events) -> Run:
    return Run(array("q", [s for s, _, _ in events]), b"".join(leaf for _, leaf, _ in events),
               {s: kind for s, _, kind in events if kind})


def _verdict(runs, checkpoints, archives, whole: bool):
    result = Verification()
    fold = _Fold(result, checkpoints, archives)
    for run in map(_run, runs):
        if whole:
            fold.add_run(run)
        else:
            for event in run.events():  # what the fold was given before runs
                fold.add(*event)
    fold.finish(None)
    return result.problems, result.size, result.root, result.checkpoints_checked, fold.last_good, fold.expected


@settings(max_examples=400, deadline=None)
@given(logs())
@example(([[(1, _leaf(0), None), (2, _leaf(1), None), (3, _leaf(2), None)]],  # a clean run with a fork inside
          {2: [Checkpoint(2, sha256(b"x").digest(), "t", "k", b"", "c:2")]}, []))
def test_a_run_taken_whole_gives_the_verdict_of_its_events_one_by_one(log):
    runs, checkpoints, archives = log
    assert _verdict(runs, checkpoints, archives, whole=True) == _verdict(runs, checkpoints, archives, whole=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 40), max_size=10).map(sorted), st.lists(st.lists(st.integers(1, 40), max_size=6), max_size=5))
def test_archived_leaves_and_runs_come_in_heapq_merge_order(archived, runs):
    leaves = [(seq, _leaf(seq), "unarchived") for seq in archived]
    checked = [[(seq, _leaf(1000 + seq), None) for seq in run] for run in runs]
    got = []
    for item in _in_order(iter(leaves), iter(map(_run, checked))):
        got.extend(item.events() if isinstance(item, Run) else [item])
    assert got == list(merge(leaves, [e for run in checked for e in run], key=itemgetter(0)))
