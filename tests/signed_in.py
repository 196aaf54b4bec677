"""Signing a test's CLI in as a member of the privacy office, as `auditor login` does it: the staff of
a test home (one account per role, made on first use) and a session opened at the command's time,
its token in the token file the CLI reads. Nothing is patched: the command finds the session as it
finds any, checks its account's roles and records its user name.

    auditor("cases", "review", "1", clock=clock, user="officer")   # tests/conftest.py's runner
    sign_in(home, "coordinator", at)                                  # any other runner, first
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pyotp
from argon2 import Parameters, Type
from sqlalchemy import select

from auditor.clock import Clock, FixedClock, SystemClock
from auditor.errors import SignInRefused
from auditor.home import Vault, resolve_home
from auditor.staff.accounts import StaffAccounts
from auditor.staff.desk import ACCOUNTS
from auditor.staff.passwords import PasswordHashing
from auditor.staff.sessions import StaffSessions
from auditor.staff.signin import StaffSignIn
from auditor.staff.token_file import read_token, write_token

PASSWORD = "tangerine lighthouse"
# user name -> (full name, roles): one account per role, and a second records manager to witness a purge
STAFF = {
    "admin": ("Ada Admin", ("admin",)),
    "officer": ("Olivia Officer", ("privacy_officer",)),
    "investigator": ("Ian Investigator", ("investigator",)),
    "coordinator": ("Rita Coordinator", ("roi_coordinator",)),
    "records": ("Rex Records", ("records_manager",)),
    "witness": ("Wanda Witness", ("records_manager",)),
    "viewer": ("Vic Viewer", ("viewer",)),
    "analyst": ("Ana Analyst", ("investigator",)),  # session-wide fixtures' (the system clock: its codes are late ones)
}
# tests only: Argon2id at its smallest cost (the accounts' real cost is RFC 9106's, about 0.1 s a hash)
FAST_HASHING = PasswordHashing(Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1,
                                          memory_cost=8, parallelism=1))


def time_of(clock: Clock | None) -> datetime:
    """The time a command run with `clock` starts at (a FixedClock's, without advancing it)."""
    clock = clock or SystemClock()
    return getattr(clock, "at", None) or clock.now()


def code_of(vault: Vault, user: str, at: datetime) -> str:
    """The TOTP code `user`'s authenticator app shows at `at` (the secret read back from its sealed column)."""
    with vault.records.connect() as conn:
        row = conn.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.totp_secret).where(ACCOUNTS.c.user_name == user)).one()
    return pyotp.TOTP(vault.envelope.open(row.totp_secret, "staff_accounts", "totp_secret", row.id)).at(at)


def totp_code(home: Path | str | None, user: str, at: datetime) -> str:
    """The code of `user` of STAFF (its account made if the home lacks it) at `at`: what that person
    types when a command asks for it (a purge's witness)."""
    vault = Vault.open(resolve_home(home), os.environ.get("AUDITOR_PASSPHRASE") or None, clock=FixedClock(at))
    try:
        add_staff(vault)
        return code_of(vault, user, at)
    finally:
        vault.close()


def add_staff(vault: Vault) -> None:
    """The accounts of STAFF that the vault lacks (the admin first, added from the home)."""
    accounts = StaffAccounts(vault, FAST_HASHING)
    existing = {a.user_name: a for a in accounts.list()}
    admin = existing.get("admin") or accounts.add("admin", *STAFF["admin"], PASSWORD, None).account
    for user, (name, roles) in STAFF.items():
        if user not in existing and user != "admin":
            accounts.add(user, name, roles, PASSWORD, admin)


def sign_in(home: Path | str | None, user: str, at: datetime | None = None) -> None:
    """`user` (a name of STAFF) signed in to the CLI on `home` (None: $AUDITOR_HOME) at `at` (now): the
    token file holds that account's session, the one it signed in with before if still open at `at`
    (a TOTP code is good once, so switching between accounts reuses their sessions), else a new one."""
    at, home = at or SystemClock().now(), resolve_home(home)
    vault = Vault.open(home, os.environ.get("AUDITOR_PASSPHRASE") or None, clock=FixedClock(at))
    try:
        token = _TOKENS.get((home, user))
        if token is None or not _still_open(vault, token, user, at):
            add_staff(vault)
            try:
                token = StaffSignIn(vault, FAST_HASHING).sign_in(user, PASSWORD, code_of(vault, user, at), "cli").token
            except SignInRefused:
                raise AssertionError(f"{user} could not sign in at {at}: an earlier time than a sign-in before it "
                                     "(a TOTP code is good once), or the account is disabled or locked") from None
            _TOKENS[(home, user)] = token
        if read_token(home) != token:
            write_token(home, token)
    finally:
        vault.close()


_TOKENS: dict[tuple[Path, str], str] = {}  # the sessions the tests' accounts signed in with, by home and user


def _still_open(vault: Vault, token: str, user: str, at: datetime) -> bool:
    sessions = StaffSessions(vault)
    found = sessions.find(token, "cli")
    return (found is not None and found[1] is not None and found[1].user_name == user
            and sessions.ended(found[0], at) is None)
