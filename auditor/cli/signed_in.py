"""Who is signed in to the CLI: the staff account of the session whose token `auditor login` wrote
(auditor.staff.token_file). Commands that act for a person call `authenticated_account`, or
`require_role` when only some roles may act; the audit log then names that account."""

from __future__ import annotations

import click

from auditor.cli.session import home_of, open_vault
from auditor.errors import NotPermitted, SignInRequired
from auditor.home import Vault
from auditor.staff.sessions import SignedIn, StaffSessions
from auditor.staff.token_file import read_token, remove_token


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
