"""Browser tests of the web app: Debian's Chromium driven by Playwright, against the app served by
uvicorn in this process over a copy of a small privacy office (tests/web/office.py: November 2026 of
a synthetic hospital, reviewed into cases; an account per role with a known password and TOTP
secret). How to write one: tests/browser/README.md.

Fixtures:
- `office`   the served office (tests/browser/live.py: LiveOffice): .url, .vault, .clock, .advance(),
             .staff[role], .add_staff(user, *roles), .phi. A fresh copy per test.
- `role`     the role the `page` fixture signs in as (default privacy_officer; a test sets it with
             @pytest.mark.parametrize("role", [...])).
- `page`     a Playwright page signed in as `role` (password, then the TOTP code), in its own browser
             context; relative URLs (page.goto("/accounts")) go to the office.
- `person`   person(role or user) -> another signed-in page in a browser of its own (two people).
- `context`  a browser context not signed in (context.new_page() to sign in by hand).

Every test, whatever it does, then fails if the server logged, or the browser asked for a URL
holding, an MRN or a patient's name of the vault, or if a page broke the Content-Security-Policy or
raised a script error. Chromium absent: every test here skips and says why."""

from __future__ import annotations

import pytest

from auditor.clock import FixedClock
from tests.browser.axe import route_axe
from tests.browser.live import LiveOffice, LogLines, serve_office
from tests.web.office import STARTS, Staff, copy_office

TIMEOUT_MS = 15_000


@pytest.fixture
def office(browser, built_office, tmp_path):
    """The office served for this test alone (its own copy of the vault, its own clock)."""
    with LogLines() as log:
        live, server = serve_office(copy_office(built_office, tmp_path), FixedClock(STARTS), log)
        try:
            yield live
        finally:
            server.stop()
            live.vault.close()
    leaks = live.leaks()
    assert not leaks, f"PHI in the server's log or in a URL the browser asked for: {leaks[:5]}"


class Browsers:
    """The browser contexts of a test: each a fresh profile, axe-core answerable, every request
    recorded, CSP violations and script errors collected."""

    def __init__(self, browser, office: LiveOffice) -> None:
        self.browser, self.office = browser, office
        self.contexts, self.problems = [], []

    def new(self):
        context = self.browser.new_context(base_url=self.office.url, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        route_axe(context, self.office.url)
        context.on("request", lambda request: self.office.requested.append(request.url))
        context.on("page", self._watch)
        self.contexts.append(context)
        return context

    def _watch(self, page) -> None:
        page.on("console", lambda m: self.problems.append(f"{page.url}: {m.text}")
                if m.type == "error" and "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsers(browser, office):
    made = Browsers(browser, office)
    yield made
    made.close()
    assert not made.problems, "CSP violations or script errors:\n" + "\n".join(made.problems)


@pytest.fixture
def context(browsers):
    return browsers.new()


def sign_in(page, office: LiveOffice, who: Staff) -> None:
    """Sign `who` in as a person does: the password, then the code their authenticator app shows.
    The server's clock moves on a time step first: a code is good for one sign-in."""
    office.advance(seconds=30)
    page.goto("/login")
    page.get_by_label("User name").fill(who.user)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/login/code")
    page.get_by_label("code").fill(who.code(office.clock.at))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{office.url}/")


@pytest.fixture
def role() -> str:
    return "privacy_officer"


@pytest.fixture
def person(browsers, office):
    def sign_in_as(who: str):
        page = browsers.new().new_page()
        sign_in(page, office, office.staff[who])
        return page

    return sign_in_as


@pytest.fixture
def page(person, role):
    return person(role)
