"""The admin's Accounts page: list, add (the otpauth:// URI shown once, in the response to the POST),
disable and enable, each an audit event naming the admin."""

from __future__ import annotations

from auditor.staff.accounts import StaffAccounts
from tests.staff.helpers import staff_events, verified
from tests.web.conftest import csrf_of, sign_in


def test_an_admin_lists_adds_disables_and_enables_accounts(client, staff, clock, web_vault):
    sign_in(client, staff["admin"], clock)
    page = client.get("/accounts")
    assert page.status_code == 200 and "<td>Records_Manager Person</td>" in page.text
    csrf = csrf_of(page.text)
    added = client.post("/accounts/add", data={"user": "zoe", "name": "Zoë Müller", "role_investigator": "on",
                                               "role_viewer": "on", "password": "plum-sky-77", "csrf_token": csrf})
    assert added.status_code == 200 and "otpauth://totp/auditor:zoe?secret=" in added.text
    assert "otpauth" not in client.get("/accounts").text  # shown once
    zoe = next(a for a in StaffAccounts(web_vault).list() if a.user_name == "zoe")
    assert zoe.roles == ("investigator", "viewer")
    assert client.post("/accounts/disable", data={"user": "zoe", "csrf_token": csrf}).status_code == 200
    assert client.post("/accounts/enable", data={"user": "zoe", "csrf_token": csrf}).status_code == 200
    assert [e[3] for e in staff_events(web_vault)[-3:]] == [
        "account zoe added with role(s) investigator, viewer by admin admin",
        "account zoe disabled by admin admin; 0 session(s) ended",
        "account zoe enabled by admin admin"]
    assert verified(web_vault).ok


def test_refused_changes_say_why_and_change_nothing(client, staff, clock, web_vault):
    sign_in(client, staff["admin"], clock)
    csrf = csrf_of(client.get("/accounts").text)
    before = StaffAccounts(web_vault).list()
    cases = [({"user": "ab", "name": "A B", "password": "plum-sky-77"}, "give at least one role"),
             ({"user": "ab", "name": "A B", "role_viewer": "on", "password": "short"}, "at least 8"),
             ({"user": "viewer", "name": "V", "role_viewer": "on", "password": "plum-sky-77"}, "exists already")]
    for form, words in cases:
        done = client.post("/accounts/add", data=form | {"csrf_token": csrf})
        assert done.status_code == 400 and words in done.text
    last = client.post("/accounts/disable", data={"user": "admin", "csrf_token": csrf})
    assert last.status_code == 400 and "last active admin" in last.text
    assert StaffAccounts(web_vault).list() == before


def test_a_disabled_account_s_browser_session_ends_at_its_next_request(client, new_client, staff, clock):
    viewer = sign_in(new_client(), staff["viewer"], clock)
    sign_in(client, staff["admin"], clock)
    client.post("/accounts/disable", data={"user": "viewer", "csrf_token": csrf_of(client.get("/accounts").text)})
    assert viewer.get("/").headers["location"] == "/login"
