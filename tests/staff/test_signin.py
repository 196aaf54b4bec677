"""Signing in with a password and a TOTP code: five failures lock for 15 minutes, a code is good once,
the person is told nothing about which part was wrong while the audit log says it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import Parameters, Type
from sqlalchemy import select

from auditor.errors import SignInRefused, SignInRequired
from auditor.staff.accounts import StaffAccounts
from auditor.staff.desk import ACCOUNTS
from auditor.staff.passwords import PasswordHashing
from auditor.staff.signin import REFUSED, StaffSignIn
from tests.staff.conftest import ADMIN_PASSWORD, code_at
from tests.staff.helpers import staff_events, verified


def refused(sign_in, *args):
    with pytest.raises(SignInRefused) as exc:
        sign_in(*args)
    assert str(exc.value) == REFUSED  # the same words whatever was wrong
    return exc


def test_a_password_and_a_code_sign_in(vault, admin, clock):
    session = StaffSignIn(vault).sign_in("alice", ADMIN_PASSWORD, code_at(admin.otpauth_uri, clock.at), "cli")
    assert len(session.token) >= 43
    assert staff_events(vault)[-1] == ("create", "success", "staff_session", "alice signed in (cli)")


def test_wrong_user_password_or_code_are_refused_alike(vault, admin, clock):
    signin = StaffSignIn(vault)
    good = code_at(admin.otpauth_uri, clock.at)
    refused(signin.sign_in, "nobody", ADMIN_PASSWORD, good, "cli")
    refused(signin.sign_in, "alice", "wrong password", good, "cli")
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    refused(signin.sign_in, "alice", ADMIN_PASSWORD, wrong, "cli")
    assert [e[3] for e in staff_events(vault)[1:]] == [
        "sign-in refused: no such account",
        "sign-in of alice refused: wrong password (failure 1 of 5)",
        "sign-in of alice refused: wrong code (failure 2 of 5)"]
    assert {e[:2] for e in staff_events(vault)[1:]} == {("login_failed", "denied")}


def test_five_failures_lock_the_account_for_fifteen_minutes(vault, admin, clock):
    signin = StaffSignIn(vault)
    for _ in range(4):
        refused(signin.password, "alice", "wrong password", "web")
    signin.password("alice", ADMIN_PASSWORD, "web")  # the fifth try is right: not locked
    refused(signin.password, "alice", "wrong password", "web")  # the fifth failure in a row
    assert "5 failures in a row: locked until 2026-11-02 14:15 UTC" in staff_events(vault)[-1][3]
    clock.at += timedelta(minutes=14, seconds=59)
    refused(signin.password, "alice", ADMIN_PASSWORD, "web")  # even the right password
    assert staff_events(vault)[-1][3] == "sign-in of alice refused: account locked until 2026-11-02 14:15 UTC"
    clock.at += timedelta(seconds=1)
    session = signin.sign_in("alice", ADMIN_PASSWORD, code_at(admin.otpauth_uri, clock.at), "cli")
    assert session.token


def test_a_success_starts_the_count_again(vault, admin, clock):
    signin = StaffSignIn(vault)
    for _ in range(4):
        refused(signin.password, "alice", "wrong password", "web")
    signin.sign_in("alice", ADMIN_PASSWORD, code_at(admin.otpauth_uri, clock.at), "cli")
    refused(signin.password, "alice", "wrong password", "web")
    assert staff_events(vault)[-1][3].endswith("(failure 1 of 5)")


def test_wrong_codes_count_toward_the_lock(vault, admin, clock):
    signin = StaffSignIn(vault)
    pending = signin.password("alice", ADMIN_PASSWORD, "web")
    for _ in range(5):
        refused(signin.code, pending.token, "000000" if code_at(admin.otpauth_uri, clock.at) != "000000" else "111111",
                "web")
    refused(signin.code, pending.token, code_at(admin.otpauth_uri, clock.at), "web")  # locked, and the attempt ended
    assert staff_events(vault)[-1][3].startswith("sign-in of alice refused: account locked until")


def test_a_code_is_good_for_one_sign_in(vault, admin, clock):
    signin = StaffSignIn(vault)
    code = code_at(admin.otpauth_uri, clock.at)
    signin.sign_in("alice", ADMIN_PASSWORD, code, "cli")
    refused(signin.sign_in, "alice", ADMIN_PASSWORD, code, "web")
    assert staff_events(vault)[-1][3] == "sign-in of alice refused: code already used (failure 1 of 5)"
    clock.at += timedelta(seconds=30)  # the previous step's code is within the drift, but older than the one used
    refused(signin.sign_in, "alice", ADMIN_PASSWORD, code_at(admin.otpauth_uri, clock.at, steps=-1), "web")
    signin.sign_in("alice", ADMIN_PASSWORD, code_at(admin.otpauth_uri, clock.at), "web")


def test_the_code_must_follow_the_password_within_five_minutes(vault, admin, clock):
    signin = StaffSignIn(vault)
    pending = signin.password("alice", ADMIN_PASSWORD, "web")
    clock.at += timedelta(minutes=5)
    with pytest.raises(SignInRequired, match="expired"):
        signin.code(pending.token, code_at(admin.otpauth_uri, clock.at), "web")
    with pytest.raises(SignInRequired):
        signin.code("a token never issued", "123456", "web")


def test_a_disabled_account_cannot_sign_in(vault, admin, clock):
    accounts = StaffAccounts(vault)
    bob = accounts.add("bob", "Bob", ("viewer",), "plum-sky-7", admin.account)
    accounts.disable("bob", admin.account)
    refused(StaffSignIn(vault).sign_in, "bob", "plum-sky-7", code_at(bob.otpauth_uri, clock.at), "cli")
    assert staff_events(vault)[-1][3] == "sign-in of bob refused: account disabled"


def test_a_hash_made_with_older_parameters_is_made_anew_at_sign_in(vault, clock):
    older = PasswordHashing(Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2,
                                       memory_cost=19456, parallelism=1))
    enrolment = StaffAccounts(vault, older).add("alice", "Alice", ("admin",), ADMIN_PASSWORD, None)
    StaffSignIn(vault).sign_in("alice", ADMIN_PASSWORD, code_at(enrolment.otpauth_uri, clock.at), "cli")
    with vault.records.connect() as conn:
        stored = conn.scalar(select(ACCOUNTS.c.password_hash))
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "rehashed with the current Argon2id parameters" in staff_events(vault)[-2][3]
    assert verified(vault).ok
