"""Signing in and out in a real browser: the password, then the TOTP code; a wrong code refused;
the session ended by the server after fifteen idle minutes (45 CFR 164.312(a)(2)(iii)), which the
server sees by its own clock; and signing out, after which the back button shows nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import sign_in

SESSION_COOKIE = "auditor_session"


def _session_cookies(page) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]


def test_a_password_then_a_totp_code_sign_a_person_in(context, office):
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    who = office.staff["privacy_officer"]
    page.get_by_label("User name").fill(who.user)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("the user name, password or code is wrong")
    page.get_by_label("User name").fill(who.user)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/login/code$"))
    office.advance(seconds=30)
    page.get_by_label("code").fill(who.code(office.clock.at - timedelta(minutes=2)))  # four steps old
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("the user name, password or code is wrong")
    page.get_by_label("code").fill(who.code(office.clock.at))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{office.url}/")
    expect(page.locator("main")).to_contain_text("Signed in as privacy_officer")
    [cookie] = _session_cookies(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie") == ""  # no script reads the session


def test_fifteen_idle_minutes_end_the_session_on_the_server(page, office):
    office.advance(minutes=14, seconds=59)
    page.reload()
    expect(page.locator("main")).to_contain_text("Signed in as")
    office.advance(minutes=15)
    page.reload()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert _session_cookies(page) == []  # the server told the browser to forget it
    sign_in(page, office, office.staff["privacy_officer"])  # and a new sign-in works
    expect(page.locator("main")).to_contain_text("Signed in as")


def test_signing_out_ends_the_session_and_the_back_button_shows_nothing(page, office):
    token = _session_cookies(page)[0]["value"]
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert _session_cookies(page) == []
    page.go_back()  # no-store: the browser asks the server again, which has ended the session
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": office.url}])  # a copy kept
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
