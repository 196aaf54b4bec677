"""Vault settings the rest of the auditor reads: the organisation's time zone.

The time zone given to `auditor ingest --tz` is kept (until changed) as the setting
"organisation_timezone", an IANA name; findings, reports and day boundaries use it
(../shared/spec/interchange.md, "Command-line contract")."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from auditor.errors import InputError
from auditor.vault.records import VaultSetting

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway import AccessGateway

ORGANISATION_TIMEZONE = "organisation_timezone"


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or InputError."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(f"unknown time zone {name!r}: give an IANA name such as America/New_York") from None


def organisation_timezone(engine: Engine) -> ZoneInfo | None:
    """The organisation's time zone, or None when no ingest has set it yet."""
    with engine.connect() as conn:
        name = conn.scalar(select(VaultSetting.value).where(VaultSetting.name == ORGANISATION_TIMEZONE))
    return time_zone(name) if name else None


def set_organisation_timezone(gateway: "AccessGateway", zone: ZoneInfo) -> str | None:
    """Store `zone` as the organisation's time zone, through the gateway as svc:import (audited, and
    recorded in the ledger: the day boundaries of every rule hang on it); returns the name it
    replaced (None if unset)."""
    from auditor.vault.gateway import AccessContext

    return gateway.set_setting(AccessContext.service("import"), ORGANISATION_TIMEZONE, zone.key)
