"""Opening the vault for a command: the home, the passphrase (AUDITOR_PASSPHRASE or a prompt)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click

from auditor.clock import Clock
from auditor.errors import ConfigurationError, InputError, KeyringError
from auditor.home import Vault, resolve_home
from auditor.vault.settings import organisation_timezone


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


def open_vault(ctx: click.Context, check_schema: bool = True) -> Vault:
    home = home_of(ctx)
    passphrase = passphrase_from_env()
    clock = clock_of(ctx)
    try:
        return Vault.open(home, passphrase, clock=clock, check_schema=check_schema)
    except KeyringError as exc:
        if passphrase is None and "protected by a passphrase" in str(exc) and sys.stdin.isatty():
            return Vault.open(home, click.prompt("Keyring passphrase", hide_input=True), clock=clock,
                              check_schema=check_schema)
        raise


def day_option(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option as a date (None stays None), or one clear InputError naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a YYYY-MM-DD date") from None


def local_today(vault: Vault) -> date:
    """Today in the organisation's time zone (UTC until an ingest sets one)."""
    tz = organisation_timezone(vault.records)
    now = vault.clock.now()
    return now.astimezone(tz).date() if tz else now.date()


@contextmanager
def opened(ctx: click.Context) -> Iterator[Vault]:
    """The vault for one command, closed however the command ends."""
    vault = open_vault(ctx)
    try:
        yield vault
    finally:
        vault.close()
