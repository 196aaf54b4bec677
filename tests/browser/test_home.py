"""The home page in a browser: the month at a glance for an officer, another month chosen in its
form, and the same page for an ROI coordinator, who sees the requests and not the cases."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from auditor.cases.settings import load_case_settings
from auditor.review.casework import list_cases
from auditor.review.period import month_period
from tests.browser.axe import assert_accessible


@pytest.mark.parametrize("role", ["privacy_officer"])
def test_an_officer_sees_the_month_at_a_glance(page, office, role):
    expect(page.get_by_role("heading", name="2026-11 at a glance")).to_be_visible()
    period = month_period("2026-11", office.vault.timezone)
    cases = list_cases(office.vault, load_case_settings(), first_day=period.first_day, last_day=period.last_day)
    expect(page.locator("#glance-cases-open")).to_have_text(str(sum(c.status != "closed" for c in cases)))
    expect(page.locator("#glance-explained")).to_contain_text("%")
    expect(page.locator("#glance-verified")).to_have_text("not verified yet")
    assert_accessible(page)
    page.get_by_label("Month").fill("2026-10")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="2026-10 at a glance")).to_be_visible()
    expect(page.locator("#glance-explained")).to_have_text("not reviewed yet")
    assert_accessible(page)


@pytest.mark.parametrize("role", ["roi_coordinator"])
def test_an_roi_coordinator_sees_the_requests_not_the_cases(page, office, role):
    expect(page.get_by_role("heading", name="Release of information")).to_be_visible()
    expect(page.locator("#glance-requests-overdue")).to_have_text("0")
    expect(page.locator("#glance-cases-open")).to_have_count(0)
    expect(page.locator("#glance-accesses")).to_have_count(0)
    assert_accessible(page)
