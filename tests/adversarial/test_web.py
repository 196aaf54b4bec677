"""The attacker's view of staff accounts and the web app: someone who can write records.db (the sqlite3
shell is enough) but does not hold the keyring, or who holds a cookie or a code that is not theirs.

A role, a lock, a password hash or an account written into the database is refused at the next sign-in
or request (the rows are sealed under a key derived from the keyring) and named by `audit verify`
(the accounts are in the ledger); a forged session cookie or session row opens nothing; a disabled
account's session ends; a TOTP code is good once."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from datetime import timedelta

import pytest

from auditor.home import Vault
from auditor.staff.accounts import StaffAccounts
from tests.staff.conftest import code_at, staff_cli  # noqa: F401  (the fixture)
from tests.web.conftest import csrf_of, plant, sign_in

PASSWORD = "tangerine lighthouse"
MALLORY = "plum orchard 42"


@pytest.fixture
def office(staff_cli, clock, tmp_path):  # noqa: F811
    """A vault with an admin (alice) and a viewer (mallory, the attacker), made through the CLI."""
    assert staff_cli("init", "--no-passphrase", clock=clock).code == 0
    alice = staff_cli("users", "add", "alice", "--name", "Alice", "--role", "admin", "--password-stdin",
                      input=PASSWORD + "\n", clock=clock).out.strip()
    staff_cli("login", "alice", "--password-stdin", "--totp", code_at(alice, clock.at), input=PASSWORD + "\n", clock=clock)
    mallory = staff_cli("users", "add", "mallory", "--name", "Mallory", "--role", "viewer", "--password-stdin",
                        input=MALLORY + "\n", clock=clock).out.strip()
    assert alice and mallory
    staff_cli("logout", clock=clock)
    clock.at += timedelta(seconds=30)
    return {"home": tmp_path / "home", "alice": alice, "mallory": mallory}


def sql(home, statement: str, *args) -> list:
    with closing(sqlite3.connect(home / "records.db")) as db, db:
        return db.execute(statement, args).fetchall()


def login(staff_cli, clock, user, password, uri):  # noqa: F811
    return staff_cli("login", user, "--password-stdin", "--totp", code_at(uri, clock.at), input=password + "\n",
                     clock=clock)


def test_a_role_given_in_the_database_is_refused_and_named_by_audit_verify(office, staff_cli, clock):  # noqa: F811
    sql(office["home"], "UPDATE staff_accounts SET roles = 'admin' WHERE user_name = 'mallory'")
    done = login(staff_cli, clock, "mallory", MALLORY, office["mallory"])
    assert done.code == 2 and "sign-in refused" in done.err
    [(account_id,)] = sql(office["home"], "SELECT id FROM staff_accounts WHERE user_name = 'mallory'")
    verify = staff_cli("audit", "verify", clock=clock)
    assert verify.code == 1
    assert f"staff_accounts row {account_id} was edited behind the gateway" in verify.out + verify.err


def test_a_password_hash_copied_over_the_admin_s_opens_nothing(office, staff_cli, clock):  # noqa: F811
    [(mallory_hash,)] = sql(office["home"], "SELECT password_hash FROM staff_accounts WHERE user_name = 'mallory'")
    sql(office["home"], "UPDATE staff_accounts SET password_hash = ? WHERE user_name = 'alice'", mallory_hash)
    assert login(staff_cli, clock, "alice", MALLORY, office["alice"]).code == 2
    assert staff_cli("audit", "verify", clock=clock).code == 1


def test_a_lock_lifted_in_the_database_stays_locked(office, staff_cli, clock):  # noqa: F811
    for _ in range(5):
        staff_cli("login", "alice", "--password-stdin", "--totp", "000000", input="guess guess\n", clock=clock)
    sql(office["home"], "UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL WHERE user_name = 'alice'")
    assert login(staff_cli, clock, "alice", PASSWORD, office["alice"]).code == 2


def test_an_account_inserted_in_the_database_cannot_sign_in(office, staff_cli, clock):  # noqa: F811
    columns = "roles, data_key_id, full_name, password_hash, totp_secret, totp_last_step, failed_logins, " \
              "locked_until, created_at, disabled_at, seal"
    sql(office["home"], f"INSERT INTO staff_accounts (id, user_name, {columns}) SELECT 99, 'eve', {columns} "
                        "FROM staff_accounts WHERE user_name = 'mallory'")
    assert login(staff_cli, clock, "eve", MALLORY, office["mallory"]).code == 2
    verify = staff_cli("audit", "verify", clock=clock)
    assert verify.code == 1 and "staff_accounts row 99 was inserted behind the gateway" in verify.out + verify.err


def test_a_totp_secret_copied_from_another_account_does_not_open(office, staff_cli, clock):  # noqa: F811
    [(secret,)] = sql(office["home"], "SELECT totp_secret FROM staff_accounts WHERE user_name = 'mallory'")
    sql(office["home"], "UPDATE staff_accounts SET totp_secret = ? WHERE user_name = 'alice'", secret)
    done = login(staff_cli, clock, "alice", PASSWORD, office["mallory"])  # mallory's code for alice's account
    assert done.code == 2 and "signed in" not in done.out


@pytest.fixture
def browser_app(office, clock):
    from starlette.testclient import TestClient

    from auditor.web.app import create_app

    vault = Vault.open(office["home"], clock=clock)
    with TestClient(create_app(vault, clock=clock), follow_redirects=False) as client:
        yield vault, client
    vault.close()


class Person:
    def __init__(self, user, password, uri):
        self.user, self.password, self.uri = user, password, uri


def test_a_forged_session_cookie_or_session_row_opens_nothing(browser_app, office, clock):
    vault, client = browser_app
    plant(client, "A" * 43)
    assert client.get("/").headers["location"] == "/login"
    # a session row planted for alice, with the hash of a token the attacker chose
    token, now = "attacker-chosen-token", int(clock.at.timestamp() * 1_000_000)  # a fresh session in every way but its seal
    [(alice_id,)] = sql(office["home"], "SELECT id FROM staff_accounts WHERE user_name = 'alice'")
    sql(office["home"], "INSERT INTO staff_sessions (id, token_hash, account_id, kind, stage, created_at, last_seen_at, "
                        "seal) VALUES (7, ?, ?, 'web', 'signed_in', ?, ?, ?)",
        hashlib.sha256(token.encode()).digest(), alice_id, now, now, b"\0" * 32)
    plant(client, token)
    assert client.get("/accounts").headers["location"] == "/login"
    assert sql(office["home"], "SELECT count(*) FROM staff_sessions WHERE id = 7") == [(0,)]  # ended, and audited


def test_a_stolen_session_of_a_disabled_account_ends(browser_app, office, clock):
    vault, client = browser_app
    sign_in(client, Person("mallory", MALLORY, office["mallory"]), clock)
    assert client.get("/").status_code == 200
    alice = next(a for a in StaffAccounts(vault).list() if a.user_name == "alice")
    StaffAccounts(vault).disable("mallory", alice)
    assert client.get("/").headers["location"] == "/login"
    sql(office["home"], "UPDATE staff_accounts SET disabled_at = NULL WHERE user_name = 'mallory'")  # re-enabled by hand
    form = client.get("/login")
    done = client.post("/login", data={"user": "mallory", "password": MALLORY, "csrf_token": csrf_of(form.text)})
    assert done.status_code == 401


def test_a_code_seen_over_a_shoulder_is_refused_after_its_use(browser_app, office, clock):
    from starlette.testclient import TestClient

    vault, client = browser_app
    code = code_at(office["mallory"], clock.at)
    form = client.get("/login")
    client.post("/login", data={"user": "mallory", "password": MALLORY, "csrf_token": csrf_of(form.text)})
    assert client.post("/login/code", data={"code": code, "csrf_token": csrf_of(form.text)}).headers["location"] == "/"
    with TestClient(client.app, follow_redirects=False) as thief:  # the same password, the code seen being typed
        form = thief.get("/login")
        thief.post("/login", data={"user": "mallory", "password": MALLORY, "csrf_token": csrf_of(form.text)})
        replay = thief.post("/login/code", data={"code": code, "csrf_token": csrf_of(form.text)})
        assert replay.status_code == 401 and "auditor_session" not in thief.cookies
