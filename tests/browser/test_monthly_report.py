"""The monthly report in a browser: a privacy officer asks for November 2026 on the Reports page, the
progress page refreshes itself (htmx, within the CSP) until the report is made, and the officer
downloads it as HTML and as PDF; the report store keeps it in the officer's name, the files the
browser saved are the ones it keeps, and each download is recorded."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from auditor.review.stored_reports import ReportStore
from tests.browser.axe import assert_accessible
from tests.web.desks import events_since, log_size

MADE_WITHIN_MS = 90_000  # the month reviewed, the log verified, HTML and PDF written, on a shared machine


def _download(page, name: str) -> tuple[str, bytes]:
    with page.expect_download() as download:
        page.get_by_role("link", name=name, exact=True).click()
    with open(download.value.path(), "rb") as f:
        return download.value.suggested_filename, f.read()


@pytest.mark.parametrize("role", ["privacy_officer"])
def test_an_officer_generates_and_downloads_the_monthly_report(page, office, role):
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Reports").click()
    expect(page.get_by_text("No report has been made here yet.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Month").fill("2026-11")
    page.get_by_role("button", name="Generate").click()
    expect(page).to_have_url(re.compile(r"/reports/progress/\d+$"))
    expect(page.get_by_role("heading", name="Monthly report")).to_be_visible()
    assert_accessible(page)  # as it first shows: waiting or running (or, on a quick day, done)

    done = page.get_by_role("status")
    expect(done).to_contain_text("for 2026-11", timeout=MADE_WITHIN_MS)
    report_id = int(re.search(r"Report (\d+) for", done.inner_text()).group(1))
    assert_accessible(page)

    before = log_size(office.vault)
    html_name, html = _download(page, "HTML")
    pdf_name, pdf = _download(page, "PDF")
    assert (html_name, pdf_name) == ("privacy-report-2026-11.html", "privacy-report-2026-11.pdf")
    assert pdf.startswith(b"%PDF") and b"<html" in html[:500].lower() and b"2026-11" in html
    user = office.staff[role].user
    taken = [e.detail for e in events_since(office.vault, before) if e.record_type == "monthly_report"]
    assert [d.split(", web session")[0] for d in taken] == [
        f"monthly report {report_id} (report.html) downloaded by {user}",
        f"monthly report {report_id} (report.pdf) downloaded by {user}"]

    store = ReportStore(office.vault.home)
    kept = store.get(report_id)
    assert (kept.month, kept.requested_by, kept.log_verified) == ("2026-11", user, True)
    assert kept.accesses > 0 and set(kept.kinds) == {"html", "pdf"}
    assert store.file(report_id, "html")[1] == html and store.file(report_id, "pdf")[1] == pdf

    page.get_by_role("link", name="All reports").click()
    expect(page.locator("#reports tbody tr")).to_have_count(1)
    assert_accessible(page)
