"""Explanation templates (auditor.policy.templates): each kind's window edges once approved, nothing
explained before approval, never a sensitive record type, and the site file checked like the rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.policy import engine
from auditor.policy.examples import frames_from_tables
from auditor.policy.rules import lint
from auditor.policy.templates import KINDS, ApprovedTemplate, Template, candidates, parse_id
from tests.policy.test_explanations import reads_only_its_columns

THERAPIST = {"user_id": "t.one", "role": "therapist", "department": "Rehabilitation"}
COLLEAGUE = {"user_id": "t.two", "role": "therapist", "department": "rehabilitation "}
NURSE = {"user_id": "n.doe", "role": "nurse", "department": "Cardiology"}


def _with(policy, *templates: Template):
    approved = tuple(ApprovedTemplate(t, "officer", date(2026, 11, 1)) for t in templates)
    ex = replace(policy.settings.explanations, approved=approved)
    return replace(policy, settings=replace(policy.settings, explanations=ex))


def _why(policy, events, **tables) -> dict:
    frames = frames_from_tables(workforce=[THERAPIST, COLLEAGUE, NURSE], patients=[{"patient_id": 1}, {"patient_id": 2}],
                                events=events, **tables)
    ctx = engine.run(frames, policy).context
    reads_only_its_columns(ctx)
    why = ctx.accesses["explained_by"].astype(object)
    return dict(zip(ctx.accesses["event_ref"], why.where(why.notna(), None)))


TEAM = [{"patient_id": 1, "user_id": "t.two", "start": "2026-11-10T09:00:00", "end": "2026-11-12T09:00:00"}]
COVERING = [{"id": "before", "at": "2026-11-09T08:59:59", "user_id": "t.one", "patient_id": 1},
            {"id": "first", "at": "2026-11-09T09:00:00", "user_id": "t.one", "patient_id": 1},
            {"id": "last", "at": "2026-11-13T09:00:00", "user_id": "t.one", "patient_id": 1},
            {"id": "after", "at": "2026-11-13T09:00:01", "user_id": "t.one", "patient_id": 1},
            {"id": "hiv", "at": "2026-11-11T09:00:00", "user_id": "t.one", "patient_id": 1, "record_type": "hiv"},
            {"id": "other-department", "at": "2026-11-11T09:00:00", "user_id": "n.doe", "patient_id": 1},
            {"id": "other-patient", "at": "2026-11-11T09:00:00", "user_id": "t.one", "patient_id": 2}]


def test_a_template_explains_nothing_until_it_is_approved(policy):
    assert set(_why(policy, COVERING, care_team=TEAM).values()) == {None}


def test_department_care_team_explains_a_colleague_covering_within_its_days_never_a_sensitive_record(policy):
    got = _why(_with(policy, Template.of("department_care_team", {"days": 1})), COVERING, care_team=TEAM)
    assert got == {"before": None, "first": "approved", "last": "approved", "after": None, "hiv": None,
                   "other-department": None, "other-patient": None}


def test_department_encounter_widens_rule_3(policy):
    encounter = [{"patient_id": 1, "department": "Rehabilitation", "attending": None, "start": "2026-09-01T09:00:00",
                  "end": "2026-09-01T10:00:00"}]
    events = [{"id": "day-59", "at": "2026-10-31T10:00:00", "user_id": "t.one", "patient_id": 1},
              {"id": "day-60", "at": "2026-10-31T10:00:01", "user_id": "t.one", "patient_id": 1}]
    assert set(_why(policy, events, encounters=encounter).values()) == {None}  # rule 3 ends 30 days after
    wider = _with(policy, Template.of("department_encounter", {"days_before": 14, "days_after": 60}))
    assert _why(wider, events, encounters=encounter) == {"day-59": "approved", "day-60": None}


def test_colleague_first_follows_an_explained_access_of_the_department_within_its_minutes(policy):
    team = [{"patient_id": 1, "user_id": "t.two", "start": "2026-11-10T00:00:00", "end": "2026-11-10T23:00:00"}]
    events = [{"id": "colleague", "at": "2026-11-10T09:00:00", "user_id": "t.two", "patient_id": 1},
              {"id": "before-them", "at": "2026-11-10T08:59:00", "user_id": "t.one", "patient_id": 1},
              {"id": "hour", "at": "2026-11-10T10:00:00", "user_id": "t.one", "patient_id": 1},
              {"id": "late", "at": "2026-11-10T10:00:01", "user_id": "t.one", "patient_id": 1}]
    got = _why(_with(policy, Template.of("colleague_first", {"minutes": 60})), events, care_team=team)
    assert got == {"colleague": "care_team", "before-them": None, "hour": "approved", "late": None}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(list(KINDS)), st.data())
def test_an_id_reads_back_as_its_template(kind, data):
    params = {name: data.draw(st.integers(low, high)) for name, (low, high) in KINDS[kind][0].items()}
    template = Template.of(kind, params)
    assert parse_id(template.id) == template


@pytest.mark.parametrize("text, message", [
    ("nowhere:days=1", "unknown template kind 'nowhere'"),
    ("department_care_team:days=400", "days must be a whole number from 0 to 365"),
    ("department_care_team:weeks=1", "department_care_team takes days"),
    ("colleague_first:minutes=ten", "'minutes=ten' is not name=whole number"),
])
def test_a_bad_template_id_says_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_id(text)


def test_every_candidate_is_a_valid_template():
    assert all(parse_id(t.id) == t for t in candidates())


def test_the_site_file_is_linted_with_its_lines(tmp_path):
    (tmp_path / "explanations.yaml").write_text(
        "approved:\n"
        "- id: department_care_team:days=1\n  kind: department_care_team\n  parameters: {days: 1}\n"
        "  approved_by: officer\n  approved_on: 2026-11-30\n"
        "- kind: colleague_first\n  parameters: {minutes: 0}\n  approved_by: officer\n  approved_on: 2026-11-30\n"
        "- kind: department_encounter\n  parameters: {days_before: 1, days_after: 2}\n  approved_on: 2026-11-30\n"
        "- id: department_care_team:days=2\n  kind: department_care_team\n  parameters: {days: 1}\n"
        "  approved_by: officer\n  approved_on: someday\n")
    problems, policy = lint(site_dir=tmp_path)
    assert policy is None
    found = {(p.line, p.message) for p in problems}
    assert (8, "minutes must be a whole number from 1 to 10080") in found
    assert any(line == 11 and "approved_by names the privacy officer" in m for line, m in found)
    assert any(line == 14 and "does not match its kind and parameters" in m for line, m in found)
    assert (18, "approved_on must be a date (YYYY-MM-DD)") in found
    assert len(problems) == 4  # the first one is good
