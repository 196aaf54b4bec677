"""The patient access report in a browser: an investigator types an MRN (into a POST form: the harness
fails the test if it ever shows in a URL or a log line), reads who opened the chart and why, and the
page passes axe as the form and as the report."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from auditor.review.patient_access import patient_access_report
from tests.browser.axe import assert_accessible


@pytest.mark.parametrize("role", ["investigator"])
def test_an_investigator_reads_who_opened_a_chart(page, office, role):
    mrn = next(m for m in sorted(office.phi.mrns) if patient_access_report(office.vault, m).accesses)
    page.get_by_role("link", name="Patient access").click()
    assert_accessible(page)
    page.get_by_label("Patient's MRN").fill(mrn)
    page.get_by_role("button", name="Show the accesses").click()
    expect(page.get_by_role("status")).to_contain_text("access(es) by")
    expect(page.get_by_role("table")).to_contain_text("investigator")  # the look-up itself, in their name
    assert mrn not in page.url
    assert_accessible(page)
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Pages")).to_be_hidden()
    expect(page.get_by_role("table")).to_be_visible()
