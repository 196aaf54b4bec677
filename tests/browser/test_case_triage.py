"""Triage and close a case in a browser: a privacy officer opens the triage queue, the case at its
top, starts the review, is told why a sanction without a confirmed violation is refused, and closes
the case with its disposition and sanction (45 CFR 164.530(e)); the case file in the vault says so."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from auditor.cases.settings import load_case_settings
from auditor.review.casework import case_file, list_cases
from tests.browser.axe import assert_accessible


@pytest.mark.parametrize("role", ["privacy_officer"])
def test_an_officer_triages_and_closes_a_case(page, office, role):
    settings = load_case_settings()
    top = list_cases(office.vault, settings, status="open")[0]  # the queue's first row: the triage order
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Triage queue").click()
    expect(page.get_by_role("heading", name="Triage queue")).to_be_visible()
    assert_accessible(page)
    page.locator("#queue").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(rf"/cases/{top.id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {top.id}: {top.user_id}")
    assert_accessible(page)

    page.get_by_label("Note (optional)").fill("Opened from the queue: checking the member's schedule.")
    page.get_by_role("button", name="Start the review").click()
    expect(page.get_by_role("status")).to_have_text("The case is under review.")
    assert_accessible(page)

    page.get_by_label("Disposition").select_option("not_a_violation")
    page.get_by_label("Sanction").select_option("written_warning")
    page.get_by_role("button", name="Close the case").click()
    expect(page.get_by_role("status")).to_contain_text("only for a confirmed_violation")
    assert case_file(office.vault, top.id, settings).case.status == "under_review"
    assert_accessible(page)

    page.get_by_label("Disposition").select_option("confirmed_violation")
    page.get_by_label("Sanction").select_option("education")
    page.get_by_label("Note (optional)").fill("Confirmed with the manager; training booked.")
    page.get_by_role("button", name="Close the case").click()
    expect(page.get_by_role("status")).to_have_text("The case is closed.")
    expect(page.get_by_role("button", name="Close the case")).to_have_count(0)
    assert_accessible(page)

    kept = case_file(office.vault, top.id, settings)
    assert (kept.case.status, kept.case.disposition, kept.case.sanction) == ("closed", "confirmed_violation", "education")
    assert [(h.action, h.by) for h in kept.history[-2:]] == [("review_started", office.staff[role].user),
                                                              ("closed", office.staff[role].user)]
    assert kept.history[-1].note == "Confirmed with the manager; training booked."
