"""Deadline arithmetic: 30 days (+ one 30-day extension noticed within the first 30) for access,
60 + 30 for accountings, shorter state deadlines; across month ends and leap days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, strategies as st

from auditor.errors import InputError
from auditor.roi.deadlines import extended_due, first_due, standing
from auditor.roi.policy import load_roi_policy

POLICY = load_roi_policy()
ACCESS, ACCOUNTING = POLICY.deadline("access", None), POLICY.deadline("accounting", None)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@pytest.mark.parametrize("received, due", [
    (date(2024, 1, 31), date(2024, 3, 1)),    # leap year: 29 days of February
    (date(2023, 1, 31), date(2023, 3, 2)),
    (date(2024, 2, 29), date(2024, 3, 30)),   # received on a leap day
    (date(2026, 12, 15), date(2027, 1, 14)),  # across the year end
])
def test_access_due_dates_across_month_ends_and_leap_days(received, due):
    assert first_due(received, ACCESS) == due


def test_accounting_is_sixty_plus_thirty():
    due = first_due(date(2024, 1, 1), ACCOUNTING)
    assert due == date(2024, 3, 1)
    assert extended_due(date(2024, 1, 1), due, False, date(2024, 2, 15), ACCOUNTING) == date(2024, 3, 31)


def test_state_deadline_is_configuration():
    california = POLICY.deadline("access", "ca")
    assert first_due(date(2026, 1, 1), california) == date(2026, 1, 16) and california.extension_days == 0
    assert POLICY.deadline("access", "NY") == ACCESS  # no state rule: the federal one
    with pytest.raises(InputError, match="no extension"):
        extended_due(date(2026, 1, 1), date(2026, 1, 16), False, date(2026, 1, 2), california)


@given(received=days, notice_after=st.integers(0, 30))
def test_one_extension_noticed_within_the_first_thirty_days(received, notice_after):
    due = first_due(received, ACCESS)
    assert (due - received).days == 30
    new = extended_due(received, due, False, received + timedelta(days=notice_after), ACCESS)
    assert (new - received).days == 60
    with pytest.raises(InputError, match="only one extension"):
        extended_due(received, new, True, received + timedelta(days=notice_after), ACCESS)


@given(received=days, late=st.integers(1, 400))
def test_a_notice_after_the_first_period_extends_nothing(received, late):
    due = first_due(received, ACCESS)
    with pytest.raises(InputError, match="within the first 30 days"):
        extended_due(received, due, False, due + timedelta(days=late), ACCESS)


@given(due=days, offset=st.integers(-60, 60))
def test_standing_against_the_deadline(due, offset):
    s = standing(due, due + timedelta(days=offset))
    assert s.overdue == (offset > 0) and s.days_left == -offset
    assert s.label(7) == ("overdue" if offset > 0 else "due" if offset >= -7 else "open")
