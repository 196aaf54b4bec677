"""unusual-access: curious charts counted per user against the peer group's rate, each feature at its edge,
the fallback to the role, the sentence, and that it looks only at explained accesses no other rule flags."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.policy import engine
from auditor.policy.examples import frames_from_tables
from auditor.policy.findings import build_findings
from auditor.policy.rules import Policy, lint
from auditor.policy.templates import ApprovedTemplate, Template

ENDED = "2026-10-01T12:00:00"  # every encounter here ends then; accesses come in late October
SCALED = {"minimum": 2, "multiple": 3, "margin": 0, "minimum_peers": 2}


def _nurse(user_id, department="Cardiology", **shift):
    return {"user_id": user_id, "role": "nurse", "department": department, **shift}


def _encounters(patients, department="Cardiology"):
    return [{"patient_id": p, "department": department, "start": "2026-09-28T09:00:00", "end": ENDED}
            for p in patients]


def _ev(eid, user, patient, at="2026-10-28T10:00:00", record_type="demographics"):
    return {"id": eid, "at": at, "user_id": user, "patient_id": patient, "record_type": record_type}


def _run(policy, params, **tables):
    rule = policy.rules["unusual-access"]
    policy = Policy({**policy.rules, "unusual-access": replace(rule, parameters={**rule.parameters, **params})},
                    policy.settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return build_findings(engine.run(frames_from_tables(**tables), policy), policy)


def _unusual(policy, params, **tables):
    return sorted(sorted(f.event_ids) for f in _run(policy, params, **tables) if f.rule == "unusual-access")


def _browsing(charts: int, features_of=lambda i: {}):
    """n.c opens `charts` curious charts (patients 1..charts); n.a and n.b one current patient (99)."""
    patients = list(range(1, charts + 1))
    events = [_ev("a", "n.a", 99, record_type="note"), _ev("b", "n.b", 99, record_type="note")]
    events += [{**_ev(f"c{i}", "n.c", i), **features_of(i)} for i in patients]
    return dict(workforce=[_nurse("n.a"), _nurse("n.b"), _nurse("n.c")],
                patients=[{"patient_id": p} for p in [*patients, 99]],
                encounters=_encounters(patients) + [{"patient_id": 99, "department": "Cardiology",
                                                     "start": "2026-10-25T09:00:00", "end": "2026-10-30T09:00:00"}],
                events=events)


@pytest.mark.parametrize("feature", ["late", "demographics_only", "unshared"])
def test_each_feature_at_the_minimum_fires_one_under_does_not(policy, feature):
    params = {**SCALED, "minimum": 3, "features": [feature]}
    assert _unusual(policy, params, **_browsing(2)) == []
    assert _unusual(policy, params, **_browsing(3)) == [["c1", "c2", "c3"]]


def test_the_peers_rate_times_multiple_plus_margin_is_the_edge(policy):
    # n.a and n.b open 4 charts each, 1 of them curious (patients 11, 12): a median share of 1/4; n.c
    # opens 8, 4 of them curious: at the peers' rate 2 would be, so 1.5 x 2 + 1 is the edge
    tables = _browsing(4)
    current = [95, 96, 97, 98]
    tables["events"] += [_ev("a2", "n.a", 11), _ev("b2", "n.b", 12)] + [
        _ev(f"{u}{p}", f"n.{u}", p, record_type="note") for u in "ab" for p in current[:2]] + [
        _ev(f"c{p}", "n.c", p, record_type="note") for p in current]
    tables["encounters"] += _encounters([11, 12]) + [{"patient_id": p, "department": "Cardiology",
                                                      "start": "2026-10-25T09:00:00", "end": "2026-10-30T09:00:00"}
                                                     for p in current]
    tables["patients"] += [{"patient_id": p} for p in (11, 12, *current)]
    assert _unusual(policy, {**SCALED, "multiple": 1.5, "margin": 1}, **tables) == [["c1", "c2", "c3", "c4"]]
    assert _unusual(policy, {**SCALED, "multiple": 1.5, "margin": 1.01}, **tables) == []


def test_a_busy_user_at_the_peers_rate_is_not_unusual(policy):
    """The same 4 curious charts: unusual among 5 charts opened when peers have 1 in 10, not among 40
    (a billing clerk's late demographics are their work: more work, more of them)."""
    def month(charts_opened: int):
        tables = _browsing(4)
        current = list(range(100, 100 + max(charts_opened, 10)))
        tables["events"] = [_ev(f"{u}{p}", f"n.{u}", p, record_type="note") for u in "ab" for p in current[:9]] + [
            _ev("a1", "n.a", 11), _ev("b1", "n.b", 12)] + [e for e in tables["events"] if e["user_id"] == "n.c"] + [
            _ev(f"c{p}", "n.c", p, record_type="note") for p in current[: charts_opened - 4]]
        tables["encounters"] += _encounters([11, 12]) + [
            {"patient_id": p, "department": "Cardiology", "start": "2026-10-25T09:00:00", "end": "2026-10-30T09:00:00"}
            for p in current]
        tables["patients"] += [{"patient_id": p} for p in (11, 12, *current)]
        return tables
    params = {**SCALED, "multiple": 3, "margin": 0}
    assert _unusual(policy, params, **month(5)) == [["c1", "c2", "c3", "c4"]]  # 0.1 x 5 = 0.5 expected
    assert _unusual(policy, params, **month(40)) == []  # 0.1 x 40 = 4 expected: 4 < 3 x 4


@pytest.mark.parametrize("at, late", [("2026-10-26T11:59:00", False), ("2026-10-26T12:01:00", True)])
def test_late_is_more_than_late_days_after_the_encounter_ended(policy, at, late):
    tables = _browsing(2, lambda i: {"at": at})
    assert bool(_unusual(policy, {**SCALED, "late_days": 25, "features": ["late"]}, **tables)) is late


def test_a_current_order_or_care_team_makes_a_chart_not_late(policy):
    tables = _browsing(2)
    tables["care_team"] = [{"patient_id": 2, "user_id": "n.c", "start": "2026-10-27T00:00:00"}]
    assert _unusual(policy, {**SCALED, "features": ["late"]}, **tables) == []


def test_an_approved_template_that_still_covers_a_chart_makes_it_not_late(policy):
    """A colleague of the department is on the patient's care team: the approved department_care_team
    template (which reads the members' departments) still explains the access after the encounter's
    window has closed, so the chart is not late."""
    tables = _browsing(2)
    tables["care_team"] = [{"patient_id": 2, "user_id": "n.a", "start": "2026-10-27T00:00:00"}]
    params = {**SCALED, "features": ["late"]}
    assert _unusual(policy, params, **tables) == [["c1", "c2"]]
    template = ApprovedTemplate(Template.of("department_care_team", {"days": 1}), "officer", date(2026, 10, 1))
    explanations = replace(policy.settings.explanations, approved=(template,))
    approved = replace(policy, settings=replace(policy.settings, explanations=explanations))
    assert _unusual(approved, params, **tables) == []


def test_a_chart_read_beyond_its_demographics_or_opened_by_a_peer_is_not_curious(policy):
    note = _browsing(2, lambda i: {"record_type": "note"} if i == 2 else {})
    assert _unusual(policy, {**SCALED, "features": ["demographics_only"]}, **note) == []
    shared = _browsing(2)
    shared["events"].append(_ev("a2", "n.a", 2))
    assert _unusual(policy, {**SCALED, "features": ["unshared"]}, **shared) == []


def test_a_small_group_is_compared_with_the_role_across_departments(policy):
    # n.c is Cardiology's only active nurse: their own median (3) would hide them; the role's is 1
    tables = _browsing(3)
    tables["workforce"] = [_nurse("n.a", "Oncology"), _nurse("n.b", "Oncology"), _nurse("n.d", "Oncology"),
                           _nurse("n.c")]
    tables["encounters"] = _encounters([1, 2, 3]) + _encounters([11, 12, 13, 99], "Oncology")
    tables["patients"] += [{"patient_id": p} for p in (11, 12, 13)]
    tables["events"] = [_ev(f"o{p}", u, p) for u, p in (("n.a", 11), ("n.b", 12), ("n.d", 13))] + [
        _ev(f"{u}99", u, 99, record_type="note") for u in ("n.a", "n.b", "n.d")] + [
        e for e in tables["events"] if e["user_id"] == "n.c"]  # the role: half its charts curious, n.c all
    params = {**SCALED, "multiple": 2, "minimum_peers": 3, "features": ["late", "demographics_only"]}
    found = [f for f in _run(policy, params, **tables) if f.rule == "unusual-access"]
    assert [sorted(f.event_ids) for f in found] == [["c1", "c2", "c3"]]
    assert "nurses of every department (fewer than 3 in Cardiology) open a median of 1 such chart, 50% " in \
        found[0].explanation
    assert _unusual(policy, {**params, "minimum_peers": 1}, **tables) == []  # against Cardiology alone


def test_the_sentence_compares_with_the_peers_and_names_no_patient(policy):
    found = [f for f in _run(policy, {**SCALED, "features": ["late", "demographics_only", "unshared"]},
                             **_browsing(3)) if f.rule == "unusual-access"]
    assert len(found) == 1 and found[0].mrn is None and found[0].severity == "medium"
    assert found[0].explanation == (
        "Nurse n.c (Cardiology) opened only the demographics of 3 patients whose encounter had ended more "
        "than 25 days earlier and that no other nurse of Cardiology opened on 2026-10-28, of the 3 patients "
        "they opened in the period; nurses of Cardiology open a median of 0 such charts, 0% of the charts "
        "they open, which would be 0.0 of 3 (threshold: at least 2, and 3 times that plus 0).")


def test_unexplained_accesses_are_not_counted(policy):
    tables = _browsing(3)
    tables["encounters"] = [e for e in tables["encounters"] if e["patient_id"] != 3]  # patient 3: nothing explains it
    found = _run(policy, {**SCALED, "minimum": 3}, **tables)
    assert [f.event_ids for f in found if f.rule == "no-treatment-relationship"] == [["c3"]]
    assert not [f for f in found if f.rule == "unusual-access"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 12), st.sampled_from(["10:00", "23:30"]),
                          st.sampled_from(["demographics", "note"]), st.booleans()), min_size=1, max_size=12))
def test_never_an_access_another_rule_flags_and_only_explained_ones(policy, visits):
    """Random late-October visits by a day-shift nurse, some at night (after-hours), some to a patient
    nothing explains (no-treatment-relationship): unusual-access cites only what no other rule does."""
    events = [_ev(f"c{i}", "n.c", (i % 5) + 1 if explained else 50 + i,
                  at=f"2026-10-{15 + day:02d}T{clock}:00", record_type=kind)
              for i, (day, clock, kind, explained) in enumerate(visits)]
    tables = _browsing(0)
    tables["workforce"][2] = _nurse("n.c", shift_start="08:00", shift_end="16:00")
    tables["events"] += events
    tables["patients"] += [{"patient_id": p} for p in [*range(1, 6), *range(50, 62)]]
    tables["encounters"] += _encounters(range(1, 6))
    found = _run(policy, {**SCALED, "minimum": 1, "features": ["late", "demographics_only"]}, **tables)
    others = {e for f in found if f.rule != "unusual-access" for e in f.event_ids}
    mine = {e for f in found if f.rule == "unusual-access" for e in f.event_ids}
    assert not mine & others
    unexplained = {e["id"] for e in events if e["patient_id"] >= 50}
    assert not mine & unexplained


def test_lint_refuses_an_unknown_feature(tmp_path):
    (tmp_path / "unusual-access.yaml").write_text("id: unusual-access\nparameters:\n  features: [gossip]\n")
    problems, _ = lint(site_dir=tmp_path)
    assert any("'features' must be of kind peer_features" in str(p) for p in problems)
