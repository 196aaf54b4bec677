"""Reviewing a period (findings into cases, names read audited) and previewing one (nothing recorded)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import func, select

from auditor.audit.schema import AuditEventRow
from auditor.errors import InputError
from auditor.review.period import days, month_period, preview_period, review_period, shift_month
from auditor.vault.records import Case
from auditor.vault.settings import UTC


def _count(vault, model) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def test_a_preview_records_nothing_and_reads_no_name_a_review_files_cases(month_vault, policy):
    november = month_period("2026-11", month_vault.timezone)
    log = _count(month_vault, AuditEventRow)
    preview = preview_period(month_vault, november, policy)
    assert preview.attachment is None and preview.findings and preview.cases == 0
    assert all(f.case is None and f.mrn is None and f.rank for f in preview.findings)
    assert (_count(month_vault, AuditEventRow), _count(month_vault, Case)) == (log, 0)

    review = review_period(month_vault, november, policy)
    assert [(f.rule, f.user_id, f.event_ids) for f in review.findings] == [
        (f.rule, f.user_id, f.event_ids) for f in preview.findings]  # the same findings, in the same order
    assert all(f.case is not None for f in review.open_findings) and review.muted == preview.muted
    assert review.cases == _count(month_vault, Case) == len(review.attachment.opened) > 0
    assert any(f.mrn for f in review.findings) and _count(month_vault, AuditEventRow) > log  # names read, audited
    assert (review.accesses, review.explained_share) == (preview.accesses, preview.explained_share)


def test_days_are_the_organisations_local_days(month_vault):
    period = days(month_vault, date(2026, 11, 1), date(2026, 11, 3))
    assert period.tz.key == "America/New_York" and (period.first_day, period.last_day) == (date(2026, 11, 1),
                                                                                          date(2026, 11, 3))
    with pytest.raises(InputError, match="--to is before --from"):
        days(month_vault, date(2026, 11, 3), date(2026, 11, 1))


@given(st.integers(2000 * 12, 2100 * 12), st.integers(-30, 30))
def test_months_shift_across_years_and_cover_every_day(index, k):
    month = month_period(f"{index // 12:04d}-{index % 12 + 1:02d}", UTC)
    shifted = shift_month(month, k)
    assert shifted == month_period(f"{(index + k) // 12:04d}-{(index + k) % 12 + 1:02d}", UTC)
    assert shifted.first_day.day == 1 and (shifted.last_day + timedelta(days=1)).day == 1
    assert shifted.last_day.month == shifted.first_day.month


@pytest.mark.parametrize("month", ["2026-13", "Nov 2026", "2026-1-1", ""])
def test_a_month_not_yyyy_mm_is_refused(month):
    with pytest.raises(InputError, match="is not YYYY-MM"):
        month_period(month, UTC)
