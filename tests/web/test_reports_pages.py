"""The reports page: a privacy officer generates the month's report in the app's background worker,
watches its progress on a page that refreshes itself, and downloads the HTML and the PDF from the
home's report store; a viewer downloads the reports already made and generates nothing. The names
in the report are read in the officer's name; the author is the officer's full name; each download
is an audit event naming who took which file."""

from __future__ import annotations

import re
from html import unescape as html_unescape
import threading

import pytest

from auditor.review.monthly import NAMING, REVIEWING
from auditor.review.stored_reports import WRITING
from tests.reporting.report_data import hospital_month
from tests.web.desks import assert_download, browser, events_since, log_size, post, wait_for


@pytest.fixture
def month(web_vault):
    """November 2026 of the reports' small hospital (America/New_York)."""
    return hospital_month(web_vault)


def test_an_officer_generates_the_month_and_downloads_both_files(month, app, web_vault, new_client, staff, clock):
    officer = browser(new_client, staff, clock, "privacy_officer")
    page = officer.get("/reports")
    assert page.status_code == 200 and 'value="2026-10"' in page.text and "No report has been made" in page.text
    before = log_size(web_vault)
    started = post(officer, "/reports", "/reports/generate", month="2026-11")
    assert (started.status_code, started.headers["location"]) == (303, "/reports/progress/1")
    done = wait_for(officer, "/reports/progress/1")
    assert "Report 1 for 2026-11" in done and 'href="/reports/1/report.pdf"' in done
    stages = [html_unescape(s) for s in re.findall(r"<li>(.*?) <span", done)]
    assert stages[:2] == [REVIEWING.capitalize(), NAMING.capitalize()] and stages[-1] == WRITING.capitalize()

    html = assert_download(officer.get("/reports/1/report.html"), "privacy-report-2026-11.html", "text/html")
    pdf = assert_download(officer.get("/reports/1/report.pdf"), "privacy-report-2026-11.pdf", "application/pdf")
    assert pdf.startswith(b"%PDF") and "Privacy_Officer Person" in html.decode()  # the account's full name
    assert "Star, Vera" in html.decode()
    folder = web_vault.home / "reports" / "1"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in folder.iterdir())

    events = events_since(web_vault, before)
    # the month's review reads MRNs as svc:report; the names printed in the report, as the officer
    names = [e for e in events if e.detail == "patient name for a report"]
    assert names and all((e.user_id, e.role, e.purpose) == ("privacy_officer", "privacy_officer", "HCOMPL")
                         for e in names)
    assert {e.user_id for e in events if e.detail == "MRN for a report"} == {"svc:report"}
    assert all(e.workstation.endswith("web session " + e.workstation.rsplit(" ", 1)[1]) for e in names)
    made = [e.detail for e in events if e.record_type == "monthly_report"]
    assert made[0].startswith("monthly report 1 for 2026-11 made for privacy_officer")
    assert [d.split(" downloaded by ")[0] for d in made[1:]] == ["monthly report 1 (report.html)",
                                                                 "monthly report 1 (report.pdf)"]


def test_a_viewer_downloads_what_was_made_and_generates_nothing(month, web_vault, new_client, staff, clock):
    officer = browser(new_client, staff, clock, "privacy_officer")
    post(officer, "/reports", "/reports/generate", month="2026-11", pseudonymize="on")
    wait_for(officer, "/reports/progress/1")
    viewer = browser(new_client, staff, clock, "viewer")
    page = viewer.get("/reports")
    assert "2026-11 (pseudonymized)" in page.text and "Generate" not in page.text
    before = log_size(web_vault)
    html = assert_download(viewer.get("/reports/1/report.html"), "privacy-report-2026-11.html", "text/html")
    assert "Star, Vera" not in html.decode() and "Patient " in html.decode()
    (event,) = events_since(web_vault, before)
    assert event.detail.startswith("monthly report 1 (report.html) downloaded by viewer, web session ")
    assert post(viewer, "/reports", "/reports/generate", month="2026-11").status_code == 403
    assert viewer.get("/reports/progress/1").status_code == 403


def test_one_piece_of_work_at_a_time_and_its_page_refreshes_itself(month, app, new_client, staff, clock):
    office = app.state.office
    release = threading.Event()
    work = office.background.start("report", "monthly report for 2026-11", "someone else",
                                   lambda progress: progress("waiting for the test") or release.wait(60) and None)
    try:
        officer = browser(new_client, staff, clock, "privacy_officer")
        page = officer.get(f"/reports/progress/{work.id}").text
        assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
        assert f'hx-get="/reports/progress/{work.id}" hx-trigger="every 2s"' in page
        assert "Waiting for the test" in page and "in progress" in page
        refused = post(officer, "/reports", "/reports/generate", month="2026-11")
        assert refused.status_code == 409 and "one piece of background work at a time" in refused.text
    finally:
        release.set()
    over = wait_for(officer, f"/reports/progress/{work.id}")
    assert "http-equiv" not in over and "done" in over


@pytest.mark.parametrize("month, why", [("2026-13", "is not YYYY-MM"), ("", "is not YYYY-MM"),
                                        ("11/2026", "is not YYYY-MM")])
def test_a_bad_month_is_refused_before_anything_starts(month, app, new_client, staff, clock, why):
    officer = browser(new_client, staff, clock, "privacy_officer")
    refused = post(officer, "/reports", "/reports/generate", month=month)
    assert refused.status_code == 400 and why in refused.text
    assert app.state.office.background.latest("report") is None


def test_a_report_that_does_not_exist_is_not_found(app, new_client, staff, clock):
    officer = browser(new_client, staff, clock, "privacy_officer")
    assert officer.get("/reports/7/report.pdf").status_code == 404
    assert officer.get("/reports/progress/7").status_code == 404
