"""Every page of the app passes axe-core (WCAG 2.x A and AA, best practices) with no serious or
critical violation: the sign-in pages (with and without their error message), and for each role
every page its navigation and its pages' links reach (one of each route), and the refusal a role gets
for a page that is not its own. The pages a role must reach are not listed here: they are the app's
own table of pages (every GET page the role may open, files to download aside), so a new page is
checked as soon as it is declared, and a page no link reaches fails the test. The office is given one
of each thing a page shows (a release request, a report being made) before the crawl."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from auditor.review import release
from auditor.roi.workflow import NewRequest
from auditor.staff.roles import PRIVACY_OFFICER, ROI_COORDINATOR, ROLES
from tests.browser.axe import assert_accessible, violations
from tests.web.crawl import route_of

PAGES_PER_ROLE = 25
FILE = re.compile(r"\.[a-z]+$|/files/")  # a route that hands over a file (a report, a packet): no page for axe


def test_the_sign_in_pages_pass_axe(context, office):
    page = context.new_page()
    page.goto("/login")
    assert_accessible(page)
    page.get_by_label("User name").fill("nobody")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)
    who = office.staff["viewer"]
    page.get_by_label("User name").fill(who.user)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/login/code$"))
    assert_accessible(page)
    page.get_by_label("code").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)


def _links(page, office) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    return [h for h in hrefs if h.startswith(office.url + "/") and not urlsplit(h).path.startswith("/static/")]


def _pages_of(office, role: str) -> set[str]:
    """The app's own table of pages: each GET page `role` may open, as its route's pattern."""
    return {p.path for p in office.app.state.office.pages
            if "GET" in p.methods and not p.public and role in p.roles and not FILE.search(p.path)}


def _one_of_each(page, office, role: str) -> None:
    """What a page of the role shows one of, made as the office would: a release request (through
    the application layer) and a monthly report being made (its progress page: started by a POST)."""
    if role == ROI_COORDINATOR:
        mrn = min(office.phi.mrns)
        release.open_request(office.vault, NewRequest(mrn, "patient", "the patient", "1 Main St", None),
                             office.staff[role].user)
    if role == PRIVACY_OFFICER:
        page.goto("/reports")
        page.get_by_label("Month").fill("2026-10")
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_role("status")).to_contain_text("for 2026-10", timeout=60_000)
        page.goto("/")


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_page_a_role_reaches_passes_axe(page, office, role):
    _one_of_each(page, office, role)
    checked, queue, seen = {}, [page.url], set()
    while queue and len(checked) < PAGES_PER_ROLE:
        url = queue.pop(0)
        route = route_of(office.app, urlsplit(url).path)
        if url in seen or route in checked or FILE.search(route or ""):
            continue
        seen.add(url)
        page.goto(url)
        assert_accessible(page)
        checked[route] = url
        queue += _links(page, office)
    missing = _pages_of(office, role) - set(checked)
    assert not missing, f"pages {role} may open that no link reached, so axe never ran on them: {sorted(missing)}"
    if role != "admin":  # a page of another role: the refusal is a page too
        page.goto("/accounts")
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        assert_accessible(page)


def test_axe_finds_what_it_should(context, office):
    """The check can fail: an image without a text alternative and a field without a label, put
    into a real page of the app, are critical violations that assert_accessible names."""
    page = context.new_page()
    page.goto("/login")
    page.evaluate("""() => {
        const img = document.createElement('img'); img.src = 'data:,'; document.querySelector('main').append(img);
        document.querySelector('label[for=user]').remove();
    }""")
    found = {v["id"]: v["impact"] for v in violations(page)}
    assert found.get("image-alt") == "critical" and found.get("label") == "critical", found
    with pytest.raises(AssertionError, match=r"critical image-alt.*\n.*critical label|critical label.*\n.*critical image-alt"):
        assert_accessible(page)
