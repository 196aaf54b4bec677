"""auditor users, login and logout through the CLI: the first admin from the home, then only a
signed-in admin; the token file private to its OS account; one line and exit 2 for every refusal."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone

import pytest

from auditor.clock import FixedClock
from tests.staff.conftest import code_at, only_file

PASSWORD = "tangerine lighthouse"


@pytest.fixture
def clock():
    return FixedClock(datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc))


@pytest.fixture
def signed_in_admin(staff_cli, clock):
    """init, the first admin added from the home, and signed in: returns alice's otpauth URI."""
    assert staff_cli("init", "--no-passphrase", clock=clock).code == 0
    added = staff_cli("users", "add", "alice", "--name", "Alice Admin", "--role", "admin", "--password-stdin",
                      input=PASSWORD + "\n", clock=clock)
    assert added.code == 0, added.err
    uri = added.out.strip()
    done = staff_cli("login", "alice", "--password-stdin", "--totp", code_at(uri, clock.at), input=PASSWORD + "\n",
                     clock=clock)
    assert done.code == 0 and done.out.startswith("signed in as alice"), done.err
    return uri


def test_users_add_prints_the_otpauth_uri_of_the_first_admin(staff_cli, clock):
    staff_cli("init", "--no-passphrase", clock=clock)
    done = staff_cli("users", "add", "alice", "--name", "Alice Admin", "--role", "admin", "--password-stdin",
                     input=PASSWORD + "\n", clock=clock)
    assert done.code == 0
    assert done.out.startswith("otpauth://totp/auditor:alice?secret=") and done.out.count("\n") == 1
    assert "account alice added: admin" in done.err and "shown only now" in done.err


def test_after_the_first_admin_users_commands_need_a_signed_in_admin(staff_cli, clock):
    staff_cli("init", "--no-passphrase", clock=clock)
    staff_cli("users", "add", "alice", "--name", "Alice", "--role", "admin", "--password-stdin",
              input=PASSWORD + "\n", clock=clock)
    for args in (("users", "add", "bob", "--name", "Bob", "--role", "viewer", "--password-stdin"),
                 ("users", "list"), ("users", "disable", "alice"), ("users", "roles", "alice", "viewer"),
                 ("users", "reset-password", "alice", "--password-stdin"), ("users", "enable", "alice")):
        done = staff_cli(*args, input="plum-sky-7\n", clock=clock)
        assert (done.code, done.err) == (2, "auditor: not signed in: run auditor login USER\n"), args


def test_a_signed_in_admin_runs_every_users_command(staff_cli, clock, signed_in_admin):
    run = lambda *a, input=None: staff_cli(*a, input=input, clock=clock)  # noqa: E731
    bob = run("users", "add", "bob", "--name", "Bob Officer", "--role", "privacy_officer", "--role", "viewer",
              "--password-stdin", input="plum-sky-7\n")
    assert bob.code == 0 and bob.out.startswith("otpauth://totp/auditor:bob?")
    assert run("users", "roles", "bob", "investigator").out == "account bob: investigator\n"
    assert run("users", "disable", "bob").out == "account bob disabled\n"
    listed = json.loads(run("users", "list", "--format", "json").out)
    assert [(u["user"], u["name"], u["roles"], u["status"]) for u in listed] == [
        ("alice", "Alice Admin", ["admin"], "active"), ("bob", "Bob Officer", ["investigator"], "disabled")]
    assert run("users", "enable", "bob").out == "account bob enabled\n"
    assert run("users", "list").out.splitlines()[1] == "bob\tBob Officer\tinvestigator\tactive"
    assert run("users", "reset-password", "bob", "--password-stdin", input="plum-sky-8\n").out == "account bob: new password\n"
    renewed = run("users", "reset-password", "bob", "--password-stdin", "--new-totp", input="plum-sky-9\n")
    assert renewed.code == 0 and renewed.out.startswith("otpauth://totp/auditor:bob?")
    assert run("audit", "verify").code == 0


def test_refusals_are_one_line_and_exit_2(staff_cli, clock, signed_in_admin):
    run = lambda *a, input=None: staff_cli(*a, input=input, clock=clock)  # noqa: E731
    cases = {
        ("users", "add", "bob", "--name", "Bob", "--role", "boss", "--password-stdin"): "unknown role(s) boss",
        ("users", "add", "bob", "--name", "Bob", "--role", "viewer", "--password-stdin"): "at least 8",
        ("users", "disable", "alice"): "alice is the last active admin",
        ("users", "disable", "nobody"): "no staff account named nobody",
        ("users", "roles", "alice", "viewer"): "alice is the last active admin",
    }
    for args, words in cases.items():
        done = run(*args, input="short\n")
        assert done.code == 2 and words in done.err and done.err.count("\n") == 1, (args, done.err)


def test_a_non_admin_is_refused_the_users_commands(staff_cli, clock, signed_in_admin):
    bob = staff_cli("users", "add", "bob", "--name", "Bob", "--role", "viewer", "--password-stdin",
                    input="plum-sky-7\n", clock=clock).out.strip()
    assert staff_cli("login", "bob", "--password-stdin", "--totp", code_at(bob, clock.at), input="plum-sky-7\n",
                     clock=clock).code == 0
    done = staff_cli("users", "list", clock=clock)
    assert (done.code, done.err) == (2, "auditor: bob does not hold the role admin\n")


def test_login_refuses_a_wrong_code_and_without_a_terminal_asks_for_flags(staff_cli, clock, signed_in_admin):
    clock.at += timedelta(seconds=30)
    wrong = staff_cli("login", "alice", "--password-stdin", "--totp", "12345", input=PASSWORD + "\n", clock=clock)
    assert wrong.code == 2 and "sign-in refused" in wrong.err and "code" in wrong.err
    no_code = staff_cli("login", "alice", "--password-stdin", input=PASSWORD + "\n", clock=clock)
    assert (no_code.code, no_code.err) == (2, "auditor: no terminal to ask the code on: give --totp\n")
    empty = staff_cli("login", "alice", "--password-stdin", "--totp", "123456", input="", clock=clock)
    assert empty.code == 2 and "standard input held no password" in empty.err


def test_the_token_file_is_private_and_a_shared_one_is_refused(staff_cli, clock, signed_in_admin):
    token = only_file(staff_cli.runtime)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    token.chmod(0o644)
    done = staff_cli("users", "list", clock=clock)
    assert done.code == 2 and "is not private to this account (mode 644)" in done.err


def test_an_idle_cli_session_ends_and_its_token_goes(staff_cli, clock, signed_in_admin):
    clock.at += timedelta(minutes=15)
    done = staff_cli("users", "list", clock=clock)
    assert (done.code, done.err) == (2, "auditor: signed out: 15 minutes without activity; run auditor login USER\n")
    assert list(staff_cli.runtime.iterdir()) == []


def test_logout_ends_the_session(staff_cli, clock, signed_in_admin):
    assert staff_cli("logout", clock=clock).out == "signed out\n"
    assert list(staff_cli.runtime.iterdir()) == []
    assert staff_cli("logout", clock=clock).out == "not signed in\n"
    assert staff_cli("users", "list", clock=clock).code == 2


def test_without_a_runtime_folder_the_token_is_kept_in_the_home(staff_cli, clock, monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    staff_cli("init", "--no-passphrase", clock=clock)
    uri = staff_cli("users", "add", "alice", "--name", "Alice", "--role", "admin", "--password-stdin",
                    input=PASSWORD + "\n", clock=clock).out.strip()
    staff_cli("login", "alice", "--password-stdin", "--totp", code_at(uri, clock.at), input=PASSWORD + "\n", clock=clock)
    [token] = (tmp_path / "home").glob("auditor-session-*.token")
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert staff_cli("users", "list", clock=clock).code == 0
