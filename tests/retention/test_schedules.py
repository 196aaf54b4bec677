"""Retention schedules: our files load, the periods follow DOMAIN.md, and every problem of a bad file
is reported at its line."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from auditor.errors import InputError
from auditor.retention.schedules import (MEDICARE_FLOOR_YEARS, ScheduleError, add_years, lint_schedules,
                                         load_schedules, schedule_for)


@pytest.fixture(scope="module")
def ours():
    return load_schedules()


def test_our_schedules_hold_the_defaults_of_the_domain(ours):
    assert set(ours) == {"default", "CA", "NC"}
    assert ours["default"].adult_years == 10 and ours["CA"].adult_years == 7 and ours["NC"].adult_years == 11
    nc = ours["NC"]
    assert nc.majority_age + nc.years_after_majority == 30  # NC: minors to age 30
    assert all(len(s.digest) == 64 for s in ours.values())


def test_periods_count_from_the_last_encounter(ours):
    default, nc = ours["default"], ours["NC"]
    adult = default.period(date(2010, 5, 1), {"encounter", "note"}, date(1950, 1, 1))
    assert adult.retain_until == date(2020, 5, 1) and "10 years" in adult.basis
    minor = nc.period(date(2010, 5, 1), {"encounter"}, date(2005, 6, 1))
    assert minor.retain_until == date(2035, 6, 1) and "minor" in minor.basis  # his 30th birthday
    grown = nc.period(date(2010, 5, 1), {"encounter"}, date(1980, 6, 1))
    assert grown.retain_until == date(2021, 5, 1)
    assert default.period(date(2010, 5, 1), {"encounter", "birth_record"}, None).retain_until is None


def test_a_leap_day_becomes_the_28th():
    assert add_years(date(2016, 2, 29), 10) == date(2026, 2, 28)
    assert add_years(date(2016, 2, 29), 8) == date(2024, 2, 29)


def test_schedule_for_a_state_or_the_default(ours):
    assert schedule_for(ours, "ca").id == "california"
    assert schedule_for(ours, None).id == "default"
    with pytest.raises(InputError, match="no retention schedule for state 'TX'"):
        schedule_for(ours, "TX")


BAD = """\
id: Bad_Id
state: Carolina
title: x
adult_years: 3
minors:
  majority_age: 40
colour: blue
record_types:
  imaging: 2
permanent:
  - imaging
"""


def test_every_problem_of_a_bad_file_at_its_line(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    problems, schedules = lint_schedules(tmp_path)
    assert schedules == {}
    found = {(p.line, p.message.split(" ")[0]) for p in problems}
    text = "\n".join(str(p) for p in problems)
    assert f"{tmp_path / 'bad.yaml'}:4: 3 years is below the 5-year Medicare floor" in text
    assert ":1: id 'Bad_Id'" in text and ":2: state 'Carolina'" in text
    assert ":6: majority_age must be" in text and ":5: minors needs years_after_majority" in text
    assert ":7: unknown key 'colour'" in text and ":9: 2 years is below" in text
    assert ":11: record type 'imaging' is both permanent" in text
    assert len(found) == len(problems) == 8
    with pytest.raises(ScheduleError, match="8 problem"):
        load_schedules(tmp_path)


def test_two_files_for_one_state_and_broken_yaml(tmp_path):
    text = Path(load_schedules()["CA"].path).read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text.replace("id: california", "id: california-two"))
    (tmp_path / "c.yaml").write_text("id: [unclosed\n")
    problems, _ = lint_schedules(tmp_path)
    messages = [str(p) for p in problems]
    assert any("b.yaml" in m and "state 'CA' is already the state of a.yaml" in m for m in messages)
    assert any("c.yaml:" in m and "not valid YAML" in m for m in messages)
    assert lint_schedules(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)[0]


@given(last=st.dates(date(1990, 1, 1), date(2030, 12, 31)), birth=st.none() | st.dates(date(1900, 1, 1), date(2030, 1, 1)),
       types=st.sets(st.sampled_from(["encounter", "note", "imaging", "psychotherapy_note", "lab"]), min_size=1),
       state=st.sampled_from(["default", "CA", "NC"]))
def test_no_period_is_shorter_than_the_medicare_floor_or_the_adult_one(last, birth, types, state):
    schedule = load_schedules()[state]
    period = schedule.period(last, types, birth)
    assert period.retain_until >= add_years(last, MEDICARE_FLOOR_YEARS)
    assert period.retain_until >= add_years(last, schedule.adult_years)
    if birth is not None and add_years(birth, schedule.majority_age) > last:
        assert period.retain_until >= add_years(birth, schedule.majority_age + schedule.years_after_majority)


@given(last=st.dates(date(1990, 1, 1), date(2030, 12, 31)), offset=st.integers(-2, 2),
       types=st.sets(st.sampled_from(["encounter", "note", "imaging", "psychotherapy_note", "lab"]), min_size=1),
       state=st.sampled_from(["default", "CA", "NC"]))
@example(last=date(2010, 5, 1), offset=0, types={"encounter"}, state="NC")  # of age on the day of the last encounter
@example(last=date(2010, 5, 1), offset=1, types={"encounter"}, state="NC")  # of age the day after it
def test_the_minors_rule_turns_on_at_the_day_of_majority(last, offset, types, state):
    """Born so that the age of majority falls `offset` days from the last encounter (the boundary): a
    minor at the last encounter is kept until majority plus N years if that is later; on the day of
    majority the patient is an adult and the adult period alone counts."""
    schedule = load_schedules()[state]
    birth = add_years(last + timedelta(days=offset), -schedule.majority_age)
    majority = add_years(birth, schedule.majority_age)
    adult = add_years(last, max(schedule.years_for(t) for t in types))
    period = schedule.period(last, types, birth)
    if majority > last:
        assert period.retain_until == max(adult, add_years(birth, schedule.majority_age + schedule.years_after_majority))
    else:
        assert period.retain_until == adult and "minor" not in period.basis
