"""The role x route matrix: every page opens for the roles it should and refuses every other with 403;
without a session every page but the login pages redirects to the login page. The expected matrix is
written here, apart from auditor.web.routes, and every route of the app must be in it. The FHIR API's
endpoints are for system accounts by bearer token and scope (API): every staff role, signed in, gets 401."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.staff.roles import ROLES
from auditor.web.app import create_app
from auditor.web.fhir_api import Api
from auditor.web.routes import API as API_ROUTES, PAGES
from auditor.web.routing import Page
from tests.conftest import FAST_SCRYPT
from tests.web.conftest import csrf_of, sign_in

EVERYONE = set(ROLES)
CASE_READERS = {"privacy_officer", "investigator", "viewer"}  # an ROI coordinator sees no cases (issue 16)
# (method, path) -> the roles that may; None: public (the login pages)
EXPECTED: dict[tuple[str, str], set[str] | None] = {
    ("GET", "/login"): None, ("POST", "/login"): None, ("GET", "/login/code"): None, ("POST", "/login/code"): None,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/"): EVERYONE,
    ("GET", "/patient-access"): {"privacy_officer", "investigator"},
    ("POST", "/patient-access"): {"privacy_officer", "investigator"},
    ("GET", "/audit-log"): {"privacy_officer", "admin"},
    ("POST", "/audit-log/verify"): {"privacy_officer", "admin"}, ("POST", "/audit-log/proof"): {"privacy_officer", "admin"},
    ("GET", "/accounts"): {"admin"},
    ("POST", "/accounts/add"): {"admin"}, ("POST", "/accounts/disable"): {"admin"},
    ("POST", "/accounts/enable"): {"admin"},
    ("GET", "/cases"): CASE_READERS, ("GET", "/cases/{case_id:int}"): CASE_READERS,
    ("POST", "/cases/{case_id:int}/review"): {"privacy_officer", "investigator"},
    ("POST", "/cases/{case_id:int}/note"): {"privacy_officer", "investigator"},
    ("POST", "/cases/{case_id:int}/close"): {"privacy_officer"},
    ("POST", "/cases/{case_id:int}/propose"): {"privacy_officer", "investigator"},
    ("GET", "/suppressions"): {"privacy_officer", "investigator"},
    ("POST", "/suppressions/{suppression_id:int}/approve"): {"privacy_officer"},
    # reports: an officer generates, a viewer downloads what was made
    ("GET", "/reports"): {"privacy_officer", "viewer"},
    ("POST", "/reports/generate"): {"privacy_officer"},
    ("GET", "/reports/progress/{work_id:int}"): {"privacy_officer"},
    ("GET", "/reports/{report_id:int}/report.html"): {"privacy_officer", "viewer"},
    ("GET", "/reports/{report_id:int}/report.pdf"): {"privacy_officer", "viewer"},
    # release of information: the coordinator alone (a viewer's staff role reads no patient)
    ("GET", "/roi"): {"roi_coordinator"},
    ("POST", "/roi/requests"): {"roi_coordinator"},
    ("GET", "/roi/requests/{request_id:int}"): {"roi_coordinator"},
    ("POST", "/roi/requests/{request_id:int}/review"): {"roi_coordinator"},
    ("POST", "/roi/requests/{request_id:int}/permission"): {"roi_coordinator"},
    ("POST", "/roi/requests/{request_id:int}/fulfil"): {"roi_coordinator"},
    ("POST", "/roi/requests/{request_id:int}/deny"): {"roi_coordinator"},
    ("POST", "/roi/requests/{request_id:int}/accounting"): {"roi_coordinator"},
    ("POST", "/roi/requests/{request_id:int}/close"): {"roi_coordinator"},
    ("GET", "/roi/requests/{request_id:int}/files/{name}"): {"roi_coordinator"},
    # retention: the records manager alone (two of them to purge)
    ("GET", "/retention"): {"records_manager"},
    ("POST", "/retention/plan"): {"records_manager"},
    ("POST", "/retention/holds"): {"records_manager"},
    ("POST", "/retention/holds/{hold_id:int}/release"): {"records_manager"},
    ("POST", "/retention/plans/{plan_id:int}/propose"): {"records_manager"},
    ("POST", "/retention/proposals/{proposal_id:int}/approve"): {"records_manager"},
    ("GET", "/retention/purges/{purge_id:int}/certificate.html"): {"records_manager"},
}
# the FHIR API: system accounts by bearer token with this scope; no staff role and no session cookie opens it
API: dict[tuple[str, str], str] = {
    ("POST", "/fhir/AuditEvent"): "feed", ("POST", "/fhir"): "feed",
    ("GET", "/fhir/AuditEvent"): "search", ("POST", "/fhir/AuditEvent/_search"): "search",
}


def concrete(path: str) -> str:
    """A route's pattern with its ids filled in ("/reports/{report_id:int}/report.pdf" -> "/reports/1/report.pdf")."""
    return re.sub(r"\{[a-z_]+(:int)?\}", "1", path)


def test_every_route_of_the_app_is_in_the_expected_matrix(app):
    declared = {(m, r.path) for r in app.routes if isinstance(r, Route) and r.name != "static"
                for m in r.methods if m != "HEAD"}
    assert declared == set(EXPECTED) | set(API)
    assert {(m, a.path): a.scope for a in API_ROUTES for m in a.methods} == API


def test_an_api_endpoint_without_a_scope_cannot_be_declared():
    with pytest.raises(ValueError, match="declare the scope"):
        Api("/fhir/AuditEvent", "x", lambda call: None, "admin")


def test_a_page_without_roles_cannot_be_declared():
    with pytest.raises(ValueError, match="declare the roles"):
        Page("/cases", "cases", lambda view: None)
    with pytest.raises(ValueError, match="unknown role"):
        Page("/cases", "cases", lambda view: None, roles=frozenset({"nurse"}))


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_opens_its_pages_and_is_refused_the_others(role, new_client, staff, clock):
    client = sign_in(new_client(), staff[role], clock)
    csrf = csrf_of(client.get("/").text)
    for (method, path), allowed in EXPECTED.items():
        if allowed is None or path == "/logout":
            continue
        response = client.request(method, concrete(path), data={"csrf_token": csrf} if method == "POST" else None)
        if role in allowed:  # opened: shown, refused for its empty form, or nothing with that id (404)
            assert response.status_code in ((200, 400, 404) if "{" in path else (200, 400)), \
                (role, method, path, response.status_code)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
            assert "Your role does not open this page." in response.text
    for method, path in API:  # the session cookie and the form token are sent; neither is a credential there
        response = client.request(method, path, data={"csrf_token": csrf} if method == "POST" else None)
        assert response.status_code == 401, (role, method, path, response.status_code)
        assert response.headers["www-authenticate"] == 'Bearer realm="auditor"'


@pytest.fixture(scope="module")
def app_without_staff(tmp_path_factory):
    """One app for the requests made without a session: each is sent to the login page, and none of
    them changes the vault."""
    clock = FixedClock(datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc))
    vault = create_home(tmp_path_factory.mktemp("web") / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    yield create_app(vault, clock=clock)
    vault.close()


@pytest.mark.parametrize("method, path", [k for k, v in EXPECTED.items() if v is not None])
def test_without_a_session_every_page_leads_to_the_login_page(app_without_staff, method, path):
    with TestClient(app_without_staff, follow_redirects=False) as client:  # a browser of its own
        response = client.request(method, concrete(path), data={"csrf_token": "x"} if method == "POST" else None)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_the_app_serves_the_pages_of_the_table_and_no_other():
    assert all(isinstance(p, Page) for p in PAGES)
    assert len({(p.path, m) for p in PAGES for m in p.methods}) == len([m for p in PAGES for m in p.methods])
