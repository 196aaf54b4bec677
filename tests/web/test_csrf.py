"""Every form carries a CSRF token and every POST without the right one is refused (403), nothing
changed: a token missing, wrong, or another session's; the login forms' too."""

from __future__ import annotations

import pytest

from auditor.staff.accounts import StaffAccounts
from tests.web.conftest import csrf_of, sign_in

ADMIN_POSTS = {"/accounts/add": {"user": "mallory", "name": "Mallory", "role_admin": "on", "password": "plum-sky-77"},
               "/accounts/disable": {"user": "viewer"}, "/accounts/enable": {"user": "viewer"},
               "/logout": {}}


@pytest.mark.parametrize("path", sorted(ADMIN_POSTS))
def test_a_post_without_the_session_s_token_changes_nothing(path, client, new_client, staff, clock, web_vault):
    sign_in(client, staff["admin"], clock)
    other = sign_in(new_client(), staff["viewer"], clock)
    before = StaffAccounts(web_vault).list()
    for token in (None, "", "forged", csrf_of(other.get("/").text)):
        data = dict(ADMIN_POSTS[path]) | ({} if token is None else {"csrf_token": token})
        refused = client.post(path, data=data)
        assert refused.status_code == 403 and "did not come from this site" in refused.text, token
    assert StaffAccounts(web_vault).list() == before
    assert client.get("/").status_code == 200  # still signed in: the refused logout did nothing


def test_every_form_on_every_page_carries_the_token(client, staff, clock):
    """Every POST form (a GET form, such as the home's choice of month, changes nothing)."""
    sign_in(client, staff["admin"], clock)
    for path in ("/", "/accounts"):
        html = client.get(path).text
        assert html.count('<form method="post"') == html.count('name="csrf_token"') > 0
    html = client.get("/login").text
    assert html.count("<form") == html.count('name="csrf_token"') == 1


def test_a_login_form_posted_from_elsewhere_is_refused(new_client, staff):
    browser = new_client()
    done = browser.post("/login", data={"user": "admin", "password": staff["admin"].password})
    assert done.status_code == 403
    browser.get("/login")  # the form's own cookie, but another form's token
    done = browser.post("/login", data={"user": "admin", "password": staff["admin"].password,
                                        "csrf_token": csrf_of(new_client().get("/login").text)})
    assert done.status_code == 403
