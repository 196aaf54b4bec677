"""Account administration: the first admin, who may change accounts after, the last admin kept, every
change an audit event and a ledger row, the TOTP secret never in the clear."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from auditor.errors import InputError, NotFound, NotPermitted
from auditor.staff.accounts import StaffAccounts
from auditor.staff.desk import ACCOUNTS
from auditor.staff.sessions import StaffSessions
from auditor.staff.signin import StaffSignIn
from tests.staff.conftest import ADMIN_PASSWORD, code_at, secret_of
from tests.staff.helpers import staff_events, verified


def test_the_first_account_must_be_an_admin(vault):
    with pytest.raises(InputError, match="first account must hold the admin role"):
        StaffAccounts(vault).add("vic", "Vic Viewer", ("viewer",), "plum-sky-7", None)
    assert StaffAccounts(vault).list() == []


def test_once_an_admin_exists_no_one_adds_accounts_without_signing_in(vault, admin):
    with pytest.raises(NotPermitted, match="sign in as an admin"):
        StaffAccounts(vault).add("mallory", "Mallory", ("admin",), "plum-sky-7", None)
    assert [a.user_name for a in StaffAccounts(vault).list()] == ["alice"]


def test_an_admin_adds_accounts_and_a_non_admin_cannot(vault, admin):
    accounts = StaffAccounts(vault)
    bob = accounts.add("bob", "Bob Officer", ("privacy_officer", "viewer"), "plum-sky-7", admin.account).account
    assert bob.roles == ("privacy_officer", "viewer")
    with pytest.raises(NotPermitted, match="only an admin"):
        accounts.add("carol", "Carol", ("viewer",), "plum-sky-8", bob)
    with pytest.raises(InputError, match="exists already"):
        accounts.add("bob", "Bob Again", ("viewer",), "plum-sky-9", admin.account)
    with pytest.raises(InputError, match="unknown role"):
        accounts.add("dan", "Dan", ("superuser",), "plum-sky-9", admin.account)
    assert accounts.full_names(accounts.list()) == {admin.account.id: "Alice Admin", bob.id: "Bob Officer"}


def test_the_totp_secret_and_the_name_are_sealed(vault, admin):
    with vault.records.connect() as conn:
        row = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.user_name == "alice")).one()
    secret = secret_of(admin.otpauth_uri)
    stored = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for v in row)
    assert secret.encode() not in stored and b"Alice Admin" not in stored
    assert vault.envelope.open(row.totp_secret, "staff_accounts", "totp_secret", row.id) == secret
    assert row.password_hash.startswith("$argon2id$") and ADMIN_PASSWORD.encode() not in stored


def test_the_last_active_admin_is_neither_disabled_nor_demoted(vault, admin):
    accounts = StaffAccounts(vault)
    with pytest.raises(InputError, match="last active admin"):
        accounts.disable("alice", admin.account)
    with pytest.raises(InputError, match="last active admin"):
        accounts.set_roles("alice", ("viewer",), admin.account)
    accounts.add("bert", "Bert Admin", ("admin",), "plum-sky-7", admin.account)
    assert accounts.set_roles("alice", ("viewer",), admin.account).roles == ("viewer",)


def test_disabling_ends_the_sessions_and_enabling_lets_the_account_back(vault, admin, clock):
    accounts = StaffAccounts(vault)
    bob = accounts.add("bob", "Bob", ("viewer",), "plum-sky-7", admin.account)
    token = StaffSignIn(vault).sign_in("bob", "plum-sky-7", code_at(bob.otpauth_uri, clock.at), "cli").token
    assert StaffSessions(vault).resolve(token, "cli").account.user_name == "bob"
    assert accounts.disable("bob", admin.account).disabled_at == clock.at
    with pytest.raises(Exception, match="not signed in"):
        StaffSessions(vault).resolve(token, "cli")
    with pytest.raises(NotFound):
        accounts.disable("nobody", admin.account)
    assert accounts.enable("bob", admin.account).disabled_at is None


def test_a_password_reset_lifts_the_lock_ends_sessions_and_may_renew_the_secret(vault, admin, clock):
    accounts = StaffAccounts(vault)
    renewed = accounts.reset_password("alice", "new-plum-sky", admin.account, new_code=True)
    assert secret_of(renewed.otpauth_uri) != secret_of(admin.otpauth_uri)
    StaffSignIn(vault).sign_in("alice", "new-plum-sky", code_at(renewed.otpauth_uri, clock.at), "cli")
    with pytest.raises(InputError, match="at least 8"):
        accounts.reset_password("alice", "short", admin.account)


def test_every_change_is_an_audit_event_naming_the_admin_and_the_rows_verify(vault, admin):
    accounts = StaffAccounts(vault)
    accounts.add("bob", "Bob", ("viewer",), "plum-sky-7", admin.account)
    accounts.set_roles("bob", ("investigator",), admin.account)
    accounts.disable("bob", admin.account)
    accounts.enable("bob", admin.account)
    accounts.reset_password("bob", "plum-sky-8", admin.account)
    assert staff_events(vault) == [
        ("create", "success", "staff_account", "account alice added with role(s) admin by the holder of the vault home"),
        ("create", "success", "staff_account", "account bob added with role(s) viewer by admin alice"),
        ("update", "success", "staff_account", "account bob role(s) investigator (were viewer) by admin alice"),
        ("update", "success", "staff_account", "account bob disabled by admin alice; 0 session(s) ended"),
        ("update", "success", "staff_account", "account bob enabled by admin alice"),
        ("update", "success", "staff_account", "account bob password reset by admin alice; 0 session(s) ended"),
    ]
    assert verified(vault).ok
