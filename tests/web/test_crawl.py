"""A crawl of every page each role can reach, over a vault with a month of patients in it: every
link a role is shown opens for it, every response carries the security headers, and no MRN or
patient name of the vault is in any URL a page names or asks for, nor in any line the server logs.
Generic (tests/web/crawl.py): a new page is crawled as soon as a page links to it, and every page a
role may open must be linked from somewhere it can reach."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from auditor.clock import FixedClock
from auditor.staff.roles import ROLES
from auditor.web.app import create_app
from tests.web.conftest import sign_in
from tests.web.crawl import crawl
from tests.web.office import STARTS, copy_office
from tests.web.test_headers import assert_secure_headers

# GET pages that no link needs to reach: the sign-in steps (a signed-in person is past them)
UNLINKED = {"/login", "/login/code"}
REDIRECTS = (301, 302, 303, 307, 308)


@pytest.fixture(scope="module")
def office(built_office, tmp_path_factory):
    return copy_office(built_office, tmp_path_factory.mktemp("crawl"))


@pytest.fixture(scope="module")
def served(office):
    clock = FixedClock(STARTS)
    vault = office.open(clock)
    yield create_app(vault, clock=clock), clock
    vault.close()


def _pages_for(app, role: str) -> set[str]:
    """The GET pages without path parameters that `role` may open, as the app declares them."""
    pages = app.state.office.pages
    return {p.path for p in pages if "GET" in p.methods and not p.public and role in p.roles and "{" not in p.path}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_page_a_role_reaches_is_safe_to_link_and_log(role, office, served, caplog):
    app, clock = served
    caplog.set_level(logging.INFO, logger="auditor")
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, office.staff[role], clock)
        done = crawl(app, client.get, ["/"])
    pages = [v for v in done.visits if not v.url.startswith("/static/")]
    assert len(pages) >= 1 and done.named
    for visit in done.visits:
        assert_secure_headers_of(visit)
        assert visit.status == 200 or visit.status in REDIRECTS and visit.route in UNLINKED | {None}, visit
    missed = _pages_for(app, role) - done.routes() - UNLINKED
    assert not missed, f"pages {role} may open but no page links to: {sorted(missed)}"
    for page, url in done.named:
        assert url.startswith("/") or url == "data:,", (page, url)  # nothing from another site
        assert not office.phi.found_in(url), (page, url, office.phi.found_in(url))
    for visit in done.visits:
        assert not office.phi.found_in(visit.url), visit
    lines = [r.getMessage() for r in caplog.records]
    assert any('"GET /" 200' in line for line in lines)  # the access log was heard
    leaked = [(line, office.phi.found_in(line)) for line in lines if office.phi.found_in(line)]
    assert not leaked, leaked


def assert_secure_headers_of(visit) -> None:
    assert_secure_headers(SimpleNamespace(headers=visit.headers), static=visit.url.startswith("/static/") and visit.status == 200)


def test_the_crawl_finds_a_link_to_a_page_of_a_new_route(office, served):
    """The crawler is generic: a page added to the app is reached through the links to it, and one
    that names a patient in its URL is caught."""
    from auditor.web.routes import PAGES
    from auditor.web.routing import Page
    from starlette.responses import HTMLResponse

    mrn = sorted(office.phi.mrns)[0]
    leaky = Page("/leaky", "leaky", lambda view: HTMLResponse(f'<a href="/leaky?mrn={mrn}">x</a>'),
                 roles=frozenset({"viewer"}), title="Leaky")
    app = create_app(served[0].state.office.vault, clock=served[1], pages=PAGES + [leaky])
    assert any(isinstance(r, Route) and r.path == "/leaky" for r in app.routes)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, office.staff["viewer"], served[1])
        done = crawl(app, client.get, ["/"])
    assert "/leaky" in done.routes()
    assert {url for _, url in done.named if office.phi.found_in(url)} == {f"/leaky?mrn={mrn}"}
