"""The home page: the month at a glance, read from what is kept (the month's review, the cases, the
requests, the log's last verification and checkpoint), each figure shown only to the roles whose
work it is."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from auditor.cases.settings import load_case_settings
from auditor.policy.access_counts import accesses_by_period
from auditor.policy.rules import load_policy
from auditor.review.audit_log import verify_and_keep
from auditor.review.casework import list_cases
from auditor.review.glance import record_review
from auditor.review.period import month_period
from auditor.web.home import month_just_ended
from tests.web.conftest import sign_in
from tests.web.office import MONTH


@pytest.fixture
def office(office_app):
    return office_app


def figure(html: str, name: str) -> str | None:
    found = re.search(rf'id="glance-{name}">(.*?)</dd>', html, re.S)
    return found and re.sub(r"<[^>]+>", "", found.group(1)).strip()


def home_as(app, staff, clock, path="/") -> str:
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, staff, clock)
        response = client.get(path)
        assert response.status_code == 200
        return response.text


def test_the_officer_sees_the_month_just_ended_as_kept(office):
    copy, vault, clock, app = office
    html = home_as(app, copy.staff["privacy_officer"], clock)
    period = month_period(MONTH, vault.timezone)
    assert f"{MONTH} at a glance" in html  # Dec 2: the month just ended
    assert figure(html, "accesses") == f"{accesses_by_period(vault.records, [period], load_policy(), vault.keyring.log_mac_key)[0]:,}"
    assert figure(html, "explained").startswith(("0.", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
    assert "%" in figure(html, "explained")
    cases = list_cases(vault, load_case_settings(), first_day=period.first_day, last_day=period.last_day)
    assert int(figure(html, "cases-open")) == sum(c.status != "closed" for c in cases) > 0
    assert int(figure(html, "findings")) == sum(c.findings for c in cases)
    assert figure(html, "verified") == "not verified yet"
    assert figure(html, "checkpoint") != "none yet"


def test_the_share_shown_is_the_one_the_months_review_kept(office):
    """The home runs no rule: it shows what the month's last review stored."""
    copy, vault, clock, app = office
    record_review(vault, month_period(MONTH, vault.timezone), 1234, 0.25)
    html = home_as(app, copy.staff["viewer"], clock)
    assert figure(html, "explained").startswith("25.0%") and figure(html, "accesses") == "1,234"
    october = home_as(app, copy.staff["viewer"], clock, "/?month=2026-10")
    assert figure(october, "explained") == "not reviewed yet"
    assert figure(october, "accesses") == "0"


def test_a_verification_is_shown_until_the_next(office):
    copy, vault, clock, app = office
    done = verify_and_keep(vault).result
    html = home_as(app, copy.staff["admin"], clock)
    assert figure(html, "verified").startswith(f"verified: {done.size:,} events")


@pytest.mark.parametrize("role, cases, requests", [
    ("privacy_officer", True, True), ("investigator", True, False), ("viewer", True, True),
    ("roi_coordinator", False, True), ("records_manager", False, False), ("admin", False, False)])
def test_each_role_sees_the_figures_of_its_work(office, role, cases, requests):
    copy, vault, clock, app = office
    html = home_as(app, copy.staff[role], clock)
    assert (figure(html, "cases-open") is not None) == cases
    assert (figure(html, "accesses") is not None) == cases
    assert (figure(html, "requests-due") is not None) == requests
    assert figure(html, "verified") is not None


def test_a_month_that_is_not_one_is_said_and_the_month_just_ended_shown(office):
    copy, vault, clock, app = office
    html = home_as(app, copy.staff["viewer"], clock, "/?month=<b>x")
    assert "Choose a month as YYYY-MM" in html and f"{MONTH} at a glance" in html
    assert "<b>x" not in html


@pytest.mark.parametrize("today, month", [("2026-12-02", "2026-11"), ("2027-01-31", "2026-12"), ("2026-03-01", "2026-02")])
def test_the_month_just_ended(today, month):
    from datetime import date
    assert month_just_ended(date.fromisoformat(today)) == month
