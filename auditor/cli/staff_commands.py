"""auditor users add | list | disable | enable | reset-password | roles; auditor login; auditor logout.

The first admin of a vault is added by whoever holds the home, with no one signed in; every later
`users` command needs an admin signed in with `auditor login` (password and TOTP code)."""

from __future__ import annotations

import json
import sys

import click

from auditor.cli import cli
from auditor.cli.session import home_of, opened
from auditor.cli.signed_in import ask_password as _password, require_role
from auditor.errors import InputError
from auditor.staff import roles as staff_roles
from auditor.staff.accounts import Enrolment, StaffAccounts
from auditor.staff.sessions import StaffSessions
from auditor.staff.signin import StaffSignIn
from auditor.staff.token_file import read_token, remove_token, token_path, write_token

_ROLES_HELP = "; ".join(f"{name}: {what}" for name, what in staff_roles.ROLES.items())
_PASSWORD_STDIN = click.option("--password-stdin", is_flag=True,
                               help="Read the password from the first line of standard input (for scripts).")


def _enrolled(enrolment: Enrolment) -> None:
    click.echo(f"Load this URI into {enrolment.account.user_name}'s authenticator app (a QR code of it, or the "
               "secret typed in); it holds the TOTP secret and is shown only now:", err=True)
    click.echo(enrolment.otpauth_uri)


@cli.group()
def users():
    """Staff accounts: who signs in to the web app and the CLI, with which roles."""


@users.command("add")
@click.argument("user")
@click.option("--name", "full_name", required=True, help="The person's full name.")
@click.option("--role", "roles", multiple=True, required=True, help=f"A role (repeat for more). {_ROLES_HELP}.")
@_PASSWORD_STDIN
@click.pass_context
def users_add(ctx, user, full_name, roles, password_stdin):
    """Add the account USER and print its otpauth:// URI (TOTP, RFC 6238).

    On a vault without an admin, whoever holds the home adds the first account, which must hold the
    admin role; afterwards an admin must be signed in (auditor login)."""
    password = _password(password_stdin, "Password for the new account", confirm=True)
    with opened(ctx) as vault:
        accounts = StaffAccounts(vault)
        by = require_role(ctx, vault, staff_roles.ADMIN).account if accounts.has_active_admin() else None
        enrolment = accounts.add(user, full_name, tuple(roles), password, by)
    click.echo(f"account {enrolment.account.user_name} added: {', '.join(enrolment.account.roles)}", err=True)
    _enrolled(enrolment)


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def users_list(ctx, fmt):
    """Every staff account: user name, full name, roles, status."""
    with opened(ctx) as vault:
        require_role(ctx, vault, staff_roles.ADMIN)
        accounts = StaffAccounts(vault)
        listed = accounts.list()
        names = accounts.full_names(listed)
        now = vault.clock.now()
    rows = [{"user": a.user_name, "name": names[a.id], "roles": list(a.roles), "status": a.status(now),
             "created_at": a.created_at.isoformat()} for a in listed]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['user']}\t{r['name']}\t{','.join(r['roles'])}\t{r['status']}")
    click.echo(f"{len(rows)} account(s)", err=True)


@users.command("disable")
@click.argument("user")
@click.pass_context
def users_disable(ctx, user):
    """Disable the account USER and end its sessions."""
    with opened(ctx) as vault:
        by = require_role(ctx, vault, staff_roles.ADMIN).account
        account = StaffAccounts(vault).disable(user, by)
    click.echo(f"account {account.user_name} disabled")


@users.command("enable")
@click.argument("user")
@click.pass_context
def users_enable(ctx, user):
    """Enable the disabled account USER again."""
    with opened(ctx) as vault:
        by = require_role(ctx, vault, staff_roles.ADMIN).account
        account = StaffAccounts(vault).enable(user, by)
    click.echo(f"account {account.user_name} enabled")


@users.command("reset-password")
@click.argument("user")
@_PASSWORD_STDIN
@click.option("--new-totp", is_flag=True, help="Also a new TOTP secret (a lost phone): prints its otpauth:// URI.")
@click.pass_context
def users_reset_password(ctx, user, password_stdin, new_totp):
    """Give USER a new password (lifting a lock and ending its sessions)."""
    password = _password(password_stdin, f"New password for {user}", confirm=True)
    with opened(ctx) as vault:
        by = require_role(ctx, vault, staff_roles.ADMIN).account
        done = StaffAccounts(vault).reset_password(user, password, by, new_code=new_totp)
    if isinstance(done, Enrolment):
        click.echo(f"account {done.account.user_name}: new password and TOTP secret", err=True)
        _enrolled(done)
    else:
        click.echo(f"account {done.user_name}: new password")


@users.command("roles")
@click.argument("user")
@click.argument("roles", nargs=-1, required=True)
@click.pass_context
def users_roles(ctx, user, roles):
    """Set the roles of USER (they replace its roles). The roles: admin, privacy_officer,
    investigator, roi_coordinator, records_manager, viewer."""
    with opened(ctx) as vault:
        by = require_role(ctx, vault, staff_roles.ADMIN).account
        account = StaffAccounts(vault).set_roles(user, tuple(roles), by)
    click.echo(f"account {account.user_name}: {', '.join(account.roles)}")


@cli.command("login")
@click.argument("user")
@_PASSWORD_STDIN
@click.option("--totp", "code", help="The 6-digit code of the authenticator app (asked for if not given).")
@click.pass_context
def login(ctx, user, password_stdin, code):
    """Sign in as USER (password and TOTP code) for the commands that follow.

    The session ends after 15 minutes without a command and after 12 hours in any case (45 CFR
    164.312(a)(2)(iii)); its token is kept in a file only this OS account can read."""
    password = _password(password_stdin, "Password", confirm=False)
    if code is None:
        if not sys.stdin.isatty():
            raise InputError("no terminal to ask the code on: give --totp")
        code = click.prompt("TOTP code")
    with opened(ctx) as vault:
        session = StaffSignIn(vault).sign_in(user, password, code, "cli")
        path = write_token(home_of(ctx), session.token)
    click.echo(f"signed in as {user.strip()} (session {session.session_id}; token in {path})")


@cli.command("logout")
@click.pass_context
def logout(ctx):
    """End this OS account's session on the vault and remove its token."""
    home = home_of(ctx)
    token = read_token(home)
    if token is None:
        click.echo("not signed in")
        return
    with opened(ctx) as vault:
        ended = StaffSessions(vault).sign_out(token, "cli")
    remove_token(home)
    click.echo("signed out" if ended else f"the session had ended already; {token_path(home)} removed")
