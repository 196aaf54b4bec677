"""Signing in to the web app: the password, then the code; lockout; automatic logoff after 15 idle
minutes and 12 hours (45 CFR 164.312(a)(2)(iii)) by the app's injected clock; no session fixation."""

from __future__ import annotations

from datetime import timedelta

from tests.staff.conftest import code_at
from tests.web.conftest import csrf_of, plant, session_cookie, sign_in


def test_a_password_then_a_code_sign_in_and_the_home_page_names_the_account(client, staff, clock):
    assert client.get("/").headers["location"] == "/login"
    sign_in(client, staff["privacy_officer"], clock)
    home = client.get("/")
    assert home.status_code == 200
    assert "Signed in as <strong>privacy_officer</strong>" in home.text and "<dt>privacy officer</dt>" in home.text


def test_a_wrong_password_is_refused_without_saying_what_was_wrong(client, staff):
    form = client.get("/login")
    done = client.post("/login", data={"user": "admin", "password": "not it at all", "csrf_token": csrf_of(form.text)})
    assert done.status_code == 401 and "the user name, password or code is wrong" in done.text
    unknown = client.post("/login", data={"user": "nobody", "password": "not it at all",
                                          "csrf_token": csrf_of(form.text)})
    assert unknown.status_code == 401 and unknown.text.replace("nobody", "admin") == done.text.replace("nobody", "admin")


def test_the_code_page_needs_the_password_step_first(client, staff):
    assert client.get("/login/code").headers["location"] == "/login"
    form = client.get("/login")
    done = client.post("/login/code", data={"code": "123456", "csrf_token": csrf_of(form.text)})
    assert done.status_code == 401 and "start again with the password" in done.text


def test_five_failures_lock_the_account_in_the_browser_too(client, staff, clock):
    csrf = csrf_of(client.get("/login").text)
    for _ in range(5):
        assert client.post("/login", data={"user": "viewer", "password": "wrong wrong", "csrf_token": csrf}).status_code == 401
    right = client.post("/login", data={"user": "viewer", "password": staff["viewer"].password, "csrf_token": csrf})
    assert right.status_code == 401
    clock.at += timedelta(minutes=15)
    sign_in(client, staff["viewer"], clock)


def test_fifteen_idle_minutes_sign_the_browser_out(client, staff, clock):
    sign_in(client, staff["viewer"], clock)
    clock.at += timedelta(minutes=14, seconds=59)
    assert client.get("/").status_code == 200
    clock.at += timedelta(minutes=15)
    out = client.get("/")
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert 'auditor_session=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]


def test_twelve_hours_sign_the_browser_out_however_busy(client, staff, clock):
    sign_in(client, staff["viewer"], clock)
    started = clock.at
    while clock.at + timedelta(minutes=14) < started + timedelta(hours=12):
        clock.at += timedelta(minutes=14)
        assert client.get("/").status_code == 200
    clock.at = started + timedelta(hours=12)
    assert client.get("/").headers["location"] == "/login"


def test_a_session_id_set_before_sign_in_is_never_the_one_after(client, new_client, staff, clock):
    """Session fixation: whatever cookie the browser holds, signing in mints a new token, and the token
    of the password step is not the signed-in one."""
    plant(client, "chosen-by-the-attacker")
    form = client.get("/login")
    client.post("/login", data={"user": "viewer", "password": staff["viewer"].password,
                                "csrf_token": csrf_of(form.text)})
    pending = client.cookies.get("auditor_signing_in")
    client.post("/login/code", data={"code": code_at(staff["viewer"].uri, clock.at), "csrf_token": csrf_of(form.text)})
    token = session_cookie(client)
    assert token not in (None, "chosen-by-the-attacker", pending)
    assert client.get("/").status_code == 200
    for stale in ("chosen-by-the-attacker", pending):
        other = new_client()
        plant(other, stale)
        assert other.get("/").headers["location"] == "/login"
    again = sign_in(new_client(), staff["viewer"], clock)
    assert session_cookie(again) != token


def test_sign_out_ends_the_session_on_the_server(client, new_client, staff, clock):
    sign_in(client, staff["viewer"], clock)
    token = session_cookie(client)
    borrowed = new_client()
    plant(borrowed, token)
    assert borrowed.get("/").status_code == 200  # the token alone is the session, until it ends
    home = client.get("/")
    out = client.post("/logout", data={"csrf_token": csrf_of(home.text)})
    assert out.headers["location"] == "/login"
    replay = new_client()
    plant(replay, token)
    assert replay.get("/").headers["location"] == "/login"
