"""Who is signed in to the CLI: the staff account of the session whose token `auditor login` wrote
(auditor.staff.token_file). Commands that act for a person call `authenticated_account`, or
`require_role` when only some roles may act; the audit log then names that account. The free-text
actors of older versions (--by, --approver, --performer, --author) are refused with one line
(`gone`), and a second person (a purge's witness) confirms with their own password and code."""

from __future__ import annotations

import sys

import click

from auditor.cli.session import home_of, open_vault
from auditor.errors import InputError, NotPermitted, SignInRequired
from auditor.home import Vault
from auditor.staff.desk import Account
from auditor.staff.sessions import SignedIn, StaffSessions
from auditor.staff.signin import StaffSignIn
from auditor.staff.token_file import read_token, remove_token

SIGN_IN = "sign in with auditor login USER"


def authenticated_account(ctx: click.Context, vault: Vault | None = None) -> SignedIn:
    """The signed-in account of this OS account's session on this home (its idle time restarted), or
    SignInRequired (one line: run auditor login). `vault`: the command's, if it opened one already."""
    vault = vault or open_vault(ctx)
    home = home_of(ctx)
    token = read_token(home)
    if token is None:
        raise SignInRequired("not signed in: run auditor login USER")
    try:
        return StaffSessions(vault).resolve(token, "cli")
    except SignInRequired as exc:
        remove_token(home)
        raise SignInRequired(f"{exc}; run auditor login USER") from None


def require_role(ctx: click.Context, vault: Vault, *roles: str) -> SignedIn:
    """The signed-in account, if it holds one of `roles`; else NotPermitted naming them."""
    signed_in = authenticated_account(ctx, vault)
    if not signed_in.account.holds(*roles):
        raise NotPermitted(f"{signed_in.account.user_name} does not hold the role {' or '.join(roles)}")
    return signed_in


def acting(ctx: click.Context, vault: Vault, *roles: str) -> str:
    """The user name of the signed-in account, which must hold one of `roles`: who the change records."""
    return require_role(ctx, vault, *roles).account.user_name


def gone(option: str, instead: str = SIGN_IN):
    """An option of older versions that named who acted as free text: refused with one line, first."""

    def refuse(ctx: click.Context, param: click.Parameter, value) -> None:
        if value is not None:
            raise click.UsageError(f"{option} is gone: {instead}")

    return click.option(option, hidden=True, expose_value=False, is_eager=True, callback=refuse)


def ask_password(from_stdin: bool, prompt: str, confirm: bool, option: str = "--password-stdin") -> str:
    """A password from the first line of standard input (`option` given) or asked at the terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise InputError(f"{option}: standard input held no password")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InputError(f"no terminal to ask the password on: give {option}")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def second_person(vault: Vault, user: str, password: str, code: str | None, first: Account, what: str) -> Account:
    """Another staff account than `first` present at this terminal, confirmed by its own password and
    TOTP code (lockout and audit as for any sign-in); the session that proves it is ended at once, its
    event naming `what` the person confirmed. SignInRefused, or InputError for `first` itself."""
    if user.strip() == first.user_name:
        raise InputError(f"{first.user_name} cannot also be the {what}: another account confirms it")
    if code is None:
        if not sys.stdin.isatty():
            raise InputError(f"no terminal to ask the {what}'s code on: give the code")
        code = click.prompt(f"TOTP code of {user.strip()}")
    session = StaffSignIn(vault).sign_in(user, password, code, "cli")
    sessions = StaffSessions(vault)
    signed_in = sessions.resolve(session.token, "cli")
    sessions.end(session.session_id, f"{signed_in.account.user_name} confirmed as the {what} of an action of "
                                     f"{first.user_name}; session closed")
    return signed_in.account
