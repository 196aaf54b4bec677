"""Sessions: automatic logoff after 15 idle minutes (45 CFR 164.312(a)(2)(iii)) and after 12 hours,
the account's roles as they are now, rows the vault did not seal refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from auditor.errors import SignInRequired
from auditor.staff.accounts import StaffAccounts
from auditor.staff.desk import ACCOUNTS, SESSIONS
from auditor.staff.sessions import StaffSessions
from auditor.staff.signin import StaffSignIn
from auditor.vault.gateway.context import AccessContext
from tests.staff.conftest import ADMIN_PASSWORD, code_at
from tests.staff.helpers import staff_events


@pytest.fixture
def token(vault, admin, clock) -> str:
    return StaffSignIn(vault).sign_in("alice", ADMIN_PASSWORD, code_at(admin.otpauth_uri, clock.at), "cli").token


def test_fifteen_idle_minutes_end_a_session(vault, token, clock):
    sessions = StaffSessions(vault)
    clock.at += timedelta(minutes=14, seconds=59)
    sessions.resolve(token, "cli")  # activity: the idle time starts again
    clock.at += timedelta(minutes=14, seconds=59)
    sessions.resolve(token, "cli")
    clock.at += timedelta(minutes=15)
    with pytest.raises(SignInRequired, match="15 minutes without activity"):
        sessions.resolve(token, "cli")
    assert staff_events(vault)[-1][:3] == ("delete", "success", "staff_session")
    with pytest.raises(SignInRequired, match="not signed in"):  # gone, not merely refused
        sessions.resolve(token, "cli")


def test_twelve_hours_end_a_session_however_busy(vault, token, clock):
    sessions = StaffSessions(vault)
    for _ in range(12 * 6 - 1):
        clock.at += timedelta(minutes=10)
        sessions.resolve(token, "cli")
    clock.at += timedelta(minutes=10)
    with pytest.raises(SignInRequired, match="signed in 12 hours ago"):
        sessions.resolve(token, "cli")


def test_a_session_of_one_kind_is_not_another_s(vault, token):
    with pytest.raises(SignInRequired):
        StaffSessions(vault).resolve(token, "web")


def test_roles_are_read_at_each_request(vault, admin, clock):
    accounts = StaffAccounts(vault)
    bob = accounts.add("bob", "Bob", ("viewer",), "plum-sky-7", admin.account)
    token = StaffSignIn(vault).sign_in("bob", "plum-sky-7", code_at(bob.otpauth_uri, clock.at), "web").token
    assert StaffSessions(vault).resolve(token, "web").account.roles == ("viewer",)
    accounts.set_roles("bob", ("investigator",), admin.account)
    assert StaffSessions(vault).resolve(token, "web").account.roles == ("investigator",)


def test_the_access_context_names_the_account_and_the_session(vault, token):
    signed_in = StaffSessions(vault).resolve(token, "cli")
    assert signed_in.access_context("HOPERAT") == AccessContext.of_staff(
        "alice", signed_in.account.roles[0], "HOPERAT", workstation=f"cli session {signed_in.session_id}")


def test_a_session_row_edited_in_the_database_is_refused(vault, token, clock):
    with vault.records.begin() as conn:  # stretch the session's start: 12 more hours
        conn.execute(update(SESSIONS).values(created_at=clock.at + timedelta(hours=12)))
    with pytest.raises(SignInRequired):
        StaffSessions(vault).resolve(token, "cli")
    assert "does not match its seal" in staff_events(vault)[-1][3]


def test_an_account_row_edited_in_the_database_ends_its_sessions(vault, token):
    with vault.records.begin() as conn:
        conn.execute(update(ACCOUNTS).values(failed_logins=0, roles="admin,privacy_officer"))
    with pytest.raises(SignInRequired, match="does not match its seal"):
        StaffSessions(vault).resolve(token, "cli")


def test_sessions_that_ended_unseen_are_removed_at_the_next_sign_in(vault, admin, token, clock):
    clock.at += timedelta(minutes=20)  # the first session ended by itself; nobody used it since
    StaffSignIn(vault).sign_in("alice", ADMIN_PASSWORD, code_at(admin.otpauth_uri, clock.at), "cli")
    with vault.records.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SESSIONS)) == 1
    assert staff_events(vault)[-1][3] == "alice signed in (cli); 1 ended session(s) of the account removed"
