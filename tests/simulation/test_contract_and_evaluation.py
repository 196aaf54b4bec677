"""The simulated month goes into a vault through auditor ingest's library code, cleanly, and the rules
meet the acceptance bar against its labels (issue 3, item 6)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
from hypothesis import given, settings, strategies as st

from auditor.audit.blocks import stored_events
from auditor.policy.frames import Period
from auditor.policy.rules import load_policy
from auditor.policy.findings import Finding
from auditor.simulation.evaluation import evaluate, read_labels, render, score, triage_of
from auditor.simulation.writer import FILES
from tests.simulation.conftest import NEW_YORK, read

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), NEW_YORK)


def test_ingest_loads_every_row_and_ignores_the_labels(small_hospital, ingested):
    _, summary = ingested
    assert set(summary.files) == set(FILES)  # labels.csv and simulation.json are not contract files
    assert summary.rejected == [] and summary.warnings == [] and summary.unknown_accounts == 0
    for name, count in summary.files.items():
        assert count.rows == small_hospital.rows[name] == count.loaded, name


def test_timestamps_with_an_offset_land_on_their_exact_instant(small_hospital, ingested):
    vault, _ = ingested
    log = read(small_hospital.folder, "access_log.csv")
    offset = log[log["timestamp"].str.endswith("-05:00")].head(20)
    assert len(offset)
    wanted = set(offset["event_id"])
    with vault.records.connect() as conn:  # imported events are stored in blocks
        stored = {e.row[3]: e.row[1] for e in stored_events(conn) if e.row[3] in wanted}
    for event_id, text in zip(offset["event_id"], offset["timestamp"]):
        at = datetime.fromisoformat(text).astimezone(timezone.utc)
        assert stored[event_id] == int((at - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()) * 10**6


def test_the_rules_meet_the_bar_on_a_small_hospital(small_hospital, ingested):
    vault, _ = ingested
    labels = read_labels(small_hospital.paths["labels.csv"])
    result = evaluate(vault.records, load_policy(), labels, NOVEMBER)
    # 2,000 patients leave too few encounters ending in a department's late band to browse 15 of them:
    # no curiosity at this size (tests/simulation/test_hospital.py has it at 60,000 events)
    assert len(result.rules) == 15 and all(r.labelled > 0 for r in result.rules if r.rule != "unusual-access")
    for r in result.rules:
        assert (r.reported == 0) if r.labelled == 0 else r.recall >= 0.95, (r.rule, r)
    assert result.precision >= 0.95 and result.explained_share >= 0.95
    assert result.normal_accesses > 0.9 * small_hospital.rows["access_log.csv"]
    assert result.meets()
    table = render(result)
    assert "no-treatment-relationship" in table and "targets" in table and ": met" in table


def test_the_evaluation_sees_wrong_labels(small_hospital, ingested):
    """Labels that disagree with the findings lower precision and recall: the bar can fail."""
    vault, _ = ingested
    labels = read_labels(small_hospital.paths["labels.csv"])
    family = labels["rule"] == "family-access"
    moved = labels.assign(rule=labels["rule"].where(~family, "neighbor-access"))
    result = evaluate(vault.records, load_policy(), moved, NOVEMBER)
    rules = {r.rule: r for r in result.rules}
    assert rules["family-access"].labelled == 0 and rules["family-access"].precision == 0.0
    assert rules["neighbor-access"].recall < 1.0 and not result.meets()


def test_score_counts_event_rule_pairs():
    labels = pd.DataFrame({"event_id": ["a", "b", "c", "c"], "rule": ["x", "x", "x", "y"],
                           "injected": [True, False, True, True]})
    reported = pd.DataFrame({"event_id": ["a", "c", "d"], "rule": ["x", "y", "y"]})
    scores = {s.rule: s for s in score(labels, reported, ["x", "y", "z"])}
    assert (scores["x"].labelled, scores["x"].injected, scores["x"].reported, scores["x"].correct) == (3, 2, 1, 1)
    assert scores["x"].precision == 1.0 and scores["x"].recall == 1 / 3
    assert scores["y"].precision == 0.5 and scores["y"].recall == 1.0
    assert scores["z"].precision is None and scores["z"].recall is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=1, max_size=40))
def test_roc_auc_is_the_share_of_positive_negative_pairs_ranked_right_ties_half(rows):
    """roc_auc against its definition, pair by pair."""
    from auditor.simulation.evaluation import roc_auc

    scores = pd.Series([s for s, _ in rows], dtype=float)
    positive = pd.Series([p for _, p in rows])
    pairs = [(a, b) for a, pa in rows if pa for b, pb in rows if not pb]
    expected = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs) if pairs else None
    got = roc_auc(scores, positive)
    assert got == expected if expected is None else abs(got - expected) < 1e-9


def test_the_budget_is_measured_on_injected_violations_not_on_residue():
    """Residue (normal work no explanation covers) is labelled, as a rule rightly reports it, but the
    budget is there to push it down: the share inside it counts the injected violations alone."""
    def finding(user, events, risk, severity="high"):
        return Finding(rule="no-treatment-relationship", severity=severity, user_id=user, patient_id=None, mrn=None,
                       event_ids=events, risk=risk, explanation="")
    findings = [finding("gap", ["r1", "r2"], 75), finding("snoop", ["v1"], 70), finding("gone", ["t1"], 90, "critical")]
    labels = pd.DataFrame({"event_id": ["r1", "r2", "v1", "t1"],
                           "rule": ["no-treatment-relationship"] * 3 + ["terminated-user-access"],
                           "injected": [False, False, True, True]})
    events = {"r1", "r2", "v1", "t1", "n1"}
    counted = [{"events": 5, "labelled": ["r1", "r2", "v1", "t1"]}]  # what LabelTally counts of them
    two = triage_of(findings, labels, counted, events, load_policy(), 2)  # the critical case, then the residue
    assert (two.cases, two.inside_share, two.critical_inside_share) == (3, 0.5, 1.0)
    three = triage_of(findings, labels, counted, events, load_policy(), 3)
    assert three.inside_share == 1.0 and three.auc == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, 0, 20, 55, 90]), st.booleans(), st.booleans()), min_size=1,
                max_size=40), st.integers(0, 40))
def test_the_auc_over_counted_events_is_the_auc_over_listed_ones(rows, cut):
    """What a cluster sends (events counted per partition, the cited ones listed) gives the AUC the
    whole list of the period's events gives: every uncited event at 0."""
    from auditor.simulation.evaluation import _auc, roc_auc

    refs = [f"e{i}" for i in range(len(rows))]
    everything = [r for r, (_, labelled, seen) in zip(refs, rows) if labelled or seen]
    risk = {r: score for r, (score, _, _) in zip(refs, rows) if score is not None}
    labelled = {r for r, (_, is_labelled, _) in zip(refs, rows) if is_labelled}
    listed = roc_auc(pd.Series([float(risk.get(r, 0)) for r in everything]), pd.Series([r in labelled for r in everything]))
    seen = [r for r, (_, _, s) in zip(refs, rows) if s]
    parts = [seen[:cut], seen[cut:]]  # two partitions' counts
    tallies = [{"events": len(p), "labelled": [r for r in p if r in labelled]} for p in parts]
    cited = pd.DataFrame({"event_id": list(risk), "user_id": "u", "risk": list(risk.values())})
    counted = _auc(cited, labelled, tallies, set(seen))
    assert counted == listed if listed is None or counted is None else abs(counted - listed) < 1e-9
