"""The rule pack on this machine one role partition at a time (auditor.cluster.local_partitions) finds
what engine.run finds over the whole period: the same hits, findings, report figures and evaluation,
on the simulated month (both backends) and on months hypothesis makes from it; and through the CLI
(`--engine partitioned`), the same findings file and cases."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from auditor.cluster.local_partitions import ByRole, judge_by_role, partition_of_each_event
from auditor.cluster.peer_group_split import PART_EVENTS, plan
from auditor.policy import engine
from auditor.policy.findings import build_findings
from auditor.policy.frames import load_frames
from auditor.reporting.activity import activity
from auditor.review.period import month_period
from auditor.simulation.evaluation import in_period, label_tally, read_labels, render, scored
from tests.cluster.conftest import NEW_YORK
from tests.cluster.copies import copy_home
from tests.cluster.local_runs import NOVEMBER
from tests.cluster.keen import keen as keen_policy
from tests.cluster.test_role_partitions import finding, keyed


def _frames(vault, policy):
    period = month_period("2026-11", NEW_YORK)
    return load_frames(vault.records, period, policy.lookback(), log_key=vault.keyring.log_mac_key)


@pytest.fixture(scope="module")
def labels(simulated_month):
    return read_labels(simulated_month.paths["labels.csv"])


def _same(frames, policy, labels, most_events: int = PART_EVENTS) -> None:
    whole = engine.run(frames, policy)
    tally = label_tally(in_period(labels, frames.period), "ehr")
    parts = judge_by_role(frames, policy, tally=tally, most_events=most_events)
    pd.testing.assert_frame_equal(keyed(parts), keyed(whole))
    assert [finding(f) for f in build_findings(parts, policy)] == [finding(f) for f in build_findings(whole, policy)]
    assert activity(parts.context) == activity(whole.context)
    assert parts.context.judged == whole.context.judged and parts.context.explained_share == whole.context.explained_share
    assert render(scored(parts, policy, labels, frames.period)) == render(scored(whole, policy, labels, frames.period))


def test_by_role_partitions_is_the_whole_month(month_vault, policy, labels):
    frames = _frames(month_vault, policy)
    assert len(np.unique(partition_of_each_event(frames))) > 3  # several roles: several partitions
    _same(frames, policy, labels)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_months_events_go_before_the_results_are_put_together_when_let_go(month_vault, policy):
    """`--engine partitioned` lets the month's events go once the partitions are judged (let_go): the
    Detection is the same, and only then are the caller's frames left without their events."""
    kept, given = _frames(month_vault, policy), _frames(month_vault, policy)
    held = judge_by_role(kept, policy)
    assert kept.events is not None
    freed = judge_by_role(given, policy, let_go=True)
    assert given.events is None
    pd.testing.assert_frame_equal(keyed(freed), keyed(held))
    assert [finding(f) for f in build_findings(freed, policy)] == [finding(f) for f in build_findings(held, policy)]


def _largest_role_in_parts(frames, policy) -> int:
    """A `most_events` that splits the largest role partitions by peer group (and a check that it does)."""
    roles = partition_of_each_event(frames)
    most = int(np.bincount(roles[roles >= 0]).max() // 4)
    split = plan(frames, policy, roles, most)
    assert split.hears and all(split.hears.values())  # a role's rest hears from its large groups' parts
    return most


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # reading from each: the test above
def test_a_large_role_in_parts_by_peer_group_is_the_whole_month(month_vault, policy, labels):
    frames = _frames(month_vault, policy)
    _same(frames, policy, labels, most_events=_largest_role_in_parts(frames, policy))
    _same(frames, keen_policy(policy), labels, most_events=_largest_role_in_parts(frames, policy))


@pytest.fixture(scope="module")
def november(exported_november):
    from auditor.home import Vault
    home = exported_november[0].parent / "home"
    vault = Vault.open(home, check_schema=False)
    yield vault
    vault.close()


# Minutes on a slow machine with the other xdist worker busy beside it (pyproject: -n 2): beyond the
# 300 s every test has, still a limit for one that hangs.
@pytest.mark.timeout(900)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.floats(0.3, 1.0), ghosts=st.integers(0, 6), nobody=st.integers(0, 5), seed=st.integers(0, 2**32 - 1),
       in_parts=st.booleans(), keen=st.booleans())
def test_months_made_from_it_too(november, policy, labels, keep, ghosts, nobody, seed, in_parts, keen):
    """Events dropped; accounts the workforce file does not know, whose events carry varying roles; a
    few events that name no user (a log edited behind the gateway): the same findings either way, the
    large roles judged whole or in parts by peer group, with unusual-access as shipped or keen."""
    frames = _frames(november, policy)
    rng = np.random.default_rng(seed)
    events = frames.events[rng.random(len(frames.events)) < keep].reset_index(drop=True)
    users = events["user_id"].astype(object).to_numpy().copy()
    roles = events["event_role"].astype(object).to_numpy().copy()
    choices = sorted({r for r in roles if isinstance(r, str)})
    for i, member in enumerate(rng.choice(sorted(set(users)), size=ghosts, replace=False)):
        mine = np.flatnonzero(users == member)
        users[mine] = f"ghost-{i}"
        roles[mine] = rng.choice(np.array(rng.choice(choices, size=2), dtype=object), size=len(mine))
    users[rng.choice(len(users), size=nobody, replace=False)] = None
    events = events.assign(user_id=pd.array(users, dtype=events["user_id"].dtype),
                           event_role=pd.Categorical(roles))
    from dataclasses import replace
    frames = replace(frames, events=events)
    roles = partition_of_each_event(frames)
    most = int(np.bincount(roles[roles >= 0]).max() // 4) if in_parts else PART_EVENTS
    _same(frames, keen_policy(policy) if keen else policy, labels, most_events=most)


def _copy(exported_november, tmp_path, name: str = "parts") -> Path:
    """A copy of the session's vault (the simulated November) for the partitioned engine; the local
    engine's runs are made on copies of their own (the local_engine fixture)."""
    return copy_home(exported_november[0].parent / "home", tmp_path / name)


def test_findings_by_partitions_through_the_cli(exported_november, auditor, local_engine, tmp_path):
    parts = auditor("--home", _copy(exported_november, tmp_path), "findings", *NOVEMBER, "--engine", "partitioned",
                    "--out", tmp_path / "parts.json", user="officer")
    whole = local_engine.findings()
    assert parts.code == 0, parts.err
    assert (tmp_path / "parts.json").read_bytes() == whole.out.read_bytes()
    assert parts.out.split("; written")[0] == whole.stdout.split("; written")[0]
    assert "warning: one part" not in parts.err  # the month's parts all within the default bound


def test_a_part_larger_than_the_bound_is_said(month_vault, policy):
    """--part-events bounds a part only as far as whole peer groups allow: the largest part and the
    bound are told with what was judged (here with a bound of 1 event, which every part is above)."""
    frames = _frames(month_vault, policy)
    for bound in (1, PART_EVENTS):
        parts = pd.Series(plan(frames, policy, partition_of_each_event(frames), bound).part)
        biggest = int(parts[parts >= 0].value_counts().max())  # each part's events, the largest
        assert judge_by_role(frames, policy, most_events=bound).context.largest_part == (biggest, bound)


def test_a_part_larger_than_the_bound_is_said_on_stderr(exported_november, auditor, local_engine, tmp_path):
    """Through the CLI (the session's SQLite vault; reading from each backend: the test above): a part
    above --part-events is said on stderr, with what would let the bound cut it; the findings are the
    same."""
    parts = auditor("--home", _copy(exported_november, tmp_path), "findings", *NOVEMBER, "--engine", "partitioned",
                    "--part-events", "1", "--out", tmp_path / "parts.json", user="officer")
    assert parts.code == 0, parts.err
    assert re.search(r"^warning: one part of the period held [1-9][\d,]+ events, more than --part-events \(1\)",
                     parts.err, re.M)
    assert "departments in workforce.csv" in parts.err and "warning: one part" not in local_engine.findings().stderr
    assert (tmp_path / "parts.json").read_bytes() == local_engine.findings().out.read_bytes()
    report = auditor("--home", copy_home(exported_november[0].parent / "home", tmp_path / "report"), "report",
                     "monthly", "--month", "2026-11", "--no-pdf", "--out", tmp_path / "report-out", "--engine",
                     "partitioned", "--part-events", "1", user="officer")
    assert report.code == 0 and "warning: one part of the period held" in report.err, report.err


def test_the_report_and_the_evaluation_by_partitions(exported_november, simulated_month, auditor, local_engine,
                                                     tmp_path):
    from tests.cluster.reports import report_text
    parts_home = _copy(exported_november, tmp_path)
    in_parts = ["--engine", "partitioned", "--part-events", "1500"]  # the nurses (4,576 events) in parts
    done = auditor("--home", parts_home, "report", "monthly", "--month", "2026-11", "--no-pdf",
                   "--out", tmp_path / "parts-report", *in_parts, user="officer")
    assert done.code == 0, done.err
    whole = local_engine.report()
    for name in ("findings.json", "findings.csv"):
        assert (tmp_path / "parts-report" / name).read_bytes() == (whole.out / name).read_bytes()
    assert report_text(tmp_path / "parts-report") == report_text(whole.out)
    parts = auditor("--home", _copy(exported_november, tmp_path, "evaluated"), "evaluate", "--labels",
                    simulated_month.paths["labels.csv"], *in_parts)  # a copy as fresh as the local engine's
    whole = local_engine.evaluate(simulated_month.paths["labels.csv"])
    assert parts.code == 0 and "ROC AUC" in parts.out and parts.out == whole.stdout


def test_an_empty_period_by_partitions(month_vault, policy):
    from dataclasses import replace
    frames = _frames(month_vault, policy)
    empty = replace(frames, events=frames.events.iloc[0:0])
    found = judge_by_role(empty, policy)
    assert len(found.hits) == 0 and found.context.judged == 0 and activity(found.context).events == 0
    assert ByRole()(month_vault, month_period("2026-10", NEW_YORK), policy).context.judged == 0


def test_partitions_not_asked_to_count_for_the_evaluation_are_not_scored(month_vault, policy, labels):
    """A partitioned Detection holds only the accesses near hits: scoring it without the partitions'
    own counts would score that sample, so it is refused."""
    frames = _frames(month_vault, policy)
    with pytest.raises(ValueError, match="LabelTally"):
        scored(judge_by_role(frames, policy), policy, labels, frames.period)
