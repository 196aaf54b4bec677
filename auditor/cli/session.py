"""Opening the vault for a command: the home, the passphrase (AUDITOR_PASSPHRASE or a prompt)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar

import click

from auditor.clock import Clock
from auditor.crypto.keyring import Keyring
from auditor.errors import ConfigurationError, InputError, KeyringError
from auditor.home import Vault, resolve_home
from auditor.vault.gateway.context import Operator

T = TypeVar("T")


def home_of(ctx: click.Context) -> Path:
    return resolve_home(ctx.obj.get("home"))


def clock_of(ctx: click.Context) -> Clock:
    """The command's clock (the system's, or the one a test gave `auditor.cli.main`)."""
    return ctx.find_root().obj["clock"]


def passphrase_from_env() -> str | None:
    return os.environ.get("AUDITOR_PASSPHRASE") or None


def new_passphrase(ask: bool | None) -> str | None:
    """`init`'s passphrase: --no-passphrase wins over AUDITOR_PASSPHRASE; otherwise the environment's,
    or (with --passphrase) one asked for twice. Whether it is strong enough is the keyring's to say."""
    if ask is False:
        return None
    passphrase = passphrase_from_env()
    if passphrase is None and ask:
        if not sys.stdin.isatty():
            raise ConfigurationError("--passphrase needs a terminal, or set AUDITOR_PASSPHRASE")
        passphrase = click.prompt("New keyring passphrase (15 characters or more: a few unrelated words)",
                                  hide_input=True, confirmation_prompt=True)
    return passphrase


def _with_passphrase(load: Callable[[str | None], T]) -> T:
    """`load(passphrase)` with AUDITOR_PASSPHRASE, or with one asked for if the keyring needs it."""
    passphrase = passphrase_from_env()
    try:
        return load(passphrase)
    except KeyringError as exc:
        if passphrase is None and "protected by a passphrase" in str(exc) and sys.stdin.isatty():
            return load(click.prompt("Keyring passphrase", hide_input=True))
        raise


def open_vault(ctx: click.Context, check_schema: bool = True) -> Vault:
    """The vault, its every audit event stamped with the OS account running the command (beside the
    staff account signed in, auditor.cli.signed_in: the OS says which terminal account typed it),
    closed however the command ends (what it appended then gets its signed checkpoint)."""
    home, clock, operator = home_of(ctx), clock_of(ctx), Operator.of_this_process()
    vault = _with_passphrase(lambda passphrase: Vault.open(home, passphrase, clock=clock, check_schema=check_schema,
                                                           operator=operator))
    ctx.call_on_close(vault.close)
    return vault



def keyring_of(ctx: click.Context) -> Keyring:
    """The home's keyring alone (`db upgrade` binds the databases to it before a vault can open)."""
    home, clock = home_of(ctx), clock_of(ctx)
    return _with_passphrase(lambda passphrase: Keyring.load(home / "keyring.json", passphrase, clock))


def begun_month(vault: Vault, month: str):
    """--month YYYY-MM as the organisation's Period; InputError when it is not one, or has not begun
    (a typo in the year judges, records and exports nothing)."""
    from auditor.review.period import month_period

    period = month_period(month, vault.timezone)
    if period.first_day > vault.clock.now().astimezone(vault.timezone).date():
        raise InputError(f"--month {month} has not begun")
    return period


def day_option(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option as a date (None stays None), or one clear InputError naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a YYYY-MM-DD date") from None


@contextmanager
def opened(ctx: click.Context) -> Iterator[Vault]:
    """The vault for one command, closed however the command ends."""
    vault = open_vault(ctx)
    try:
        yield vault
    finally:
        vault.close()
