"""Opening the vault for a command: the home, the passphrase (AUDITOR_PASSPHRASE or a prompt)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from auditor.errors import KeyringError
from auditor.home import Vault, resolve_home


def home_of(ctx: click.Context) -> Path:
    return resolve_home(ctx.obj.get("home"))


def passphrase_from_env() -> str | None:
    return os.environ.get("AUDITOR_PASSPHRASE") or None


def open_vault(ctx: click.Context, check_schema: bool = True) -> Vault:
    home = home_of(ctx)
    passphrase = passphrase_from_env()
    try:
        return Vault.open(home, passphrase, check_schema=check_schema)
    except KeyringError as exc:
        if passphrase is None and "protected by a passphrase" in str(exc) and sys.stdin.isatty():
            return Vault.open(home, click.prompt("Keyring passphrase", hide_input=True), check_schema=check_schema)
        raise
